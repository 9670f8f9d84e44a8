"""run-agent's first step, *prepare* (SPEC §3 steps 1 to 4), in one unit of work: everything a
refused run must not write is checked and written at once."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from agentkeep.application import system_prompt
from agentkeep.application.idempotency import RunKey
from agentkeep.application.run_feed import RunFeed
from agentkeep.application.run_values import RunRequest
from agentkeep.application.runs import lease_token
from agentkeep.domain.errors import Conflict, NotFound
from agentkeep.domain.models import Agent, AgentBio, Message, Run, Session, User
from agentkeep.domain.patches import RunPatch, UserPatch
from agentkeep.domain.ports.sessions import RunLease
from agentkeep.domain.ports.unit_of_work import UnitOfWork
from agentkeep.domain.values import ACTIVE_RUN_STATUSES, MultitaskStrategy, ReadMode, Role, RunStatus, utcnow


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
    interrupted: uuid.UUID | None = None  # the run this one cancelled (`interrupt`, `rollback`)


class Busy(Exception):
    """Another run holds the session: roll back and try again."""

    def __init__(self, session_id: uuid.UUID) -> None:
        self.session_id = session_id


class Raced(Exception):
    """A concurrent first run created the named session first: roll back and try again."""


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


def _run_of(run_id: uuid.UUID, session: Session, question: Message, request: RunRequest) -> Run:
    """The run's record, `running` from its user message's time on."""
    return Run(
        id=run_id,
        session_id=session.id,
        agent_id=session.agent_id,
        user_id=session.user_id,
        status=RunStatus.RUNNING,
        multitask_strategy=request.multitask_strategy,
        user_message_id=question.id,
        created_at=question.created_at,
        started_at=question.created_at,
    )


async def prepare(
    uow: UnitOfWork,
    agent_ref: str,
    request: RunRequest,
    run_id: uuid.UUID,
    lease_for: timedelta,
    feed: RunFeed | None,
    key: RunKey | None = None,
) -> StartedRun:
    """A run's *prepare* step in `uow`: the agent, the user, the session and its lease (held
    `lease_for`), the history, the user message and the run's record, with `feed` its
    `run.created`, and with `key` the run named on its Idempotency-Key. `Busy` when another run
    holds the session, `Raced` when a concurrent first run made the named session first (roll
    back and try again, both)."""
    found = await uow.agents.resolve_with_bio(agent_ref)
    if found is None:
        raise NotFound(f"no agent {agent_ref!r}", key="agent_id_or_name")
    agent, bio = found
    if not agent.active:
        raise Conflict(f"agent {agent.name!r} is inactive", code="agent_inactive", key="agent_id_or_name")
    lease = RunLease(lease_token(run_id), utcnow() + lease_for)
    user = await _user(uow, request)
    session, new, stored, interrupted = await _session(uow, agent, request, user, lease, run_id)
    read_history = request.message_limit and not new  # a session made just now has none
    history = await uow.messages.last(session.id, request.message_limit) if read_history else []
    if stored is None:
        user_message = _question(request, session)
        run = _run_of(run_id, session, user_message, request)
        await uow.runs.add(run, user_message=user_message)  # one statement where the storage can
    else:
        user_message, run = stored
    if key is not None:
        await key.attach(uow.idempotency_keys, run.id)
    prompt = await _system_prompt(uow, agent, bio, session, request.system_prompt)
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
    return StartedRun(agent, session, user_message, history, prompt, run, feed, interrupted)


async def _user(uow: UnitOfWork, request: RunRequest) -> User | None:
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
    uow: UnitOfWork, agent: Agent, request: RunRequest, user: User | None, lease: RunLease, run_id: uuid.UUID
) -> tuple[Session, bool, tuple[Message, Run] | None, uuid.UUID | None]:
    """The run's session (SPEC §3 step 3), held by `lease` for this run; whether it is new;
    and the user message and the run when they were stored with the session. A found one must
    belong to this user and agent and be open; a busy one is `Busy`."""
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
        run = _run_of(run_id, new, question, request)
        await uow.sessions.add(new, lease=lease, owner=new_owner, first_message=question, run=run)
        return new, True, (question, run), None
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
                return session, True, None, None
            if user is None:
                raise Raced  # our new user would be left behind: start over and join theirs
    # A claim a check refuses is rolled back with the rest of the unit of work.
    if (user is not None and session.user_id != user.id) or session.agent_id != agent.id:
        raise Conflict("the session belongs to another user or agent", code="session_owner_mismatch", key="session")
    if session.finished_at is not None:
        raise Conflict("the session is finished", code="session_finished", key="session")
    interrupted = None
    if not claimed and not await uow.sessions.claim_run(session.id, lease.token, now, lease.until):
        strategy = request.multitask_strategy
        if strategy is MultitaskStrategy.REJECT:
            raise Conflict("the session is busy with another run", code="session_busy", key="session")
        if strategy is MultitaskStrategy.ENQUEUE:
            raise Busy(session.id)
        interrupted = await _interrupt(uow, session, rollback=strategy is MultitaskStrategy.ROLLBACK)
        if interrupted is None or not await uow.sessions.claim_run(session.id, lease.token, now, lease.until):
            raise Busy(session.id)
    return session, False, None, interrupted


async def _interrupt(uow: UnitOfWork, session: Session, *, rollback: bool) -> uuid.UUID | None:
    """Cancel the session's active run and give its lease back (SPEC §9.6 `interrupt`); with
    `rollback`, delete every message it wrote, its user message too. Its id; None when no run
    of the session is active (the lease's holder has no record: it is waited for)."""
    active = await uow.runs.active(session.id)
    if active is None:
        return None
    cancelled = RunPatch(status=RunStatus.CANCELLED, finished_at=utcnow())
    if await uow.runs.update(active.id, cancelled, when=ACTIVE_RUN_STATUSES) is None:
        return None
    await uow.sessions.release_run(session.id, lease_token(active.id))
    if rollback:
        for message_id in (active.user_message_id, active.assistant_message_id):
            if message_id is not None:
                await uow.messages.delete(message_id)
    return active.id


async def _system_prompt(
    uow: UnitOfWork, agent: Agent, bio: AgentBio | None, session: Session, override: str | None
) -> str:
    text = system_prompt.choose(agent, override, bio)
    if not system_prompt.needs_memories(text):
        return text
    memories = await uow.memories.for_run(agent.id, session.user_id, ReadMode.SYSTEM_PROMPT, session.id)
    return system_prompt.fill(text, memories)
