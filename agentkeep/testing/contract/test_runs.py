"""Runs: parents, the session's list in order, conditional updates, a run's end with its reply and
its lease, cascades with the session."""

from __future__ import annotations

import uuid

import pytest

from agentkeep.domain.errors import Conflict, NotFound
from agentkeep.domain.models import Message, RunError, ToolCall, Usage
from agentkeep.domain.paging import Paging
from agentkeep.domain.patches import RunPatch
from agentkeep.domain.ports import Storage
from agentkeep.domain.values import ACTIVE_RUN_STATUSES, Role, RunStatus
from agentkeep.testing.builders import a_message, a_run, a_session, a_user, add, an_agent, at, seed


async def test_a_run_comes_back_equal(storage: Storage) -> None:
    _, _, session = await seed(storage)
    run = a_run(
        session,
        status=RunStatus.REQUIRES_ACTION,
        user_message_id=uuid.uuid4(),
        pending_tool_calls=[ToolCall(id="call-1", name="lookup", arguments={"q": "tea"})],
        usage=Usage(model="echo", request_tokens=3, response_tokens=2, total_tokens=5),
        steps=2,
        multitask_strategy="reject",
        created_at=at(1),
        started_at=at(2),
    )
    await add(storage, run)

    assert await storage.run(lambda uow: uow.runs.get(run.id)) == run


async def test_a_run_of_a_missing_session_is_not_found_and_a_taken_id_conflicts(storage: Storage) -> None:
    user, agent, session = await seed(storage)
    run = a_run(session)
    await add(storage, run)

    with pytest.raises(NotFound):
        await add(storage, a_run(a_session(user, agent)))  # the session was never stored
    with pytest.raises(Conflict) as caught:
        await add(storage, a_run(session, id=run.id))

    assert caught.value.key == "id"
    assert await storage.run(lambda uow: uow.runs.list(session.id, Paging())) == ([run], 1)


async def test_a_missing_run_is_none(storage: Storage) -> None:
    assert await storage.run(lambda uow: uow.runs.get(uuid.uuid4())) is None
    assert await storage.run(lambda uow: uow.runs.update(uuid.uuid4(), RunPatch(steps=1))) is None


async def test_a_sessions_runs_are_listed_oldest_first_ties_by_id_and_paged(storage: Storage) -> None:
    user, agent, session = await seed(storage)
    other = a_session(user, agent)
    await add(storage, other)
    ids = sorted(uuid.uuid4() for _ in range(3))
    tied = [a_run(session, id=run_id, created_at=at(5)) for run_id in reversed(ids)]
    first, last = a_run(session, created_at=at(1)), a_run(session, created_at=at(9))
    await add(storage, last, *tied, first, a_run(other, created_at=at(3)))

    listed, total = await storage.run(lambda uow: uow.runs.list(session.id, Paging(page_size=100)))
    newest, _ = await storage.run(lambda uow: uow.runs.list(session.id, Paging(page_size=2, sort_desc=True)))
    second, _ = await storage.run(lambda uow: uow.runs.list(session.id, Paging(page=2, page_size=2)))

    assert [r.id for r in listed] == [first.id, *ids, last.id]
    assert total == 5
    assert [r.id for r in newest] == [last.id, ids[2]]
    assert [r.id for r in second] == ids[1:3]


async def test_an_update_sets_the_patch_and_stamps_updated_at(storage: Storage) -> None:
    _, _, session = await seed(storage)
    run = a_run(session, created_at=at(1))
    await add(storage, run)
    patch = RunPatch(
        status=RunStatus.FAILED,
        error=RunError(code="model_error", detail="the model answered 500"),
        usage=Usage(total_tokens=7),
        steps=1,
        started_at=at(2),
        finished_at=at(3),
    )

    updated = await storage.run(lambda uow: uow.runs.update(run.id, patch))

    assert updated is not None
    assert updated.updated_at is not None and run.updated_at is not None
    assert updated.updated_at > run.updated_at
    assert updated == run.model_copy(update={**patch.changes(), "updated_at": updated.updated_at})
    assert await storage.run(lambda uow: uow.runs.get(run.id)) == updated


async def test_an_update_clears_a_nullable_field(storage: Storage) -> None:
    _, _, session = await seed(storage)
    run = a_run(
        session, error=RunError(code="interrupted", detail="x"), pending_tool_calls=[ToolCall(id="a", name="b")]
    )
    await add(storage, run)

    updated = await storage.run(lambda uow: uow.runs.update(run.id, RunPatch(error=None, pending_tool_calls=[])))

    assert updated is not None
    assert (updated.error, updated.pending_tool_calls) == (None, [])


