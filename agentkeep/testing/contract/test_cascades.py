"""Deletes cascade as SPEC §2 says, with no error and no orphan row."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import partial

from agentkeep.domain.models import Agent, AgentProfileMetadata, Memory, Message, Session, User
from agentkeep.domain.paging import Paging
from agentkeep.domain.ports import Storage, UnitOfWork
from agentkeep.testing.builders import a_bio, a_memory, a_message, a_session, a_user, add, an_agent


@dataclass
class World:
    """Two users and two agents with sessions, messages and memories crossing between them."""

    alice: User
    bob: User
    helper: Agent
    other: Agent
    alice_helper: Session
    bob_helper: Session
    alice_other: Session
    messages: dict[uuid.UUID, list[Message]]  # by session id
    memories: dict[str, Memory]


async def build_world(storage: Storage) -> World:
    alice, bob, helper, other = a_user(), a_user(), an_agent(), an_agent()
    alice_helper, bob_helper, alice_other = a_session(alice, helper), a_session(bob, helper), a_session(alice, other)
    messages = {s.id: [a_message(s), a_message(s, user_id=None)] for s in (alice_helper, bob_helper, alice_other)}
    memories = {
        "alice-helper": a_memory(helper, alice),
        "alice-helper-bound": a_memory(helper, alice, session_id=alice_helper.id),
        "helper-wide": a_memory(helper),
        "helper-wide-bound": a_memory(helper, session_id=alice_helper.id),
        "bob-helper": a_memory(helper, bob),
        "alice-other": a_memory(other, alice),
        "other-wide-bound-to-bob": a_memory(other, session_id=bob_helper.id),
    }
    await add(
        storage,
        alice,
        bob,
        helper,
        other,
        alice_helper,
        bob_helper,
        alice_other,
        *(m for ms in messages.values() for m in ms),
        *memories.values(),
        a_bio(helper),
        a_bio(other),
        AgentProfileMetadata(agent_id=helper.id, followers_count=1),
        AgentProfileMetadata(agent_id=other.id, followers_count=2),
    )
    world = World(alice, bob, helper, other, alice_helper, bob_helper, alice_other, messages, memories)
    return world


async def session_ids(storage: Storage) -> set[object]:
    items, _ = await storage.run(lambda uow: uow.sessions.list(Paging(page_size=100)))
    return {s.id for s in items}


async def message_ids(storage: Storage, *sessions: Session) -> set[object]:
    found: set[object] = set()
    for session in sessions:
        items, _ = await storage.run(partial(list_messages, session_id=session.id))
        found |= {m.id for m in items}
    return found


async def list_messages(uow: UnitOfWork, session_id: uuid.UUID) -> tuple[list[Message], int]:
    return await uow.messages.list(session_id, Paging(page_size=100))


async def get_message(uow: UnitOfWork, message_id: uuid.UUID) -> Message | None:
    return await uow.messages.get(message_id)


async def memories_by_name(storage: Storage, world: World) -> dict[str, Memory]:
    items, _ = await storage.run(lambda uow: uow.memories.list(Paging(page_size=100)))
    names = {m.id: name for name, m in world.memories.items()}
    return {names[m.id]: m for m in items}


async def test_deleting_a_user_deletes_its_sessions_messages_and_user_memories(storage: Storage) -> None:
    w = await build_world(storage)

    assert await storage.run(lambda uow: uow.users.delete(w.alice.id)) is True

    assert await session_ids(storage) == {w.bob_helper.id}
    sessions = (w.alice_helper, w.bob_helper, w.alice_other)
    assert await message_ids(storage, *sessions) == {m.id for m in w.messages[w.bob_helper.id]}
    left = await memories_by_name(storage, w)
    assert set(left) == {"helper-wide", "helper-wide-bound", "bob-helper", "other-wide-bound-to-bob"}
    # The agent-wide memory bound to a deleted session stays, unbound.
    assert left["helper-wide-bound"].session_id is None
    assert left["other-wide-bound-to-bob"].session_id == w.bob_helper.id
    assert await storage.run(lambda uow: uow.agents.get(w.helper.id)) is not None


async def test_deleting_an_agent_deletes_its_sessions_messages_memories_bios_and_metadata(storage: Storage) -> None:
    w = await build_world(storage)

    assert await storage.run(lambda uow: uow.agents.delete(w.helper.id)) is True

    assert await session_ids(storage) == {w.alice_other.id}
    sessions = (w.alice_helper, w.bob_helper, w.alice_other)
    assert await message_ids(storage, *sessions) == {m.id for m in w.messages[w.alice_other.id]}
    left = await memories_by_name(storage, w)
    assert set(left) == {"alice-other", "other-wide-bound-to-bob"}
    # Another agent's memory bound to one of the deleted sessions is unbound, not deleted.
    assert left["other-wide-bound-to-bob"].session_id is None
    assert await storage.run(lambda uow: uow.bios.latest(w.helper.id)) is None
    assert (await storage.run(lambda uow: uow.bios.list(w.helper.id, Paging())))[1] == 0
    assert await storage.run(lambda uow: uow.profile_metadata.get(w.helper.id)) is None
    assert await storage.run(lambda uow: uow.bios.latest(w.other.id)) is not None
    assert await storage.run(lambda uow: uow.profile_metadata.get(w.other.id)) is not None
    assert {u.id for u in (await storage.run(lambda uow: uow.users.list(Paging())))[0]} == {w.alice.id, w.bob.id}


async def test_deleting_a_session_deletes_its_messages_and_unbinds_its_memories(storage: Storage) -> None:
    w = await build_world(storage)

    assert await storage.run(lambda uow: uow.sessions.delete(w.alice_helper.id)) is True

    assert await session_ids(storage) == {w.bob_helper.id, w.alice_other.id}
    assert await message_ids(storage, w.alice_helper) == set()
    assert await message_ids(storage, w.bob_helper, w.alice_other) == {
        m.id for s in (w.bob_helper, w.alice_other) for m in w.messages[s.id]
    }
    left = await memories_by_name(storage, w)
    assert set(left) == set(w.memories)
    assert left["alice-helper-bound"].session_id is None
    assert left["helper-wide-bound"].session_id is None
    # Unbinding changes nothing else of the memory.
    original = w.memories["alice-helper-bound"]
    assert left["alice-helper-bound"] == original.model_copy(update={"session_id": None})
    for message in w.messages[w.alice_helper.id]:
        assert await storage.run(partial(get_message, message_id=message.id)) is None


async def test_deleting_a_user_deletes_its_messages_in_other_users_sessions(storage: Storage) -> None:
    alice, bob, agent = a_user(), a_user(), an_agent()
    bobs_session = a_session(bob, agent)
    alices_message = a_message(bobs_session, user_id=alice.id)
    bobs_message = a_message(bobs_session)
    await add(storage, alice, bob, agent, bobs_session, alices_message, bobs_message)

    await storage.run(lambda uow: uow.users.delete(alice.id))

    assert await message_ids(storage, bobs_session) == {bobs_message.id}
