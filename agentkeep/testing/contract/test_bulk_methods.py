"""The bulk reads and writes of the backfills: the same rules (Conflict naming the field, NotFound
without a parent, nothing kept of a failed batch) as the one-row methods, on every adapter. How many
statements a call runs, and the rows it stores, are the SQL adapter's (tests/integration/test_sql_bulk.py)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from agentkeep.domain.errors import Conflict, DomainError, NotFound
from agentkeep.domain.models import Agent, AgentProfileMetadata
from agentkeep.domain.paging import Paging
from agentkeep.domain.ports import Storage, UnitOfWork
from agentkeep.testing.builders import a_bio, a_memory, a_message, a_session, a_user, add, an_agent, at, seed

Work = Callable[[UnitOfWork], Awaitable[Any]]
E = TypeVar("E", bound=DomainError)


async def everything(storage: Storage) -> tuple[list[Any], ...]:
    """Every user, agent and session stored (what a failed batch must leave as it was)."""

    async def read(uow: UnitOfWork) -> tuple[list[Any], ...]:
        page = Paging(page_size=100)
        return (await uow.users.list(page))[0], (await uow.agents.list(page))[0], (await uow.sessions.list(page))[0]

    return await storage.run(read)


async def fails_and_keeps_nothing(storage: Storage, work: Work, error: type[E]) -> E:
    """Run `work` in a unit of work that commits; it must raise `error`, and leaving the unit of
    work must have kept nothing of it."""
    before = await everything(storage)
    with pytest.raises(error) as caught:
        await storage.run(work)
    assert await everything(storage) == before
    return caught.value


def by_id(rows: list[Any]) -> list[Any]:
    return sorted(rows, key=lambda row: str(row.id))


# Users


async def test_get_many_users_by_id_and_by_email_in_any_case(storage: Storage) -> None:
    alice, bob = a_user(email="alice@example.org"), a_user(email="bob@example.org")
    await add(storage, alice, bob, a_user(), a_user(email="carol@example.org"))

    found = await storage.run(lambda uow: uow.users.get_many([alice.id, bob.id, alice.id, uuid.uuid4()]))
    emails = ["ALICE@example.org", "Bob@Example.ORG", "nobody@example.org"]
    by_email = await storage.run(lambda uow: uow.users.get_many_by_email(emails))

    assert by_id(found) == by_id(by_email) == by_id([alice, bob])


async def test_add_many_users_reads_back_equal(storage: Storage) -> None:
    batch = [a_user(email=f"u{i}@example.org", user_data={"i": i, "tags": ["a"]}) for i in range(5)]
    batch.append(a_user(phone_number="+33 1 23", created_at=at(1), updated_at=at(2)))

    await storage.run(lambda uow: uow.users.add_many(batch))

    assert by_id(await storage.run(lambda uow: uow.users.get_many([u.id for u in batch]))) == by_id(batch)


@pytest.mark.parametrize(
    ("stored_email", "batch_fields", "key"),
    [
        (None, [{"id": "SAME"}, {"id": "SAME"}], "id"),
        (None, [{"email": "dup@example.org"}, {"email": "DUP@example.org"}], "email"),
        (None, [{}, {"id": "STORED"}], "id"),
        ("dup@example.org", [{}, {"email": "Dup@Example.org"}], "email"),
    ],
    ids=["id-in-batch", "email-in-batch", "id-stored", "email-stored"],
)
async def test_add_many_users_duplicate_is_a_conflict_keeping_nothing(
    storage: Storage, stored_email: str | None, batch_fields: list[dict[str, Any]], key: str
) -> None:
    stored = a_user(email=stored_email)
    await add(storage, stored)
    ids = {"SAME": uuid.uuid4(), "STORED": stored.id}
    batch = [a_user(**{k: ids.get(v, v) for k, v in fields.items()}) for fields in batch_fields]

    error = await fails_and_keeps_nothing(storage, lambda uow: uow.users.add_many(batch), Conflict)

    assert error.key == key


# Agents


async def test_get_many_agents_by_id_and_by_name_in_any_case(storage: Storage) -> None:
    alpha, beta, other = an_agent(name="alpha"), an_agent(name="beta.bsky.social"), an_agent()
    await add(storage, alpha, beta, other)

    found = await storage.run(lambda uow: uow.agents.get_many([alpha.id, beta.id, alpha.id, uuid.uuid4().hex]))
    named = await storage.run(lambda uow: uow.agents.get_many_by_name(["ALPHA", "Beta.Bsky.Social", "gamma"]))

    assert by_id(found) == by_id(named) == by_id([alpha, beta])


async def test_add_many_agents_reads_back_equal(storage: Storage) -> None:
    batch = [an_agent(config={"n": i}, description=f"agent {i}", created_at=at(i)) for i in range(4)]
    batch.append(an_agent(id="did:plc:abcdefghijklmnopqrstuvwx", name="zed.bsky.social", active=False))

    await storage.run(lambda uow: uow.agents.add_many(batch))

    assert by_id(await storage.run(lambda uow: uow.agents.get_many([a.id for a in batch]))) == by_id(batch)


@pytest.mark.parametrize(
    ("batch_fields", "key"),
    [
        ([{"id": "SAME"}, {"id": "SAME"}], "id"),
        ([{"name": "twin"}, {"name": "TWIN"}], "name"),
        ([{}, {"id": "STORED"}], "id"),
        ([{}, {"name": "Stored-Name"}], "name"),
    ],
    ids=["id-in-batch", "name-in-batch", "id-stored", "name-stored"],
)
async def test_add_many_agents_duplicate_is_a_conflict_keeping_nothing(
    storage: Storage, batch_fields: list[dict[str, Any]], key: str
) -> None:
    stored = an_agent(name="stored-name")
    await add(storage, stored)
    ids = {"SAME": uuid.uuid4().hex, "STORED": stored.id}
    batch = [an_agent(**{k: ids.get(v, v) for k, v in fields.items()}) for fields in batch_fields]

    error = await fails_and_keeps_nothing(storage, lambda uow: uow.agents.add_many(batch), Conflict)

    assert error.key == key


async def test_update_many_agents_sets_every_field_but_id_and_created_at(storage: Storage) -> None:
    first, second, untouched = (an_agent(created_at=at(i)) for i in range(3))
    await add(storage, first, second, untouched)
    new_values: dict[str, Any] = {"display_name": "Renamed", "type": "bot", "model": "openai:gpt-4o", "active": False}
    new_values |= {"description": "new", "system_prompt": "Be brief.", "version": "2", "updated_at": at(200)}
    changed = [
        Agent(**{**a.model_dump(), **new_values, "name": f"renamed-{i}", "config": {"k": [i]}, "created_at": at(100)})
        for i, a in enumerate([first, second])
    ]
    missing = an_agent()

    await storage.run(lambda uow: uow.agents.update_many([*changed, missing]))

    stored = await storage.run(lambda uow: uow.agents.get_many([first.id, second.id, untouched.id, missing.id]))
    expected = [
        c.model_copy(update={"created_at": a.created_at}) for c, a in zip(changed, [first, second], strict=True)
    ]
    assert by_id(stored) == by_id([*expected, untouched])


async def test_update_many_agents_to_a_taken_name_is_a_conflict_keeping_nothing(storage: Storage) -> None:
    first, second, holder = an_agent(), an_agent(), an_agent(name="taken")
    await add(storage, first, second, holder)
    batch = [first.model_copy(update={"description": "changed"}), second.model_copy(update={"name": "taken"})]

    error = await fails_and_keeps_nothing(storage, lambda uow: uow.agents.update_many(batch), Conflict)

    assert error.key == "name"
    assert await storage.run(lambda uow: uow.agents.get(first.id)) == first


async def test_update_many_agents_may_keep_their_own_names(storage: Storage) -> None:
    agent = an_agent()
    await add(storage, agent)
    same_name = agent.model_copy(update={"description": "only this", "updated_at": at(5)})

    await storage.run(lambda uow: uow.agents.update_many([same_name]))

    assert await storage.run(lambda uow: uow.agents.get(agent.id)) == same_name


# Bios


async def test_agents_with_bios_names_those_with_at_least_one(storage: Storage) -> None:
    with_two, with_one, without = an_agent(), an_agent(), an_agent()
    await add(storage, with_two, with_one, without, a_bio(with_two), a_bio(with_two), a_bio(with_one))

    found = await storage.run(lambda uow: uow.bios.agents_with_bios([with_two.id, with_one.id, without.id, "x"]))

    assert found == {with_two.id, with_one.id}


async def test_add_many_bios_keeps_the_given_order_on_a_created_at_tie(storage: Storage) -> None:
    agent = an_agent()
    await add(storage, agent)
    batch = [a_bio(agent, persona_bio=f"bio {i}", created_at=at(0)) for i in range(5)]

    await storage.run(lambda uow: uow.bios.add_many(batch))

    assert await storage.run(lambda uow: uow.bios.latest(agent.id)) == batch[-1]
    assert (await storage.run(lambda uow: uow.bios.list(agent.id, Paging())))[0] == batch


async def test_add_many_bios_without_the_agent_is_not_found_keeping_nothing(storage: Storage) -> None:
    agent = an_agent()
    await add(storage, agent)
    batch = [a_bio(agent), a_bio(an_agent())]

    await fails_and_keeps_nothing(storage, lambda uow: uow.bios.add_many(batch), NotFound)

    assert await storage.run(lambda uow: uow.bios.agents_with_bios([agent.id])) == set()


async def test_add_many_bios_with_a_taken_id_is_a_conflict_on_id(storage: Storage) -> None:
    agent = an_agent()
    stored = a_bio(agent)
    await add(storage, agent, stored)
    batch = [a_bio(agent), a_bio(agent, id=stored.id)]

    error = await fails_and_keeps_nothing(storage, lambda uow: uow.bios.add_many(batch), Conflict)

    assert error.key == "id"
    assert await storage.run(lambda uow: uow.bios.get(batch[0].id)) is None


# Profile metadata


def counts_of(row: AgentProfileMetadata) -> tuple[int, int, int]:
    return row.followers_count, row.follows_count, row.posts_count


async def test_upsert_many_profiles_inserts_new_rows_and_updates_stored_ones(storage: Storage) -> None:
    known, new, bare = an_agent(), an_agent(), an_agent()
    stored = AgentProfileMetadata(agent_id=known.id, followers_count=1, created_at=at(0))
    await add(storage, known, new, bare, stored)
    update = AgentProfileMetadata(
        agent_id=known.id, followers_count=10, follows_count=20, posts_count=30, created_at=at(50), updated_at=at(60)
    )
    insert = AgentProfileMetadata(agent_id=new.id, followers_count=7, created_at=at(70), updated_at=at(80))

    await storage.run(lambda uow: uow.profile_metadata.upsert_many([update, insert]))

    rows = {
        p.agent_id: p for p in await storage.run(lambda uow: uow.profile_metadata.get_many([known.id, new.id, bare.id]))
    }
    assert rows.keys() == {known.id, new.id}
    assert rows[new.id] == insert
    kept = rows[known.id]
    assert (kept.id, kept.created_at) == (stored.id, stored.created_at)
    assert (counts_of(kept), kept.updated_at) == ((10, 20, 30), at(60))


async def test_upsert_many_profiles_without_the_agent_is_not_found_keeping_nothing(storage: Storage) -> None:
    agent = an_agent()
    await add(storage, agent)
    batch = [AgentProfileMetadata(agent_id=agent.id), AgentProfileMetadata(agent_id=an_agent().id)]

    await fails_and_keeps_nothing(storage, lambda uow: uow.profile_metadata.upsert_many(batch), NotFound)

    assert await storage.run(lambda uow: uow.profile_metadata.get_many([agent.id])) == []


# Sessions


async def test_get_many_sessions_by_id_and_by_name(storage: Storage) -> None:
    user, agent, unnamed = await seed(storage)
    named, other = a_session(user, agent, name="chat-1"), a_session(user, agent, name="chat-2")
    await add(storage, named, other)

    found = await storage.run(lambda uow: uow.sessions.get_many([unnamed.id, named.id, uuid.uuid4()]))
    by_name = await storage.run(lambda uow: uow.sessions.get_many_by_name(["chat-1", "CHAT-2", "chat-3"]))

    assert by_id(found) == by_id([unnamed, named])
    assert by_name == [named]  # session names keep their case


async def test_add_many_sessions_reads_back_equal(storage: Storage) -> None:
    user, agent, _ = await seed(storage)
    batch = [a_session(user, agent, name=f"s-{i}", metadata={"i": i}, created_at=at(i)) for i in range(3)]
    batch.append(a_session(user, agent, platform="cli", finished_at=at(9)))

    await storage.run(lambda uow: uow.sessions.add_many(batch))

    assert by_id(await storage.run(lambda uow: uow.sessions.get_many([s.id for s in batch]))) == by_id(batch)


@pytest.mark.parametrize("clash", ["name-in-batch", "name-stored", "id-stored"])
async def test_add_many_sessions_duplicate_is_a_conflict_keeping_nothing(storage: Storage, clash: str) -> None:
    user, agent, stored = await seed(storage)
    await add(storage, a_session(user, agent, name="stored"))
    seconds: dict[str, dict[str, Any]] = {
        "name-in-batch": {"name": "fresh"},
        "name-stored": {"name": "stored"},
        "id-stored": {"id": stored.id},
    }
    second = seconds[clash]
    batch = [a_session(user, agent, name="fresh"), a_session(user, agent, **second)]

    error = await fails_and_keeps_nothing(storage, lambda uow: uow.sessions.add_many(batch), Conflict)

    assert error.key == clash.split("-")[0]


async def test_add_many_sessions_without_the_user_is_not_found_keeping_nothing(storage: Storage) -> None:
    user, agent, _ = await seed(storage)
    batch = [a_session(user, agent), a_session(a_user(), agent)]

    await fails_and_keeps_nothing(storage, lambda uow: uow.sessions.add_many(batch), NotFound)


# Messages and memories


async def test_existing_message_and_memory_ids_are_those_stored(storage: Storage) -> None:
    user, agent, session = await seed(storage)
    message, memory = a_message(session), a_memory(agent, user)
    await add(storage, message, a_message(session), memory, a_memory(agent))
    asked = [message.id, memory.id, uuid.uuid4()]

    messages = await storage.run(lambda uow: uow.messages.existing_ids(asked))
    memories = await storage.run(lambda uow: uow.memories.existing_ids(asked))

    assert (messages, memories) == ({message.id}, {memory.id})
