"""Model-based test: the memory adapter and another storage (SQLite, or one `--agentkeep-storage`
names), driven by the same random operations, agree.

Every rule runs one operation on both adapters, each in its own committed unit of work, and checks
that they answered alike (the same result, or the same error class and key); after every step the
whole stored state of both is compared, `updated_at` aside (each adapter stamps it with its clock).

Each run starts from a small world (two users, two agents, sessions with messages of equal
timestamps, bios, a profile, memories bound and unbound), so deletes cascade and ties show from the
first step. Names, emails and timestamps come from small pools, so duplicates and ties stay frequent.
Ids are drawn from what the machine knows at the time of the draw (`st.runner()`): the rows that
exist now (read from the memory adapter after each step, once the invariant has shown it equal to
the other storage), the rows deleted since, and new ids; a write mostly names parents that exist, so
the state grows. (Bundles would not do: a Bundle inside a composite strategy, `st.uuids() | bundle`, makes
Hypothesis discard the example while the bundle is empty, which fails its filtering health check.)
The run leases, which no read shows, are probed in units of work left without commit.

Checked by mutation: each of a dozen one-line bugs planted in the memory adapter (tie order, sort
direction, cascades, for_run order, case of emails, finish, leases, upsert, hide_tools, last(n))
fails this test within a few seconds.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from agentkeep.adapters.storage.memory import MemoryStorage
from agentkeep.domain.models import Agent, AgentBio, AgentProfileMetadata, Memory, Message, Session, User
from agentkeep.domain.paging import Paging
from agentkeep.domain.patches import (
    AgentBioPatch,
    AgentPatch,
    MemoryPatch,
    MessagePatch,
    ProfileCounts,
    SessionPatch,
    UserPatch,
)
from agentkeep.domain.ports import Storage, UnitOfWork
from agentkeep.domain.values import ReadMode
from agentkeep.testing import strategies as s
from agentkeep.testing.builders import add_to
from agentkeep.testing.comparison import Work, outcome, row_ids, snapshot
from agentkeep.testing.storages import StorageFactory, fresh, ready

T0 = datetime(2024, 1, 1, tzinfo=UTC)
# Few distinct times, so that ties of `created_at` are common (order: then insertion, or id).
TIMES = st.sampled_from([T0, T0 + timedelta(microseconds=1), T0 + timedelta(hours=1)])
EMAIL_POOL = ["ada@example.com", "Ada@Example.com", "bob@example.com"]
EMAILS = st.sampled_from(EMAIL_POOL)
NAME_POOL = ["alpha", "ALPHA", "beta", "gamma.bsky.social", "delta"]
AGENT_NAMES = st.sampled_from(NAME_POOL)
# A lease lasts one step of this pool, so a claim at the time another ends meets it exactly.
LEASE = timedelta(minutes=1)
LEASE_POOL = [T0, T0 + LEASE, T0 + 2 * LEASE]
LEASE_TIMES = st.sampled_from(LEASE_POOL)
SESSION_NAMES = st.sampled_from(["daily", "Daily", "chat"])
MEMORY_NAMES = st.sampled_from(["prefs", "Prefs", "rules"])
PAGINGS = st.builds(Paging, page=st.integers(1, 3), page_size=st.integers(1, 4), sort_desc=st.booleans())
KINDS = ("users", "agents", "bios", "profile_metadata", "sessions", "messages", "memories")
FRESH_AGENT_IDS = st.uuids().map(lambda u: u.hex) | s.dids()


def _fresh(kind: str) -> st.SearchStrategy[Any]:
    return FRESH_AGENT_IDS if kind.startswith("agents") else st.uuids()


def _existing(kind: str) -> st.SearchStrategy[Any]:
    return st.runner().flatmap(lambda machine: machine.existing(kind))


def parent_id(kind: str) -> st.SearchStrategy[Any]:
    """The parent of a new row: mostly one that exists, now and then a missing one (NotFound)."""
    return st.one_of(*[_existing(kind)] * 6, _fresh(kind))


def own_id(kind: str) -> st.SearchStrategy[Any]:
    """The id of a new row: mostly new, now and then one taken already (a Conflict on `id`)."""
    return st.one_of(*[_fresh(kind)] * 4, _existing(kind))


def any_id(kind: str) -> st.SearchStrategy[Any]:
    """An id to read, update or delete: of a row that exists, that did, or never did."""
    deleted = st.runner().flatmap(lambda machine: machine.deleted(kind))
    return st.one_of(_existing(kind), _existing(kind), deleted, _fresh(kind))


class StorageComparison(RuleBasedStateMachine):
    """The memory adapter and `make_other()`'s storage (new and empty for each example)."""

    make_other: StorageFactory

    def __init__(self) -> None:
        super().__init__()
        # One event loop for the whole run: the adapters are async, the machine is not.
        self.loop = asyncio.new_event_loop()
        self.memory = MemoryStorage()
        self.other = self.loop.run_until_complete(ready(self.make_other))
        self.state: dict[str, Any] = {}  # the stored state after the last step
        self.rows: dict[str, list[Any]] = {}  # ids of the rows that exist now, by kind
        self.seen: dict[str, list[Any]] = {kind: [] for kind in KINDS}  # and of those that did
        self.leased: set[uuid.UUID] = set()  # sessions whose run lease a rule touched

    def teardown(self) -> None:
        try:
            self.loop.run_until_complete(self.memory.close())
            self.loop.run_until_complete(self.other.close())
        finally:
            self.loop.close()

    @invariant()
    def stored_state_agrees(self) -> None:
        in_memory = self.loop.run_until_complete(self.memory.run(snapshot))
        in_other = self.loop.run_until_complete(self.other.run(snapshot))
        assert in_memory == in_other
        # The run leases are no part of a session: ask, in a unit of work left uncommitted,
        # which sessions could be claimed at each time of the pool.
        sessions = [session["id"] for session in in_memory["sessions"] if session["id"] in self.leased]
        leases = [self.loop.run_until_complete(free_sessions(x, sessions)) for x in (self.memory, self.other)]
        assert leases[0] == leases[1]
        self.state = in_memory
        self.rows = row_ids(in_memory)
        for kind in KINDS:
            self.seen[kind] += [i for i in self.rows[kind] if i not in self.seen[kind]]

    @initialize(
        ids=st.lists(st.uuids(), min_size=22, max_size=22, unique=True), times=st.lists(TIMES, min_size=16, max_size=16)
    )
    def a_small_world(self, ids: list[uuid.UUID], times: list[datetime]) -> None:
        """Rows of every kind to start from: runs are short, and deletes, cascades, ties and
        `for_run` only show something when there are children, bound memories, equal times.
        Plain rows (the rules bring the random content); drawn ids and times keep runs repeatable."""
        id_, at = iter(ids), iter(times)
        ada = User(id=next(id_), email="ada@example.com", created_at=next(at))
        bob = User(id=next(id_), created_at=next(at))
        alpha = Agent(id=next(id_).hex, name="alpha", created_at=next(at))
        beta = Agent(id=next(id_).hex, name="beta", created_at=next(at))
        ada_alpha = Session(id=next(id_), user_id=ada.id, agent_id=alpha.id, name="daily", created_at=next(at))
        bob_alpha = Session(id=next(id_), user_id=bob.id, agent_id=alpha.id, created_at=next(at))
        ada_beta = Session(id=next(id_), user_id=ada.id, agent_id=beta.id, created_at=next(at))
        rows: list[Any] = [ada, bob, alpha, beta, ada_alpha, bob_alpha, ada_beta]
        rows += [
            AgentBio(
                id=next(id_),
                agent_id=alpha.id,
                persona_bio=f"bio {i}",
                persona_bio_source="user_provided",
                created_at=T0,
            )
            for i in range(2)
        ]
        rows += [AgentProfileMetadata(id=next(id_), agent_id=alpha.id, followers_count=1)]
        rows += [
            Message(id=next(id_), session_id=ada_alpha.id, user_id=ada.id, role="user", created_at=T0),
            Message(id=next(id_), session_id=ada_alpha.id, agent_id=alpha.id, role="assistant", created_at=T0),
            # Each user writes in the other's session too: deleting a user deletes those as well.
            Message(id=next(id_), session_id=ada_alpha.id, user_id=bob.id, role="tool", created_at=T0),
            Message(id=next(id_), session_id=bob_alpha.id, user_id=bob.id, role="user", created_at=next(at)),
            Message(id=next(id_), session_id=bob_alpha.id, user_id=ada.id, role="user", created_at=next(at)),
            Message(id=next(id_), session_id=ada_beta.id, user_id=ada.id, role="user", created_at=next(at)),
        ]
        rows += [
            Memory(id=next(id_), name="rules", content="be kind", agent_id=alpha.id, created_at=next(at)),
            Memory(
                id=next(id_),
                name="prefs",
                content={"tone": "dry"},
                agent_id=alpha.id,
                session_id=ada_alpha.id,
                created_at=next(at),
            ),
            Memory(
                id=next(id_),
                name="prefs",
                content=[1],
                agent_id=alpha.id,
                user_id=ada.id,
                session_id=bob_alpha.id,
                created_at=next(at),
            ),
            Memory(
                id=next(id_),
                name="rules",
                content=None,
                agent_id=alpha.id,
                user_id=ada.id,
                read_mode="tool_call",
                created_at=next(at),
            ),
            Memory(id=next(id_), name="rules", content="x", agent_id=alpha.id, user_id=bob.id, created_at=next(at)),
            Memory(
                id=next(id_),
                name="prefs",
                content="y",
                agent_id=beta.id,
                user_id=ada.id,
                session_id=ada_beta.id,
                created_at=next(at),
            ),
        ]
        for row in rows:
            self.both(partial(add_to, entity=row))

    def both(self, work: Work, new: tuple[str, list[Any]] | None = None) -> None:
        """Run `work` on both adapters; they must answer alike. `new` is the kind and ids of the
        rows `work` adds: a row that breaks two unique rules at once, its id and a name, may be
        refused for either (SQLite and memory name the name, PostgreSQL checks the id first), so
        a Conflict on `id` answers for one on another field when one of those ids is taken."""
        in_memory = self.loop.run_until_complete(outcome(self.memory, work))
        in_other = self.loop.run_until_complete(outcome(self.other, work))
        if new is not None and in_memory != in_other and in_memory[0] == in_other[0] == "Conflict":
            kind, ids = new
            assert "id" in (in_memory[1], in_other[1]), (in_memory, in_other)
            assert any(i in self.rows.get(kind, []) for i in ids), (in_memory, in_other)
            return
        assert in_memory == in_other

    # Where ids come from: the state of the machine (`st.runner()`) at the time of the draw.

    def existing(self, kind: str) -> st.SearchStrategy[Any]:
        """The id of a row that exists (a new id when there is none)."""
        rows = self.rows.get(kind)
        return st.sampled_from(rows) if rows else _fresh(kind)

    def deleted(self, kind: str) -> st.SearchStrategy[Any]:
        """The id of a row that existed (a new id when there was none)."""
        gone = [i for i in self.seen.get(kind, []) if i not in self.rows.get(kind, [])]
        return st.sampled_from(gone) if gone else _fresh(kind)

    # Deletes in two rules (of parents, which cascade, and of the rest), so that they stay rarer
    # than writes and the state grows.

    @rule(kind=st.sampled_from(["users", "agents", "sessions"]), data=st.data())
    def delete_parent(self, kind: str, data: st.DataObject) -> None:
        key = data.draw(any_id(kind))
        self.both(lambda uow: getattr(uow, kind).delete(key))

    @rule(kind=st.sampled_from(["bios", "profile_metadata", "messages", "memories"]), data=st.data())
    def delete_child(self, kind: str, data: st.DataObject) -> None:
        key = data.draw(any_id("agents" if kind == "profile_metadata" else kind))  # profile metadata by agent id
        self.both(lambda uow: getattr(uow, kind).delete(key))

    # Users

    @rule(
        user=s.users(ids=own_id("users"), email=st.none() | EMAILS, created_at=TIMES),
        how=st.sampled_from(["add", "get_or_create", "get_or_create_by_email"]),
    )
    def add_user(self, user: User, how: str) -> None:
        if how == "get_or_create_by_email" and user.email is not None:
            self.both(lambda uow: uow.users.get_or_create_by_email(user))
        elif how == "get_or_create":
            self.both(lambda uow: uow.users.get_or_create(user), new=("users", [user.id]))
        else:
            self.both(lambda uow: uow.users.add(user), new=("users", [user.id]))

    @rule(user_id=any_id("users"), patch=s.user_patches(email=st.none() | EMAILS))
    def update_user(self, user_id: uuid.UUID, patch: UserPatch) -> None:
        self.both(lambda uow: uow.users.update(user_id, patch))

    @rule(user_id=any_id("users"), email=EMAILS, paging=PAGINGS, by_email=st.booleans())
    def read_users(self, user_id: uuid.UUID, email: str, paging: Paging, by_email: bool) -> None:
        self.both(lambda uow: uow.users.get(user_id))
        for each in EMAIL_POOL:
            self.both(partial(get_user_by_email, email=each))
        self.both(lambda uow: uow.users.list(paging, email=email if by_email else None))

    # Agents, bios, profile metadata

    @rule(agent=s.agents(ids=own_id("agents"), names=AGENT_NAMES, created_at=TIMES))
    def add_agent(self, agent: Agent) -> None:
        self.both(lambda uow: uow.agents.add(agent), new=("agents", [agent.id]))

    @rule(agent_id=any_id("agents"), patch=s.agent_patches(names=AGENT_NAMES))
    def update_agent(self, agent_id: str, patch: AgentPatch) -> None:
        self.both(lambda uow: uow.agents.update(agent_id, patch))

    @rule(agent_id=any_id("agents"), paging=PAGINGS, active_only=st.booleans())
    def read_agents(self, agent_id: str, paging: Paging, active_only: bool) -> None:
        self.both(lambda uow: uow.agents.get(agent_id))
        for key in [agent_id, agent_id.upper(), *NAME_POOL]:
            self.both(partial(get_agent_by_name, name=key))
            self.both(partial(resolve_agent, id_or_name=key))
        self.both(lambda uow: uow.agents.list(paging, active_only=active_only))

    @rule(
        bios=parent_id("agents").flatmap(
            lambda agent_id: st.lists(
                s.agent_bios(agent_id, ids=own_id("bios"), created_at=TIMES), min_size=1, max_size=3
            )
        )
    )
    def add_bios(self, bios: list[AgentBio]) -> None:
        for bio in bios:  # one unit of work each: a clash fails that bio alone
            self.both(partial(add_to, entity=bio))

    @rule(bio_id=any_id("bios"), patch=s.agent_bio_patches())
    def update_bio(self, bio_id: uuid.UUID, patch: AgentBioPatch) -> None:
        self.both(lambda uow: uow.bios.update(bio_id, patch))

    @rule(agent_id=any_id("agents with bios"), bio_id=any_id("bios"), paging=PAGINGS)
    def read_bios(self, agent_id: str, bio_id: uuid.UUID, paging: Paging) -> None:
        self.both(lambda uow: uow.bios.get(bio_id))
        self.both(lambda uow: uow.bios.latest(agent_id))
        self.both(lambda uow: uow.bios.list(agent_id, paging))

    @rule(
        metadata=s.profile_metadata(parent_id("agents"), ids=st.uuids(), created_at=TIMES),
        counts=st.none() | s.profile_counts(),
    )
    def upsert_profile(self, metadata: AgentProfileMetadata, counts: ProfileCounts | None) -> None:
        self.both(lambda uow: uow.profile_metadata.upsert(metadata, counts))

    # Sessions

    @rule(
        session=s.sessions(
            parent_id("users"),
            parent_id("agents"),
            name=st.none() | SESSION_NAMES,
            ids=own_id("sessions"),
            created_at=TIMES,
        ),
        by_name=st.booleans(),
    )
    def add_session(self, session: Session, by_name: bool) -> None:
        if by_name and session.name is not None:
            self.both(lambda uow: uow.sessions.get_or_create_by_name(session), new=("sessions", [session.id]))
        else:
            self.both(lambda uow: uow.sessions.add(session), new=("sessions", [session.id]))

    @rule(session_id=any_id("sessions"), patch=s.session_patches(names=st.none() | SESSION_NAMES))
    def update_session(self, session_id: uuid.UUID, patch: SessionPatch) -> None:
        self.both(lambda uow: uow.sessions.update(session_id, patch))

    @rule(session_id=any_id("sessions"), at=TIMES)
    def finish_session(self, session_id: uuid.UUID, at: datetime) -> None:
        self.both(lambda uow: uow.sessions.finish(session_id, at))

    @rule(
        session_id=any_id("sessions"),
        steps=st.lists(st.tuples(st.booleans(), st.sampled_from(["t1", "t2"]), LEASE_TIMES), min_size=1, max_size=4),
    )
    def lease_session(self, session_id: uuid.UUID, steps: list[tuple[bool, str, datetime]]) -> None:
        """Claims and releases of one session's run lease, by two runs, at times a lease apart."""
        self.leased.add(session_id)
        for release, token, now in steps:
            if release:
                self.both(partial(release_run, session_id=session_id, token=token))
            else:
                self.both(partial(claim_run, session_id=session_id, token=token, now=now))

    @rule(
        session_id=any_id("sessions"),
        name=SESSION_NAMES,
        paging=PAGINGS,
        user_id=st.none() | any_id("users"),
        agent_id=st.none() | any_id("agents"),
    )
    def read_sessions(
        self, session_id: uuid.UUID, name: str, paging: Paging, user_id: uuid.UUID | None, agent_id: str | None
    ) -> None:
        self.both(lambda uow: uow.sessions.get(session_id))
        self.both(lambda uow: uow.sessions.get_by_name(name))
        self.both(lambda uow: uow.sessions.list(paging, user_id=user_id, agent_id=agent_id))

    # Messages

    @rule(
        # Messages of one session, as a run writes them: equal timestamps are frequent.
        batch=st.tuples(parent_id("sessions"), st.none() | parent_id("users"), st.none() | parent_id("agents")).flatmap(
            lambda parents: st.lists(
                s.messages(parents[0], parents[1], parents[2], ids=own_id("messages"), created_at=TIMES),
                min_size=1,
                max_size=4,
            )
        ),
        one_by_one=st.booleans(),
    )
    def add_messages(self, batch: list[Message], one_by_one: bool) -> None:
        if one_by_one:
            for message in batch:
                self.both(partial(add_to, entity=message))
        else:
            self.both(lambda uow: uow.messages.add_many(batch))

    @rule(message_id=any_id("messages"), patch=s.message_patches())
    def update_message(self, message_id: uuid.UUID, patch: MessagePatch) -> None:
        self.both(lambda uow: uow.messages.update(message_id, patch))

    @rule(
        session_id=any_id("sessions with messages"),
        message_id=any_id("messages"),
        paging=PAGINGS,
        hide_tools=st.booleans(),
        limit=st.integers(0, 5),
    )
    def read_messages(
        self, session_id: uuid.UUID, message_id: uuid.UUID, paging: Paging, hide_tools: bool, limit: int
    ) -> None:
        self.both(lambda uow: uow.messages.get(message_id))
        self.both(lambda uow: uow.messages.list(session_id, paging, hide_tools=hide_tools))
        self.both(lambda uow: uow.messages.last(session_id, limit))

    # Memories

    @rule(
        batch=st.lists(
            s.memories(
                parent_id("agents"),
                st.none() | parent_id("users"),
                st.none() | parent_id("sessions"),
                names=MEMORY_NAMES,
                ids=own_id("memories"),
                created_at=TIMES,
            ),
            min_size=1,
            max_size=3,
        ),
        one_by_one=st.booleans(),
    )
    def add_memories(self, batch: list[Memory], one_by_one: bool) -> None:
        if one_by_one:
            self.both(lambda uow: uow.memories.add(batch[0]), new=("memories", [batch[0].id]))
        else:
            self.both(lambda uow: uow.memories.add_many(batch), new=("memories", [m.id for m in batch]))

    @rule(memory_id=any_id("memories"), patch=s.memory_patches(names=MEMORY_NAMES))
    def update_memory(self, memory_id: uuid.UUID, patch: MemoryPatch) -> None:
        self.both(lambda uow: uow.memories.update(memory_id, patch))

    @rule(
        memory_id=any_id("memories"),
        memory=st.runner().flatmap(lambda machine: machine.a_memory()),
        paging=PAGINGS,
        filters=st.sets(st.sampled_from(["agent_id", "user_id", "session_id", "read_mode", "name"])),
    )
    def read_memories(self, memory_id: uuid.UUID, memory: dict[str, Any], paging: Paging, filters: set[str]) -> None:
        """Look a memory up every way there is, around one that exists (when there is one)."""
        agent_id, user_id, session_id, name = (
            memory["agent_id"],
            memory["user_id"],
            memory["session_id"],
            memory["name"],
        )
        self.both(lambda uow: uow.memories.get(memory_id))
        for owner in {user_id, None}:
            self.both(partial(memory_by_name, name=name, agent_id=agent_id, user_id=owner))
            for bound_to in {session_id, None}:
                for read_mode in ReadMode:
                    self.both(partial(memories_for_run, args=(agent_id, owner, read_mode, bound_to)))
        chosen = {key: memory[key] for key in filters}
        self.both(lambda uow: uow.memories.list(paging, **chosen))

    def a_memory(self) -> st.SearchStrategy[dict[str, Any]]:
        """A stored memory's fields, or made-up ones when there is none."""
        stored = self.state.get("memories")
        if stored:
            return st.sampled_from(stored)
        made_up = s.memories(_fresh("agents"), st.none() | st.uuids(), st.none() | st.uuids(), names=MEMORY_NAMES)
        return made_up.map(lambda m: m.model_dump())


