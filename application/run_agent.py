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
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from agentkeep.application import system_prompt
from agentkeep.application.run_feed import RunFeed
from agentkeep.application.runs import RunningRuns, lease_token
from agentkeep.domain.chat import ModelReply
from agentkeep.domain.errors import Conflict, DomainError, Invalid, ModelUnavailable, NotFound
from agentkeep.domain.events import EventType, RunEvent
from agentkeep.domain.ids import UserId, new_id
from agentkeep.domain.models import Agent, AgentBio, Message, Run, RunError, Session, ToolCall, ToolOutput, Usage, User
from agentkeep.domain.patches import RunPatch, UserPatch
from agentkeep.domain.ports.chat_model import ChatModel, ChatModels
from agentkeep.domain.ports.sessions import RunLease
from agentkeep.domain.ports.unit_of_work import Storage, UnitOfWork
from agentkeep.domain.values import Email, JsonObject, Label, ReadMode, Role, RunStatus, Text, utcnow

MAX_MESSAGE = 100_000
KEEP_ALIVE = 15.0
"""Seconds of silence after which a stream sends a comment (SPEC §9.1)."""


class RunUser(BaseModel):
    """Fields of the run's user: applied to a found user, given to a new one."""

    model_config = ConfigDict(extra="forbid")

    email: Email | None = None
    phone_number: Annotated[str, Field(max_length=50)] | None = None
    user_data: JsonObject = Field(default_factory=dict)


class RunRequest(BaseModel):
    """The body of a run. A field it does not define is an error, so a typo never silently
    starts a new session."""

    model_config = ConfigDict(extra="forbid")

    message_content: Annotated[Text, Field(max_length=MAX_MESSAGE)]
    user_id: UserId | None = None
    user: RunUser | None = None
    session_id: uuid.UUID | None = None
    session_name: Label | None = None
    session_origin: Label = "api"
    system_prompt: str | None = None
    message_limit: Annotated[int, Field(ge=0, le=1000)] = 50
    message_type: Label = "text"
    media_url: str | None = None
    mime_type: Annotated[str, Field(max_length=255)] | None = None
    context: JsonObject = Field(default_factory=dict)
    stream: bool = False


class RunResult(BaseModel):
    run_id: uuid.UUID
    status: RunStatus
    message: str
    session_id: uuid.UUID
    session_name: str | None
    user_id: uuid.UUID
    agent_id: str
    user_message_id: uuid.UUID
    assistant_message_id: uuid.UUID
    tool_calls: list[ToolCall]
    tool_outputs: list[ToolOutput]
    usage: Usage


@dataclass(frozen=True, slots=True)
class StartedRun:
    """What a run's first unit of work committed and read, for the model call; with `feed`, the
    run is streamed (its events are kept as it goes)."""

    agent: Agent
    session: Session
    user_message: Message
    history: list[Message]
    prompt: str
    run: Run
    feed: RunFeed | None = None


class _Busy(Exception):
    """Another run holds the session: roll back and try again."""

    def __init__(self, session_id: uuid.UUID) -> None:
        self.session_id = session_id


class _Turns:
    """Wakes a run waiting for a busy session as soon as a run of this process gives the session
    back; a run of another process is noticed by polling."""

    def __init__(self) -> None:
        self._released: dict[uuid.UUID, asyncio.Event] = {}

    async def wait(self, session_id: uuid.UUID, at_most: float) -> None:
        event = self._released.setdefault(session_id, asyncio.Event())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), at_most)
        if self._released.get(session_id) is event:  # released elsewhere, or not yet: keep no entry
            del self._released[session_id]

    def release(self, session_id: uuid.UUID) -> None:
        event = self._released.pop(session_id, None)
        if event is not None:
            event.set()


def _question(request: RunRequest, session: Session) -> Message:
    """The run's user message in `session`, stamped now: once the turn is ours, so it sorts
    after the session's last reply."""
    return Message(
        session_id=session.id,
        user_id=session.user_id,
        agent_id=session.agent_id,
        role=Role.USER,
        text_content=request.message_content,
        media_url=request.media_url,
        mime_type=request.mime_type,
        message_type=request.message_type,
        context=request.context,
        created_at=utcnow(),
    )


