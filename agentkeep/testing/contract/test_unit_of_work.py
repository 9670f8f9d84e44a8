"""Units of work: nothing is kept unless committed; `run()` commits, or rolls back on an error; once a
repository raised, the unit of work refuses every call until it is left."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from agentkeep.domain.errors import Conflict, NotFound
from agentkeep.domain.paging import Paging
from agentkeep.domain.ports import Storage, UnitOfWork, UnitOfWorkAborted
from agentkeep.testing.builders import a_bio, a_user, add, an_agent


class Boom(Exception):
    pass


async def user_count(storage: Storage) -> int:
    _, total = await storage.run(lambda uow: uow.users.list(Paging()))
    return total


async def test_leaving_without_commit_keeps_nothing(storage: Storage) -> None:
    async with storage.unit_of_work() as uow:
        await uow.users.add(a_user())
        assert (await uow.users.list(Paging()))[1] == 1  # a unit of work sees its own writes

    assert await user_count(storage) == 0


async def test_commit_keeps_the_writes(storage: Storage) -> None:
    user = a_user()
    async with storage.unit_of_work() as uow:
        await uow.users.add(user)
        await uow.commit()

    assert await storage.run(lambda uow: uow.users.get(user.id)) == user


async def test_rollback_discards_the_writes(storage: Storage) -> None:
    async with storage.unit_of_work() as uow:
        await uow.users.add(a_user())
        await uow.rollback()

    assert await user_count(storage) == 0


async def test_an_error_inside_rolls_back(storage: Storage) -> None:
    async def write_then_fail() -> None:
        async with storage.unit_of_work() as uow:
            await uow.users.add(a_user())
            raise Boom

    with pytest.raises(Boom):
        await write_then_fail()

    assert await user_count(storage) == 0


async def test_run_commits_and_returns_the_result(storage: Storage) -> None:
    user = a_user()

    async def work(uow: UnitOfWork) -> str:
        await uow.users.add(user)
        return "done"

    assert await storage.run(work) == "done"
    assert await storage.run(lambda uow: uow.users.get(user.id)) == user


async def test_run_rolls_back_when_the_work_raises(storage: Storage) -> None:
    async def work(uow: UnitOfWork) -> None:
        await uow.users.add(a_user())
        raise Boom

    with pytest.raises(Boom):
        await storage.run(work)

    assert await user_count(storage) == 0


async def test_a_conflict_rolls_back_the_whole_unit_of_work(storage: Storage) -> None:
    taken = a_user(email="taken@example.com")
    await add(storage, taken)
    earlier = a_user()

    with pytest.raises(Conflict):
        await add(storage, earlier, a_user(email="taken@example.com"))

    assert await storage.run(lambda uow: uow.users.get(earlier.id)) is None
    assert await user_count(storage) == 1


async def test_after_a_repository_raised_every_call_and_the_commit_are_refused(storage: Storage) -> None:
    # PostgreSQL refuses every statement of a transaction after a failed one; every adapter
    # refuses the same, so that a use case that goes on after an error fails on each of them.
    await add(storage, a_user(email="taken@example.com"))
    earlier = a_user()

    async with storage.unit_of_work() as uow:
        await uow.users.add(earlier)
        with pytest.raises(Conflict):
            await uow.users.add(a_user(email="taken@example.com"))

        with pytest.raises(UnitOfWorkAborted) as refused:
            await uow.users.list(Paging())  # a read
        assert isinstance(refused.value.__cause__, Conflict)
        with pytest.raises(UnitOfWorkAborted):
            await uow.agents.add(an_agent())  # a write, on another repository
        with pytest.raises(UnitOfWorkAborted):
            await uow.idempotency_keys.get("POST /api/v1/users", "k")
        with pytest.raises(UnitOfWorkAborted):
            await uow.commit()

    # Left, it rolled back: the write made before the error is gone; a new one works as ever.
    assert await storage.run(lambda uow: uow.users.get(earlier.id)) is None
    assert await user_count(storage) == 1


async def test_a_not_found_from_a_repository_aborts_the_unit_of_work_too(storage: Storage) -> None:
    async with storage.unit_of_work() as uow:
        with pytest.raises(NotFound):
            await uow.bios.add(a_bio(an_agent()))  # its agent does not exist

        with pytest.raises(UnitOfWorkAborted):
            await uow.users.add(a_user())
        with pytest.raises(UnitOfWorkAborted):
            await uow.commit()

    assert await user_count(storage) == 0


async def test_run_refuses_to_commit_work_that_went_on_after_a_repository_raised(storage: Storage) -> None:
    await add(storage, a_user(email="taken@example.com"))
    earlier = a_user()

    async def swallow_the_conflict(uow: UnitOfWork) -> str:
        await uow.users.add(earlier)
        with contextlib.suppress(Conflict):
            await uow.users.add(a_user(email="taken@example.com"))
        return "carried on"

    with pytest.raises(UnitOfWorkAborted):
        await storage.run(swallow_the_conflict)

    assert await storage.run(lambda uow: uow.users.get(earlier.id)) is None
    assert await user_count(storage) == 1


async def test_a_stored_row_does_not_change_with_the_value_it_was_written_from(storage: Storage) -> None:
    user = a_user(user_data={"tags": ["a"]})
    await add(storage, user)
    user.user_data["tags"].append("mutated")  # type: ignore[union-attr]

    read = await storage.run(lambda uow: uow.users.get(user.id))
    assert read is not None
    read.user_data["tags"].append("mutated again")  # type: ignore[union-attr]

    again = await storage.run(lambda uow: uow.users.get(user.id))
    assert again is not None
    assert again.user_data == {"tags": ["a"]}


async def test_concurrent_units_of_work_keep_exactly_the_committed_ones(storage: Storage) -> None:
    # SQLite commits units of work that run alongside in one transaction (a savepoint each): one
    # that fails must take only its own writes with it, and no other.
    users = [a_user() for _ in range(30)]

    async def work(index: int) -> None:
        async def write(uow: UnitOfWork) -> None:
            await uow.users.add(users[index])
            if index % 3 == 0:
                raise Boom

        with contextlib.suppress(Boom):
            await storage.run(write)

    await asyncio.gather(*(work(i) for i in range(len(users))))

    kept = {u.id for u in (await storage.run(lambda uow: uow.users.list(Paging(page_size=100))))[0]}
    assert kept == {u.id for i, u in enumerate(users) if i % 3}
