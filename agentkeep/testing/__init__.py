"""Test helpers shipped with agentkeep, for its own suites and for users' suites alike.

`agentkeep.testing.strategies` holds Hypothesis strategies that build valid domain entities
(`users()`, `agents()`, `sessions(user_id, agent_id)`, `messages(session_id)`, `memories(agent_id)`,
...) and patches; use them with `from agentkeep.testing.strategies import users, agents`. Every value
they make is stored identically by the memory, SQLite and PostgreSQL adapters.
"""
