"""Run events: appended in order, read after an id, the last one; refused twice; gone with the run."""

from __future__ import annotations

import uuid

import pytest

from agentkeep.domain.errors import Conflict, NotFound
from agentkeep.domain.events import EventType, RunEvent
from agentkeep.domain.ports import Storage
from agentkeep.testing.builders import a_run, add, at, seed


def events(run_id: uuid.UUID, *seqs: int) -> list[RunEvent]:
    return [
        RunEvent(
            run_id=run_id,
            seq=seq,
            event=EventType.MESSAGE_DELTA,
            data={"text": f"w{seq} ", "n": [seq, None]},
            created_at=at(seq),
        )
        for seq in seqs
    ]


async def test_events_come_back_in_order_after_an_id_and_the_last_one(storage: Storage) -> None:
    _, _, session = await seed(storage)
    run, other = a_run(session), a_run(session)
    await add(storage, run, other)
    first, second = events(run.id, 1, 2, 3), events(run.id, 4, 5)
    await storage.run(lambda uow: uow.run_events.add_many(first))
    await storage.run(lambda uow: uow.run_events.add_many(second))
    await storage.run(lambda uow: uow.run_events.add_many(events(other.id, 1)))

    assert await storage.run(lambda uow: uow.run_events.after(run.id, 0)) == first + second
    assert await storage.run(lambda uow: uow.run_events.after(run.id, 3)) == second
    assert await storage.run(lambda uow: uow.run_events.after(run.id, 1, limit=2)) == first[1:]
    assert await storage.run(lambda uow: uow.run_events.after(run.id, 5)) == []
    assert await storage.run(lambda uow: uow.run_events.last(run.id)) == second[-1]
    assert await storage.run(lambda uow: uow.run_events.last(uuid.uuid4())) is None


async def test_an_event_id_is_taken_once_and_a_batch_is_all_or_nothing(storage: Storage) -> None:
    _, _, session = await seed(storage)
    run = a_run(session)
    await add(storage, run)
    await storage.run(lambda uow: uow.run_events.add_many(events(run.id, 1)))

    with pytest.raises(Conflict):
        await storage.run(lambda uow: uow.run_events.add_many(events(run.id, 2, 1)))
    with pytest.raises(NotFound):
        await storage.run(lambda uow: uow.run_events.add_many(events(uuid.uuid4(), 1)))

    assert await storage.run(lambda uow: uow.run_events.after(run.id, 0)) == events(run.id, 1)


async def test_deleting_the_session_deletes_its_runs_events(storage: Storage) -> None:
    _, _, session = await seed(storage)
    run = a_run(session)
    await add(storage, run)
    await storage.run(lambda uow: uow.run_events.add_many(events(run.id, 1, 2)))

    assert await storage.run(lambda uow: uow.sessions.delete(session.id))

    assert await storage.run(lambda uow: uow.run_events.after(run.id, 0)) == []
