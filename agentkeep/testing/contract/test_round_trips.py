"""Property: any valid entity written comes back equal, field for field (JSON, text, times)."""

from __future__ import annotations

import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentkeep.domain.ports import Storage, UnitOfWork
from agentkeep.testing.builders import add
from agentkeep.testing.strategies import (
    agent_bios,
    agents,
    memories,
    messages,
    profile_metadata,
    runs,
    sessions,
    users,
)


@settings(
    max_examples=25,
    deadline=None,
    # One storage serves every example: each writes rows under fresh ids and unique names,
    # so the examples do not see each other.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
async def test_any_valid_entity_comes_back_equal(storage: Storage, data: st.DataObject) -> None:
    unique = uuid.uuid4().hex
    new = uuid.uuid4
    user = data.draw(users(ids=new(), email=st.none() | st.just(f"{unique}@example.com")))
    agent = data.draw(agents(ids=unique, names=st.just(f"agent-{unique}")))
    session = data.draw(sessions(user.id, agent.id, name=st.none() | st.just(f"session-{unique}"), ids=new()))
    message = data.draw(messages(session.id, st.none() | st.just(user.id), st.none() | st.just(agent.id), ids=new()))
    memory = data.draw(memories(agent.id, st.none() | st.just(user.id), st.none() | st.just(session.id), ids=new()))
    bio = data.draw(agent_bios(agent.id, ids=new()))
    metadata = data.draw(profile_metadata(agent.id, ids=new()))
    run = data.draw(runs(session.id, user.id, agent.id, ids=new()))

    await add(storage, user, agent, session, message, memory, bio, metadata, run)

    async def read(uow: UnitOfWork) -> list[object]:
        return [
            await uow.users.get(user.id),
            await uow.agents.get(agent.id),
            await uow.sessions.get(session.id),
            await uow.messages.get(message.id),
            await uow.memories.get(memory.id),
            await uow.bios.get(bio.id),
            await uow.profile_metadata.get(agent.id),
            await uow.runs.get(run.id),
        ]

    assert await storage.run(read) == [user, agent, session, message, memory, bio, metadata, run]
