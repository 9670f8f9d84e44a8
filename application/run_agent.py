"""run-agent (SPEC §3): a caller sends a message to an agent and gets the reply, with the user, the
session and the history kept.

Three short steps, no transaction held during the model call:

1. *prepare*: find the agent, find or create the user and the session, take the session's run
   lease, read the history, write the user message and the run's record (`running`); all or
   nothing, so a request answered 4xx writes nothing. A busy session rolls back and is retried
   until `session_wait` runs out.
2. the model call, outside any transaction;
3. *finish*: end the run `completed` with the assistant message, or `failed` with the error (no
   message) when the model failed, and give the lease back (`Storage.finish_run`: one statement on
   PostgreSQL, with no transaction around it). The user message is kept either way, and an error
   names the run (`details["run_id"]`).

A streamed run (`start(..., streamed=True)`, then `stream`) does the same, its model call streamed
to a `RunFeed` (`run_feed.py`) by a task of its own. *prepare* lives in `run_prepare.py`, the body
and the answer of a run in `run_values.py`; `runs.py` reads, lists and cancels run records.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

from agentkeep.application.idempotency import RunKey
from agentkeep.application.run_feed import RunFeed
from agentkeep.application.run_prepare import Busy, Raced, StartedRun, prepare
from agentkeep.application.run_values import MAX_MESSAGE, RunRequest, RunResult, RunUser
from agentkeep.application.runs import RunningRuns, lease_token, run_cancelled
from agentkeep.application.turns import Place, SessionQueues
from agentkeep.domain.chat import ModelReply
from agentkeep.domain.errors import Conflict, DomainError, Invalid, ModelUnavailable
from agentkeep.domain.events import EventType, RunEvent
from agentkeep.domain.ids import new_id
from agentkeep.domain.models import Message, Run, RunError
from agentkeep.domain.patches import RunPatch
from agentkeep.domain.ports.chat_model import ChatModel, ChatModels
from agentkeep.domain.ports.unit_of_work import Storage
from agentkeep.domain.values import Role, RunStatus, utcnow

__all__ = ["MAX_MESSAGE", "RunAgent", "RunRequest", "RunResult", "RunUser", "StartedRun"]

POLL_FIRST, POLL_MAX = 0.002, 0.05
"""Seconds the first waiter for a session held by another process pauses before it asks again."""
KEEP_ALIVE = 15.0
"""Seconds of silence after which a stream sends a comment (SPEC §9.1)."""


def _reply(prepared: StartedRun, reply: ModelReply) -> Message:
    """The model's reply as the run's assistant message (*finish*: stored with the run's end and
    the lease given back, `Storage.finish_run`)."""
    question = prepared.user_message
    return Message(
        session_id=question.session_id,
        user_id=question.user_id,
        agent_id=question.agent_id,
        role=Role.ASSISTANT,
        text_content=reply.text,
        tool_calls=reply.tool_calls,
        tool_outputs=reply.tool_outputs,
        usage=reply.usage,
        system_prompt=prepared.prompt,
        created_at=max(utcnow(), question.created_at),  # never before its question
    )


class _Cancelled(Exception):
    """The run was cancelled (`RunService.cancel`) during its model call."""


class RunAgent:
    """Runs an agent on one message. `session_wait`: how long a run waits for its turn on a busy
    session (then 409 `session_busy`); `lease`: how long a run may hold a session at most (it
    outlives the model timeout, so a crashed process frees the session after it)."""

    def __init__(
        self,
        storage: Storage,
        models: ChatModels,
        *,
        session_wait: float = 30.0,
        lease: float = 90.0,
        running: RunningRuns | None = None,
    ):
        self._storage = storage
        self._models = models
        self.running = running or RunningRuns()
        self._driving: set[asyncio.Task[None]] = set()  # streamed runs finishing
        self._session_wait = session_wait
        self._lease = timedelta(seconds=lease)
        self._turns = SessionQueues()

    async def __call__(self, agent_id_or_name: str, request: RunRequest) -> RunResult:
        """The reply to `request`."""
        return await self.finish(await self.start(agent_id_or_name, request))

    async def start(
        self, agent_id_or_name: str, request: RunRequest, *, streamed: bool = False, key: RunKey | None = None
    ) -> StartedRun:
        """A run's first step (*prepare*): everything a refused request must not write, checked
        and written at once. With `streamed`, the run keeps its events as it goes (`run.created`
        with the run itself); with `key`, the run is named on its Idempotency-Key."""
        run_id = new_id()
        feed = RunFeed(self._storage, run_id) if streamed else None
        return await self._prepare(agent_id_or_name, request, run_id, feed, key)

    async def finish(self, started: StartedRun, *, on_delta: Callable[[str], None] | None = None) -> RunResult:
        """The rest of a started run: the model call (streamed to its feed, if it has one, and to
        `on_delta`, if given), then its end, `completed` with the reply or `failed` with the
        error, which is raised."""
        run = started.run
        token = lease_token(run.id)
        try:
            model = self._models.get(started.agent.model)
            self.running.enter(run.id)
            try:
                reply = await self._ask(model, started, on_delta)
            except asyncio.CancelledError:
                if not self.running.leave(run.id):
                    raise
                raise _Cancelled from None
            self.running.leave(run.id)
            assistant = _reply(started, reply)
            completed = RunPatch(
                status=RunStatus.COMPLETED,
                assistant_message_id=assistant.id,
                usage=reply.usage,
                steps=1,
                finished_at=assistant.created_at,
            )
            try:
                finished = await self._storage.finish_run(run, completed, token, assistant)
            except Invalid as e:
                # The reply breaks a rule of the storage (PostgreSQL keeps no NUL character):
                # the model's doing, not the caller's.
                raise ModelUnavailable(f"the model's reply cannot be stored: {e}") from None
        except _Cancelled:
            # Cancelled while the model answered: the cancel ended the run and freed the session.
            self._turns.release(run.session_id)
            raise run_cancelled(run.id) from None
        except Exception as e:
            # The user message stays; the run ends failed and the session is free for the next
            # run, whatever the model or the storage did.
            await self._fail(run, token, e)
            if isinstance(e, DomainError):
                e.details["run_id"] = str(run.id)
            raise
        self._turns.release(run.session_id)
        if not finished:
            raise run_cancelled(run.id)
        return RunResult(
            run_id=run.id,
            status=RunStatus.COMPLETED,
            message=reply.text,
            session_id=started.session.id,
            session_name=started.session.name,
            user_id=started.session.user_id,
            agent_id=started.agent.id,
            user_message_id=started.user_message.id,
            assistant_message_id=assistant.id,
            tool_calls=reply.tool_calls,
            tool_outputs=reply.tool_outputs,
            usage=reply.usage,
        )

    def stream(
        self, started: StartedRun, failure: Callable[[Exception], dict[str, Any]], *, keep_alive: float = KEEP_ALIVE
    ) -> AsyncIterator[list[RunEvent] | None]:
        """Finish a streamed run in a task of its own (it goes on when its caller goes away,
        SPEC §9.3) and follow its events; None after each `keep_alive` seconds of silence.
        `failure(error)`: the data of `run.failed` (what the run would have answered)."""
        return self.background(started, failure).follow(keep_alive=keep_alive)

    def background(self, started: StartedRun, failure: Callable[[Exception], dict[str, Any]]) -> RunFeed:
        """Finish a streamed run in a task of its own (SPEC §9.5: its caller has its answer
        already); its feed, which readers of this process follow."""
        feed = started.feed
        if feed is None:
            raise ValueError("the run was not started streamed")
        task = asyncio.get_running_loop().create_task(self._drive(started, feed, failure))
        self._driving.add(task)
        task.add_done_callback(self._driving.discard)
        return feed

    async def _drive(self, started: StartedRun, feed: RunFeed, failure: Callable[[Exception], dict[str, Any]]) -> None:
        self.running.follow(feed)
        try:
            result = await self.finish(started)
        except Exception as e:
            if isinstance(e, Conflict) and e.code == "run_cancelled":
                await feed.close(EventType.RUN_CANCELLED, {"run_id": str(started.run.id)})
            else:
                await feed.close(EventType.RUN_FAILED, failure(e))
        else:
            await feed.close(EventType.RUN_COMPLETED, result.model_dump(mode="json"))
        finally:
            self.running.unfollow(feed)

    async def _ask(self, model: ChatModel, started: StartedRun, on_delta: Callable[[str], None] | None) -> ModelReply:
        """The model's reply; streamed when someone follows it: its text deltas to the run's feed
        and to `on_delta`, then its tool calls to the feed."""
        messages = [*started.history, started.user_message]
        feed = started.feed
        if feed is None and on_delta is None:
            return await model.reply(started.prompt, messages)
        reply: ModelReply | None = None
        async for part in model.stream(started.prompt, messages):
            if not isinstance(part, str):
                reply = part
                continue
            if feed is not None:
                feed.emit(EventType.MESSAGE_DELTA, {"text": part})
            if on_delta is not None:
                on_delta(part)
        if reply is None:
            raise ModelUnavailable("the model's stream ended without its reply")
        if feed is not None:
            for call in reply.tool_calls:
                feed.emit(EventType.TOOL_CALL, call.model_dump(mode="json"))
        return reply

    async def _fail(self, run: Run, token: str, error: Exception) -> None:
        """End the run `failed` with `error` and give its lease back. If the storage cannot (it
        is what failed), the lease expires on its own and the run is swept as interrupted; the
        first error is the one to report."""
        code, detail = (error.code, error.message) if isinstance(error, DomainError) else ("internal", "internal error")
        failed = RunPatch(
            status=RunStatus.FAILED, error=RunError(code=code, detail=detail), steps=1, finished_at=utcnow()
        )
        with contextlib.suppress(DomainError):
            await self._storage.finish_run(run, failed, token)
        self._turns.release(run.session_id)

    async def _prepare(
        self, agent_ref: str, request: RunRequest, run_id: uuid.UUID, feed: RunFeed | None, key: RunKey | None
    ) -> StartedRun:
        deadline = time.monotonic() + self._session_wait
        place: Place | None = None
        pause = POLL_FIRST
        holds = False
        try:
            while True:
                try:
                    started = await self._storage.run(
                        lambda uow: prepare(uow, agent_ref, request, run_id, self._lease, feed, key)
                    )
                    holds = True
                    if started.interrupted is not None:
                        self.running.stop(started.interrupted)  # if it runs in this process
                    return started
                except Raced:
                    continue
                except Busy as busy:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise Conflict(
                            f"the session is busy with another run (waited {self._session_wait:g} s)",
                            code="session_busy",
                        ) from None
                    if place is None:
                        place = self._turns.join(busy.session_id)
                    # The first in line tries again when woken, or after a pause (the holder may be
                    # a run of another process); the others wait to be first.
                    if place.first:
                        if not await place.wait(min(pause, left)):
                            pause = min(pause * 1.5, POLL_MAX)
                    else:
                        await place.wait(left)
        finally:
            if place is not None:
                place.leave(holds=holds)