async def test_an_update_when_the_status_is_one_of_some_writes_only_then(storage: Storage) -> None:
    _, _, session = await seed(storage)
    run = a_run(session, status=RunStatus.RUNNING)
    await add(storage, run)
    cancel = RunPatch(status=RunStatus.CANCELLED, finished_at=at(4))

    first = await storage.run(lambda uow: uow.runs.update(run.id, cancel, when=ACTIVE_RUN_STATUSES))
    again = await storage.run(lambda uow: uow.runs.update(run.id, RunPatch(steps=9), when=ACTIVE_RUN_STATUSES))
    never = await storage.run(lambda uow: uow.runs.update(run.id, RunPatch(steps=9), when=()))

    assert first is not None and first.status is RunStatus.CANCELLED
    assert again is None and never is None
    assert await storage.run(lambda uow: uow.runs.get(run.id)) == first


async def test_of_two_finishes_one_wins(storage: Storage) -> None:
    _, _, session = await seed(storage)
    run = a_run(session, status=RunStatus.RUNNING)
    await add(storage, run)
    running = {RunStatus.RUNNING}

    async def finish(status: RunStatus) -> object:
        patch = RunPatch(status=status, finished_at=at(5))
        return await storage.run(lambda uow: uow.runs.update(run.id, patch, when=running))

    completed = await finish(RunStatus.COMPLETED)
    cancelled = await finish(RunStatus.CANCELLED)

    assert completed is not None and cancelled is None
    stored = await storage.run(lambda uow: uow.runs.get(run.id))
    assert stored is not None and stored.status is RunStatus.COMPLETED


async def test_deleting_the_session_deletes_its_runs(storage: Storage) -> None:
    user, agent, session = await seed(storage)
    other = a_session(user, agent)
    kept = a_run(other)
    await add(storage, other, a_run(session), a_run(session), kept)

    assert await storage.run(lambda uow: uow.sessions.delete(session.id))

    assert await storage.run(lambda uow: uow.runs.list(session.id, Paging())) == ([], 0)
    assert await storage.run(lambda uow: uow.runs.list(other.id, Paging())) == ([kept], 1)


async def test_deleting_the_user_or_the_agent_deletes_their_runs(storage: Storage) -> None:
    user, _, session = await seed(storage)
    other_user, other_agent = a_user(), an_agent()
    of_other_agent, kept = a_session(user, other_agent), a_session(other_user, other_agent)
    runs = [a_run(session), a_run(of_other_agent), a_run(kept)]
    await add(storage, other_user, other_agent, of_other_agent, kept, *runs)

    assert await storage.run(lambda uow: uow.users.delete(user.id))
    after_user = [await storage.run(lambda uow, r=r: uow.runs.get(r.id)) for r in runs]
    assert await storage.run(lambda uow: uow.agents.delete(other_agent.id))
    after_agent = await storage.run(lambda uow: uow.runs.get(runs[2].id))

    assert after_user == [None, None, runs[2]]
    assert after_agent is None


def _completed(reply: Message | None = None) -> RunPatch:
    return RunPatch(
        status=RunStatus.COMPLETED,
        assistant_message_id=None if reply is None else reply.id,
        usage=Usage(total_tokens=4),
        steps=1,
        finished_at=at(9),
    )


@pytest.mark.parametrize("prompt", [None, "You are a reply's prompt."])
async def test_a_finish_stores_the_reply_ends_the_run_and_gives_back_the_lease_of_its_token(
    storage: Storage, prompt: str | None
) -> None:
    _, _, session = await seed(storage)
    question = a_message(session, created_at=at(1))
    run, other = a_run(session, status=RunStatus.RUNNING), a_run(session, status=RunStatus.RUNNING)
    await add(storage, question, run, other)
    assert await storage.run(lambda uow: uow.sessions.claim_run(session.id, "mine", at(0), at(30))) is True

    # Another token's finish is kept, but gives nothing back.
    theirs = a_message(session, role=Role.ASSISTANT, created_at=at(2), system_prompt=prompt)
    assert await storage.run(lambda uow: uow.runs.finish(other, _completed(theirs), token="theirs", reply=theirs))
    assert await storage.run(lambda uow: uow.sessions.claim_run(session.id, "b", at(10), at(40))) is False

    reply = a_message(session, role=Role.ASSISTANT, created_at=at(3), system_prompt=prompt)
    assert await storage.run(lambda uow: uow.runs.finish(run, _completed(reply), token="mine", reply=reply))

    assert await storage.run(lambda uow: uow.messages.last(session.id, 10)) == [question, theirs, reply]
    assert await storage.run(lambda uow: uow.sessions.claim_run(session.id, "b", at(10), at(40))) is True
    stored = await storage.run(lambda uow: uow.runs.get(run.id))
    assert stored is not None and stored.updated_at is not None
    assert stored == run.model_copy(update={**_completed(reply).changes(), "updated_at": stored.updated_at})


async def test_a_finish_of_a_run_no_longer_active_stores_nothing_but_gives_back_the_lease(storage: Storage) -> None:
    _, _, session = await seed(storage)
    run = a_run(session, status=RunStatus.CANCELLED, finished_at=at(2))
    await add(storage, run)
    assert await storage.run(lambda uow: uow.sessions.claim_run(session.id, "mine", at(0), at(30))) is True
    reply = a_message(session, role=Role.ASSISTANT, created_at=at(3), system_prompt="Be brief.")

    assert await storage.finish_run(run, _completed(reply), "mine", reply) is False

    assert await storage.run(lambda uow: uow.messages.get(reply.id)) is None
    assert await storage.run(lambda uow: uow.runs.get(run.id)) == run
    assert await storage.run(lambda uow: uow.sessions.claim_run(session.id, "b", at(10), at(40))) is True