async def free_sessions(storage: Storage, session_ids: list[uuid.UUID]) -> list[bool]:
    """Whether each session could be claimed at each time of the pool; each claim is made in a
    unit of work left without commit, so nothing is kept and the probes do not meet."""
    free = []
    for session_id in session_ids:
        for now in LEASE_POOL:
            async with storage.unit_of_work() as uow:
                free.append(await uow.sessions.claim_run(session_id, "probe", now, now + LEASE))
    return free


async def claim_run(uow: UnitOfWork, session_id: uuid.UUID, token: str, now: datetime) -> bool:
    return await uow.sessions.claim_run(session_id, token, now, now + LEASE)


async def release_run(uow: UnitOfWork, session_id: uuid.UUID, token: str) -> None:
    await uow.sessions.release_run(session_id, token)


async def get_user_by_email(uow: UnitOfWork, email: str) -> Any:
    return await uow.users.get_by_email(email)


async def get_agent_by_name(uow: UnitOfWork, name: str) -> Any:
    return await uow.agents.get_by_name(name)


async def resolve_agent(uow: UnitOfWork, id_or_name: str) -> Any:
    return await uow.agents.resolve(id_or_name)


async def memory_by_name(uow: UnitOfWork, name: str, agent_id: str, user_id: uuid.UUID | None) -> Any:
    return await uow.memories.get_by_name(name, agent_id, user_id)


async def memories_for_run(uow: UnitOfWork, args: tuple[str, uuid.UUID | None, ReadMode, uuid.UUID | None]) -> Any:
    return await uow.memories.for_run(*args)


def test_the_storage_agrees_with_memory(storage_name: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """About 30 s on SQLite. For a longer hunt: AGENTKEEP_STATE_MACHINE_EXAMPLES=1000."""
    make_other = fresh(storage_name, request, tmp_path)
    if make_other is None:
        pytest.skip("the memory adapter is what the state machine compares the others with")
    machine = type("Comparison", (StorageComparison,), {"make_other": staticmethod(make_other)})
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=int(os.environ.get("AGENTKEEP_STATE_MACHINE_EXAMPLES", "50")),
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture],
        ),
    )
