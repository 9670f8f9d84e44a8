"""Sessions: parents, unique names, get-or-create, paging, patches, finish, the run lease."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from agentkeep.domain.errors import Conflict, NotFound
from agentkeep.domain.paging import Paging
from agentkeep.domain.patches import SessionPatch
from agentkeep.domain.ports import RunLease, Storage
from agentkeep.testing.builders import a_message, a_session, a_user, add, an_agent, at, seed


async def test_session_round_trips_with_its_id_kept(storage: Storage) -> None:
    user, agent = a_user(), an_agent()
    session = a_session(
        user,
        agent,
        id=uuid.UUID("22222222-3333-4444-8555-666666666666"),
        name="Ünïcode session ✓",
        platform="cli",
        metadata={"origin": {"client": "tui", "tags": ["a", "b"]}},
        created_at=at(3),
        finished_at=at(4),
    )
    await add(storage, user, agent, session)

    assert await storage.run(lambda uow: uow.sessions.get(session.id)) == session
    assert await storage.run(lambda uow: uow.sessions.get_by_name("Ünïcode session ✓")) == session


async def test_session_of_a_missing_user_is_not_found(storage: Storage) -> None:
    agent = an_agent()
    await add(storage, agent)

    with pytest.raises(NotFound):
        await add(storage, a_session(a_user(), agent))


async def test_session_of_a_missing_agent_is_not_found(storage: Storage) -> None:
    user = a_user()
    await add(storage, user)

    with pytest.raises(NotFound):
        await add(storage, a_session(user, an_agent()))


async def test_duplicate_session_name_is_a_conflict_on_name(storage: Storage) -> None:
    user, agent, _ = await seed(storage)
    await add(storage, a_session(user, agent, name="daily"))

    with pytest.raises(Conflict) as caught:
        await add(storage, a_session(user, agent, name="daily"))

    assert caught.value.key == "name"


async def test_duplicate_session_id_is_a_conflict_on_id(storage: Storage) -> None:
    user, agent, session = await seed(storage)

    with pytest.raises(Conflict) as caught:
        await add(storage, a_session(user, agent, id=session.id))

    assert caught.value.key == "id"


async def test_sessions_without_name_do_not_clash(storage: Storage) -> None:
    user, agent, _ = await seed(storage)

    await add(storage, a_session(user, agent), a_session(user, agent))

    _, total = await storage.run(lambda uow: uow.sessions.list(Paging()))
    assert total == 3


async def test_get_or_create_by_name_creates_once_and_then_returns_the_stored_session(storage: Storage) -> None:
    user, agent, _ = await seed(storage)
    session = a_session(user, agent, name="chat-1", metadata={"first": True})

    first, created = await storage.run(lambda uow: uow.sessions.get_or_create_by_name(session))
    again, created_again = await storage.run(
        lambda uow: uow.sessions.get_or_create_by_name(a_session(user, agent, name="chat-1"))
    )

    assert (first, created) == (session, True)
    assert (again, created_again) == (session, False)


async def test_get_or_create_by_name_of_a_missing_user_is_not_found(storage: Storage) -> None:
    _, agent, _ = await seed(storage)

    with pytest.raises(NotFound):
        await storage.run(lambda uow: uow.sessions.get_or_create_by_name(a_session(a_user(), agent, name="x")))


async def test_concurrent_get_or_create_by_name_creates_exactly_one_session(storage: Storage) -> None:
    user, agent, _ = await seed(storage)

    results = await asyncio.gather(
        *(
            storage.run(lambda uow: uow.sessions.get_or_create_by_name(a_session(user, agent, name="race")))
            for _ in range(20)
        )
    )

    assert sum(created for _, created in results) == 1
    assert len({stored.id for stored, _ in results}) == 1
    _, total = await storage.run(lambda uow: uow.sessions.list(Paging()))
    assert total == 2  # the seeded one and "race"


async def test_list_filters_by_user_and_agent_and_pages(storage: Storage) -> None:
    alice, bob, helper, other = a_user(), a_user(), an_agent(), an_agent()
    await add(storage, alice, bob, helper, other)
    sessions = [
        a_session(alice, helper, created_at=at(1)),
        a_session(bob, helper, created_at=at(2)),
        a_session(alice, other, created_at=at(3)),
        a_session(alice, helper, created_at=at(4)),
    ]
    await add(storage, *sessions)

    by_alice, alice_total = await storage.run(lambda uow: uow.sessions.list(Paging(), user_id=alice.id))
    by_helper, helper_total = await storage.run(lambda uow: uow.sessions.list(Paging(), agent_id=helper.id))
    both, both_total = await storage.run(
        lambda uow: uow.sessions.list(Paging(sort_desc=True), user_id=alice.id, agent_id=helper.id)
    )
    page, total = await storage.run(lambda uow: uow.sessions.list(Paging(page=2, page_size=3)))
    past, past_total = await storage.run(lambda uow: uow.sessions.list(Paging(page=3, page_size=2)))

    assert [s.id for s in by_alice] == [sessions[0].id, sessions[2].id, sessions[3].id]
    assert [s.id for s in by_helper] == [sessions[0].id, sessions[1].id, sessions[3].id]
    assert [s.id for s in both] == [sessions[3].id, sessions[0].id]
    assert (alice_total, helper_total, both_total) == (3, 3, 2)
    assert [s.id for s in page] == [sessions[3].id]
    assert (total, past, past_total) == (4, [], 4)


async def test_patch_renames_replaces_metadata_and_null_clears_the_name(storage: Storage) -> None:
    user, agent, _ = await seed(storage)
    session = a_session(user, agent, name="old", platform="api", metadata={"a": 1}, created_at=at(0))
    await add(storage, session)

    renamed = await storage.run(
        lambda uow: uow.sessions.update(session.id, SessionPatch.parse({"name": "new", "metadata": {"b": [2]}}))
    )
    cleared = await storage.run(lambda uow: uow.sessions.update(session.id, SessionPatch.parse({"name": None})))

    assert renamed is not None
    assert (renamed.name, renamed.metadata, renamed.platform, renamed.created_at) == ("new", {"b": [2]}, "api", at(0))
    assert renamed.updated_at > session.updated_at  # type: ignore[operator]
    assert cleared is not None
    assert cleared.name is None
    assert await storage.run(lambda uow: uow.sessions.get_by_name("new")) is None
    assert await storage.run(lambda uow: uow.sessions.get(session.id)) == cleared


async def test_rename_to_a_taken_name_is_a_conflict_on_name(storage: Storage) -> None:
    user, agent, _ = await seed(storage)
    mine = a_session(user, agent, name="mine")
    await add(storage, mine, a_session(user, agent, name="theirs"))

    with pytest.raises(Conflict) as caught:
        await storage.run(lambda uow: uow.sessions.update(mine.id, SessionPatch.parse({"name": "theirs"})))

    assert caught.value.key == "name"


async def test_empty_patch_or_unknown_session(storage: Storage) -> None:
    _, _, session = await seed(storage)

    assert await storage.run(lambda uow: uow.sessions.update(session.id, SessionPatch())) == session
    assert await storage.run(lambda uow: uow.sessions.update(uuid.uuid4(), SessionPatch.parse({"name": "x"}))) is None


async def test_finish_is_idempotent_and_the_first_finished_at_stays(storage: Storage) -> None:
    _, _, session = await seed(storage)

    first = await storage.run(lambda uow: uow.sessions.finish(session.id, at(100)))
    second = await storage.run(lambda uow: uow.sessions.finish(session.id, at(200)))

    assert first is not None
    assert second is not None
    assert first.finished_at == second.finished_at == at(100)
    assert second == first
    stored = await storage.run(lambda uow: uow.sessions.get(session.id))
    assert stored is not None
    assert stored.finished_at == at(100)


async def test_finish_of_an_unknown_session_is_none(storage: Storage) -> None:
    assert await storage.run(lambda uow: uow.sessions.finish(uuid.uuid4(), at(0))) is None


async def test_delete_tells_whether_there_was_a_session(storage: Storage) -> None:
    _, _, session = await seed(storage)

    assert await storage.run(lambda uow: uow.sessions.delete(session.id)) is True
    assert await storage.run(lambda uow: uow.sessions.delete(session.id)) is False
    assert await storage.run(lambda uow: uow.sessions.get(session.id)) is None


async def test_run_lease_is_taken_once_until_it_ends_or_is_released(storage: Storage) -> None:
    _, _, session = await seed(storage)
    sid = session.id

    assert await storage.run(lambda uow: uow.sessions.claim_run(sid, "a", at(0), at(30))) is True
    assert await storage.run(lambda uow: uow.sessions.claim_run(sid, "b", at(10), at(40))) is False
    assert await storage.run(lambda uow: uow.sessions.claim_run(sid, "a", at(10), at(40))) is False
    # Someone else's token releases nothing.
    await storage.run(lambda uow: uow.sessions.release_run(sid, "b"))
    assert await storage.run(lambda uow: uow.sessions.claim_run(sid, "b", at(20), at(50))) is False
    # A lease that ended is free; a released one too.
    assert await storage.run(lambda uow: uow.sessions.claim_run(sid, "b", at(31), at(60))) is True
    await storage.run(lambda uow: uow.sessions.release_run(sid, "b"))
    assert await storage.run(lambda uow: uow.sessions.claim_run(sid, "c", at(32), at(90))) is True


async def test_run_lease_of_an_unknown_session_is_refused(storage: Storage) -> None:
    assert await storage.run(lambda uow: uow.sessions.claim_run(uuid.uuid4(), "a", at(0), at(30))) is False


async def test_run_lease_is_not_part_of_the_session(storage: Storage) -> None:
    _, _, session = await seed(storage)

    await storage.run(lambda uow: uow.sessions.claim_run(session.id, "a", at(0), at(30)))

    assert await storage.run(lambda uow: uow.sessions.get(session.id)) == session


async def test_a_session_added_with_a_lease_is_held_until_it_ends(storage: Storage) -> None:
    user, agent = a_user(), an_agent()
    await add(storage, user, agent)
    session = a_session(user, agent)

    await storage.run(lambda uow: uow.sessions.add(session, lease=RunLease("a", at(30))))

    assert await storage.run(lambda uow: uow.sessions.claim_run(session.id, "b", at(10), at(40))) is False
    assert await storage.run(lambda uow: uow.sessions.get(session.id)) == session
    assert await storage.run(lambda uow: uow.sessions.claim_run(session.id, "b", at(31), at(60))) is True


async def test_get_or_create_by_name_takes_the_lease_only_when_it_creates(storage: Storage) -> None:
    user, agent = a_user(), an_agent()
    await add(storage, user, agent)
    named = a_session(user, agent, name="leased")

    _, created = await storage.run(lambda uow: uow.sessions.get_or_create_by_name(named, lease=RunLease("a", at(30))))
    assert created
    assert await storage.run(lambda uow: uow.sessions.claim_run(named.id, "b", at(10), at(40))) is False

    await storage.run(lambda uow: uow.sessions.release_run(named.id, "a"))
    again = a_session(user, agent, name="leased")
    _, created = await storage.run(lambda uow: uow.sessions.get_or_create_by_name(again, lease=RunLease("c", at(90))))
    assert not created  # the stored session, and its lease untouched: free
    assert await storage.run(lambda uow: uow.sessions.claim_run(named.id, "b", at(10), at(40))) is True


async def test_claim_run_by_name_returns_the_session_it_took(storage: Storage) -> None:
    user, agent = a_user(), an_agent()
    named = a_session(user, agent, name="by-name")
    await add(storage, user, agent, named)

    def claim(token: str, now: int, until: int):  # type: ignore[no-untyped-def]
        return storage.run(lambda uow: uow.sessions.claim_run_by_name("by-name", token, at(now), at(until)))

    assert await claim("a", 0, 30) == named
    assert await claim("b", 10, 40) is None  # held
    assert await storage.run(lambda uow: uow.sessions.claim_run(named.id, "b", at(10), at(40))) is False
    assert await claim("b", 31, 60) == named  # the first lease ended
    assert await storage.run(lambda uow: uow.sessions.claim_run_by_name("nobody", "c", at(0), at(9))) is None


async def test_a_session_added_with_its_new_owner_makes_both(storage: Storage) -> None:
    agent = an_agent()
    await add(storage, agent)
    owner = a_user(email="first@example.com", user_data={"plan": "free"})
    session = a_session(owner, agent)

    await storage.run(lambda uow: uow.sessions.add(session, lease=RunLease("a", at(30)), owner=owner))

    assert await storage.run(lambda uow: uow.users.get(owner.id)) == owner
    assert await storage.run(lambda uow: uow.sessions.get(session.id)) == session
    assert await storage.run(lambda uow: uow.sessions.claim_run(session.id, "b", at(10), at(40))) is False


async def test_a_session_whose_new_owner_is_taken_is_a_conflict_and_writes_nothing(storage: Storage) -> None:
    agent, taken = an_agent(), a_user(email="taken@example.com")
    await add(storage, agent, taken)
    owner = a_user(email="taken@example.com")
    session = a_session(owner, agent)

    with pytest.raises(Conflict) as caught:
        await storage.run(lambda uow: uow.sessions.add(session, owner=owner))

    assert caught.value.key == "email"
    assert await storage.run(lambda uow: uow.users.get(owner.id)) is None
    assert await storage.run(lambda uow: uow.sessions.get(session.id)) is None


async def test_a_session_of_a_missing_agent_leaves_its_new_owner_out(storage: Storage) -> None:
    owner = a_user()

    with pytest.raises(NotFound):
        await storage.run(lambda uow: uow.sessions.add(a_session(owner, an_agent()), owner=owner))

    assert await storage.run(lambda uow: uow.users.get(owner.id)) is None


@pytest.mark.parametrize("prompt", [None, "A first message's own prompt."])
async def test_a_session_added_with_its_owner_and_first_message_makes_all_three(
    storage: Storage, prompt: str | None
) -> None:
    agent = an_agent()
    await add(storage, agent)
    owner = a_user()
    session = a_session(owner, agent)
    first = a_message(session, system_prompt=prompt)

    await storage.run(
        lambda uow: uow.sessions.add(session, lease=RunLease("a", at(30)), owner=owner, first_message=first)
    )

    assert await storage.run(lambda uow: uow.users.get(owner.id)) == owner
    assert await storage.run(lambda uow: uow.sessions.get(session.id)) == session
    assert await storage.run(lambda uow: uow.messages.last(session.id, 10)) == [first]
    assert await storage.run(lambda uow: uow.sessions.claim_run(session.id, "b", at(10), at(40))) is False


async def test_a_session_whose_first_message_is_taken_writes_nothing(storage: Storage) -> None:
    _, agent, elsewhere = await seed(storage)
    taken = a_message(elsewhere)
    await storage.run(lambda uow: uow.messages.add(taken))
    owner = a_user()
    session = a_session(owner, agent)
    first = a_message(session, id=taken.id)

    with pytest.raises(Conflict):
        await storage.run(lambda uow: uow.sessions.add(session, owner=owner, first_message=first))

    assert await storage.run(lambda uow: uow.users.get(owner.id)) is None
    assert await storage.run(lambda uow: uow.sessions.get(session.id)) is None


async def test_a_sessions_lease_reads_back_as_held_until_given_back(storage: Storage) -> None:
    _, _, session = await seed(storage)
    assert await storage.run(lambda uow: uow.sessions.lease(session.id)) is None

    assert await storage.run(lambda uow: uow.sessions.claim_run(session.id, "mine", at(0), at(30))) is True
    held = await storage.run(lambda uow: uow.sessions.lease(session.id))
    await storage.run(lambda uow: uow.sessions.release_run(session.id, "mine"))

    assert held == RunLease("mine", at(30))
    assert await storage.run(lambda uow: uow.sessions.lease(session.id)) is None
    assert await storage.run(lambda uow: uow.sessions.lease(uuid.uuid4())) is None