async def test_a_failed_finish_without_a_reply_ends_the_run(storage: Storage) -> None:
    _, _, session = await seed(storage)
    run = a_run(session, status=RunStatus.RUNNING)
    await add(storage, run)
    failed = RunPatch(status=RunStatus.FAILED, error=RunError(code="model_error", detail="down"), steps=1)

    assert await storage.finish_run(run, failed, "nobody") is True

    stored = await storage.run(lambda uow: uow.runs.get(run.id))
    assert stored is not None and (stored.status, stored.error) == (RunStatus.FAILED, failed.error)
    assert await storage.run(lambda uow: uow.messages.list(session.id, Paging())) == ([], 0)


async def test_the_storage_finishes_a_run_on_its_own_all_or_nothing(storage: Storage) -> None:
    _, _, session = await seed(storage)
    run, again = a_run(session, status=RunStatus.RUNNING), a_run(session, status=RunStatus.RUNNING)
    await add(storage, run, again)
    assert await storage.run(lambda uow: uow.sessions.claim_run(session.id, "mine", at(0), at(30))) is True
    reply = a_message(session, role=Role.ASSISTANT, created_at=at(1), system_prompt="Be brief.")

    assert await storage.finish_run(run, _completed(reply), "mine", reply) is True

    assert await storage.run(lambda uow: uow.messages.get(reply.id)) == reply
    assert await storage.run(lambda uow: uow.sessions.claim_run(session.id, "b", at(10), at(40))) is True
    # A reply that cannot be stored (its id is taken) writes nothing: the run stays running and
    # the lease stays held.
    taken = a_message(session, id=reply.id, role=Role.ASSISTANT, created_at=at(2))
    with pytest.raises(Conflict):
        await storage.finish_run(again, _completed(taken), "b", taken)
    assert await storage.run(lambda uow: uow.sessions.claim_run(session.id, "c", at(11), at(41))) is False
    assert await storage.run(lambda uow: uow.runs.get(again.id)) == again


async def test_a_run_is_added_with_its_user_message(storage: Storage) -> None:
    _, _, session = await seed(storage)
    question = a_message(session, created_at=at(1))
    run = a_run(session, status=RunStatus.RUNNING, user_message_id=question.id)

    await storage.run(lambda uow: uow.runs.add(run, user_message=question))

    assert await storage.run(lambda uow: uow.runs.get(run.id)) == run
    assert await storage.run(lambda uow: uow.messages.last(session.id, 5)) == [question]


async def test_a_first_run_adds_its_owner_session_message_and_run_at_once(storage: Storage) -> None:
    _, agent, _ = await seed(storage)
    owner = a_user()
    session = a_session(owner, agent)
    question = a_message(session, created_at=at(1))
    run = a_run(session, status=RunStatus.RUNNING, user_message_id=question.id)

    await storage.run(lambda uow: uow.sessions.add(session, owner=owner, first_message=question, run=run))

    assert await storage.run(lambda uow: uow.users.get(owner.id)) == owner
    assert await storage.run(lambda uow: uow.messages.last(session.id, 5)) == [question]
    assert await storage.run(lambda uow: uow.runs.list(session.id, Paging())) == ([run], 1)


async def test_a_run_whose_id_is_taken_adds_nothing_with_it(storage: Storage) -> None:
    user, agent, session = await seed(storage)
    taken = a_run(session)
    await add(storage, taken)
    other = a_session(user, agent)
    question = a_message(other)

    with pytest.raises(Conflict):
        await storage.run(lambda uow: uow.sessions.add(other, first_message=question, run=a_run(other, id=taken.id)))
    with pytest.raises(Conflict):
        await storage.run(lambda uow: uow.runs.add(a_run(session, id=taken.id), user_message=a_message(session)))

    assert await storage.run(lambda uow: uow.sessions.get(other.id)) is None
    assert await storage.run(lambda uow: uow.messages.list(session.id, Paging())) == ([], 0)


async def test_a_sessions_active_run_is_its_newest_not_finished(storage: Storage) -> None:
    user, agent, session = await seed(storage)
    other = a_session(user, agent)
    done = a_run(session, status=RunStatus.COMPLETED, created_at=at(9))
    older = a_run(session, status=RunStatus.RUNNING, created_at=at(1))
    newer = a_run(session, status=RunStatus.REQUIRES_ACTION, created_at=at(2))
    await add(storage, other, done, older, newer, a_run(other, status=RunStatus.CANCELLED))

    assert await storage.run(lambda uow: uow.runs.active(session.id)) == newer
    assert await storage.run(lambda uow: uow.runs.active(other.id)) is None