def _run_of(run_id: uuid.UUID, session: Session, question: Message) -> Run:
    """The run's record, `running` from its user message's time on."""
    return Run(
        id=run_id,
        session_id=session.id,
        agent_id=session.agent_id,
        user_id=session.user_id,
        status=RunStatus.RUNNING,
        user_message_id=question.id,
        created_at=question.created_at,
        started_at=question.created_at,
    )


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


def _cancelled(run: Run) -> Conflict:
    error = Conflict("the run was cancelled", code="run_cancelled")
    error.details["run_id"] = str(run.id)
    return error


class _Raced(Exception):
    """A concurrent first run created the named session first: roll back and try again."""


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
        self._turns = _Turns()

    async def __call__(
        self, agent_id_or_name: str, request: RunRequest, *, on_user_message_kept: Callable[[], None] = lambda: None
    ) -> RunResult:
        """The reply to `request`. `on_user_message_kept()` is called once the user message is
        committed: from then on, a failure has written it."""
        started = await self.start(agent_id_or_name, request)
        on_user_message_kept()
        return await self.finish(started)

    async def start(self, agent_id_or_name: str, request: RunRequest, *, streamed: bool = False) -> StartedRun:
        """A run's first step (*prepare*): everything a refused request must not write, checked
        and written at once. With `streamed`, the run keeps its events as it goes (`run.created`
        with the run itself)."""
        run_id = new_id()
        feed = RunFeed(self._storage, run_id) if streamed else None
        return await self._prepare(agent_id_or_name, request, run_id, feed)

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
            raise _cancelled(run) from None
        except Exception as e:
            # The user message stays; the run ends failed and the session is free for the next
            # run, whatever the model or the storage did.
            await self._fail(run, token, e)
            if isinstance(e, DomainError):
                e.details["run_id"] = str(run.id)
            raise
        self._turns.release(run.session_id)
        if not finished:
            raise _cancelled(run)
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
        feed = started.feed
        if feed is None:
            raise ValueError("the run was not started streamed")
        task = asyncio.get_running_loop().create_task(self._drive(started, feed, failure))
        self._driving.add(task)
        task.add_done_callback(self._driving.discard)
        return feed.follow(keep_alive=keep_alive)

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
        self, agent_ref: str, request: RunRequest, run_id: uuid.UUID, feed: RunFeed | None
    ) -> StartedRun:
        deadline = time.monotonic() + self._session_wait
        pause = 0.002
        while True:
            try:
                return await self._storage.run(lambda uow: self._prepare_once(uow, agent_ref, request, run_id, feed))
            except _Raced:
                continue
            except _Busy as busy:
                if time.monotonic() + pause > deadline:
                    raise Conflict(
                        f"the session is busy with another run (waited {self._session_wait:g} s)", code="session_busy"
                    ) from None
                await self._turns.wait(busy.session_id, pause)
            pause = min(pause * 1.5, 0.05)

    async def _prepare_once(
        self, uow: UnitOfWork, agent_ref: str, request: RunRequest, run_id: uuid.UUID, feed: RunFeed | None
    ) -> StartedRun:
        found = await uow.agents.resolve_with_bio(agent_ref)
        if found is None:
            raise NotFound(f"no agent {agent_ref!r}", key="agent_id_or_name")
        agent, bio = found
        if not agent.active:
            raise Conflict(f"agent {agent.name!r} is inactive", code="agent_inactive", key="agent_id_or_name")
        lease = RunLease(lease_token(run_id), utcnow() + self._lease)
        user = await self._user(uow, request)
        session, new, stored = await self._session(uow, agent, request, user, lease, run_id)
        read_history = request.message_limit and not new  # a session made just now has none
        history = await uow.messages.last(session.id, request.message_limit) if read_history else []
        if stored is None:
            user_message = _question(request, session)
            run = _run_of(run_id, session, user_message)
            await uow.runs.add(run, user_message=user_message)  # one statement where the storage can
        else:
            user_message, run = stored
        prompt = await self._system_prompt(uow, agent, bio, session, request.system_prompt)
        if feed is not None:
            created = feed.created(
                {
                    "run_id": str(run.id),
                    "session_id": str(session.id),
                    "session_name": session.name,
                    "user_id": str(session.user_id),
                    "agent_id": agent.id,
                    "user_message_id": str(user_message.id),
                }
            )
            await uow.run_events.add_many([created])
        return StartedRun(agent, session, user_message, history, prompt, run, feed)

    async def _user(self, uow: UnitOfWork, request: RunRequest) -> User | None:
        """The run's user (SPEC §3 step 2); None when it is to be the named session's owner or new."""
        fields = request.user.model_dump(exclude_unset=True) if request.user else {}
        if request.user_id is not None:
            user, created = await uow.users.get_or_create(User(id=request.user_id, **fields))
        elif fields.get("email") is not None:
            user, created = await uow.users.get_or_create_by_email(User(**fields))
        else:
            return None
        if created or not fields:
            return user
        if "user_data" in fields:
            fields["user_data"] = {**user.user_data, **fields["user_data"]}  # merged key by key
        updated = await uow.users.update(user.id, UserPatch.model_validate(fields))
        assert updated is not None
        return updated

    async def _session(
        self, uow: UnitOfWork, agent: Agent, request: RunRequest, user: User | None, lease: RunLease, run_id: uuid.UUID
    ) -> tuple[Session, bool, tuple[Message, Run] | None]:
        """The run's session (SPEC §3 step 3), held by `lease` for this run; whether it is new;
        and the user message and the run when they were stored with the session. A found one must
        belong to this user and agent and be open; a busy one is `_Busy`."""
        now = utcnow()
        if request.session_id is None and request.session_name is None:
            # A new session, with its new user if any, and the question: one statement where the
            # storage can.
            if user is None:
                new_owner = owner = User()
            else:
                new_owner, owner = None, user
            new = Session(user_id=owner.id, agent_id=agent.id, platform=request.session_origin)
            question = _question(request, new)
            run = _run_of(run_id, new, question)
            await uow.sessions.add(new, lease=lease, owner=new_owner, first_message=question, run=run)
            return new, True, (question, run)
        if request.session_id is not None:
            session = await uow.sessions.get(request.session_id)
            if session is None:
                raise NotFound(f"no session {request.session_id}", key="session_id")
            claimed = False
        else:
            name = request.session_name
            assert name is not None
            # The common case in one statement: the session is there and free.
            session = await uow.sessions.claim_run_by_name(name, lease.token, now, lease.until)
            claimed = session is not None
            session = session or await uow.sessions.get_by_name(name)
            if session is None:
                owner = user or await uow.users.add(User())
                new = Session(name=name, user_id=owner.id, agent_id=agent.id, platform=request.session_origin)
                session, created = await uow.sessions.get_or_create_by_name(new, lease=lease)
                if created:
                    return session, True, None
                if user is None:
                    raise _Raced  # our new user would be left behind: start over and join theirs
        # A claim a check refuses is rolled back with the rest of the unit of work.
        if (user is not None and session.user_id != user.id) or session.agent_id != agent.id:
            raise Conflict("the session belongs to another user or agent", code="session_owner_mismatch", key="session")
        if session.finished_at is not None:
            raise Conflict("the session is finished", code="session_finished", key="session")
        if not claimed and not await uow.sessions.claim_run(session.id, lease.token, now, lease.until):
            raise _Busy(session.id)
        return session, False, None

    async def _system_prompt(
        self, uow: UnitOfWork, agent: Agent, bio: AgentBio | None, session: Session, override: str | None
    ) -> str:
        text = system_prompt.choose(agent, override, bio)
        if not system_prompt.needs_memories(text):
            return text
        memories = await uow.memories.for_run(agent.id, session.user_id, ReadMode.SYSTEM_PROMPT, session.id)
        return system_prompt.fill(text, memories)
