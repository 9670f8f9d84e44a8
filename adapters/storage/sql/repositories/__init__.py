"""The SQL repositories, one module per aggregate, all written on an `Executor`."""

from agentkeep.adapters.storage.sql.repositories.agents import SqlAgentBios, SqlAgents, SqlProfileMetadata
from agentkeep.adapters.storage.sql.repositories.idempotency import SqlIdempotencyKeys
from agentkeep.adapters.storage.sql.repositories.memories import SqlMemories
from agentkeep.adapters.storage.sql.repositories.messages import SqlMessages
from agentkeep.adapters.storage.sql.repositories.sessions import SqlSessions
from agentkeep.adapters.storage.sql.repositories.users import SqlUsers

__all__ = [
    "SqlAgentBios",
    "SqlAgents",
    "SqlIdempotencyKeys",
    "SqlMemories",
    "SqlMessages",
    "SqlProfileMetadata",
    "SqlSessions",
    "SqlUsers",
]
