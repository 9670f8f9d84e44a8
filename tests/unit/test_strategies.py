"""The shipped strategies' advice on ids holds: a strategy of ids gives a new one per example, a
value gives that one value to every example."""

from __future__ import annotations

import uuid

from hypothesis import given, settings
from hypothesis import strategies as st

from agentkeep.domain.models import Agent, User
from agentkeep.testing.strategies import agents, users


def test_fresh_ids_are_fresh_and_a_fixed_id_is_the_same_in_every_example() -> None:
    fresh: list[uuid.UUID] = []
    fixed: list[uuid.UUID] = []
    fresh_agents: list[str] = []

    @settings(max_examples=40, database=None)
    @given(
        new=users(ids=st.builds(uuid.uuid4)),
        same=users(ids=uuid.uuid4()),
        agent=agents(ids=st.builds(lambda: uuid.uuid4().hex), names=st.builds(lambda: f"a-{uuid.uuid4().hex}")),
    )
    def collect(new: User, same: User, agent: Agent) -> None:
        fresh.append(new.id)
        fixed.append(same.id)
        fresh_agents.append(agent.id)

    collect()
    assert len(fresh) == 40
    assert len(set(fresh)) == len(fresh)
    assert len(set(fresh_agents)) == len(fresh_agents)
    assert len(set(fixed)) == 1
