"""Model-based test: the memory adapter and SQLite, driven by the same random operations, agree.

Every rule runs one operation on both adapters, each in its own committed unit of work, and checks
that they answered alike (the same result, or the same error class and key); after every step the
whole stored state of both is compared. Names, emails and timestamps come from small pools, and ids
are often reused (the machine remembers the id of every row it wrote, deleted since or not), so
duplicates, ties and missing parents happen all the time.

Ids are drawn with `st.data()` from lists kept on the machine rather than from Bundles: a Bundle
inside a composite strategy (`st.uuids() | bundle`) makes Hypothesis discard the example whenever
the bundle is still empty, which fails its filtering health check.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from adapters.storage.memory import MemoryStorage
from adapters.storage.sql.database import SqliteStorage
from agentkeep_testing import strategies as s
from domain.paging import Paging
from domain.patches import (
    AgentBioPatch,
    AgentPatch,
    MemoryPatch,
    MessagePatch,
    ProfileCounts,
    SessionPatch,
    UserPatch,
)
from domain.values import ReadMode
from tests.contract.comparison import Work, outcome, snapshot

T0 = datetime(2024, 1, 1, tzinfo=UTC)
TIMES = st.sampled_from([T0, T0 + timedelta(microseconds=1), T0 + timedelta(hours=1)])
EMAILS = st.sampled_from(["ada@example.com", "Ada@Example.com", "bob@example.com"])
AGENT_NAMES = st.sampled_from(["alpha", "ALPHA", "beta", "gamma.bsky.social"])
SESSION_NAMES = st.sampled_from(["daily", "Daily", "chat"])
MEMORY_NAMES = st.sampled_from(["prefs", "Prefs", "rules"])
KINDS = ("users", "agents", "bios", "profiles", "sessions", "messages", "memories")
# Parents that have children, so that reads of children mostly find some.
PARENTS = ("agents with bios", "sessions with messages", "agents with memories")
PAGINGS = st.builds(Paging, page=st.integers(1, 3), page_size=st.integers(1, 4), sort_desc=st.booleans())


class StorageComparison(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        # One event loop for the whole run: the adapters are async, the machine is not.
        self.loop = asyncio.new_event_loop()
        self.directory = tempfile.mkdtemp(prefix="agentkeep-state-machine-")
        self.memory = MemoryStorage()
        self.sqlite = SqliteStorage(f"sqlite:///{self.directory}/t.db")
        self.loop.run_until_complete(self.sqlite.create_schema())
        self.seen: dict[str, list[Any]] = {kind: [] for kind in KINDS + PARENTS}

    def teardown(self) -> None:
        try:
            self.loop.run_until_complete(self.memory.close())
            self.loop.run_until_complete(self.sqlite.close())
        finally:
            self.loop.close()
            shutil.rmtree(self.directory, ignore_errors=True)

    def both(self, work: Work) -> bool:
        """Run `work` on both adapters; they must answer alike. Whether it succeeded."""
        in_memory = self.loop.run_until_complete(outcome(self.memory, work))
        in_sqlite = self.loop.run_until_complete(outcome(self.sqlite, work))
        assert in_memory == in_sqlite
        return in_memory[0] == "ok"

    def known(self, kind: str) -> st.SearchStrategy[Any]:
        """The id of a row written before (it may have been deleted since)."""
        return st.sampled_from(self.seen[kind])

    def any_id(self, kind: str, known_in_10: int = 8) -> st.SearchStrategy[Any]:
        """A known id (`known_in_10` times in ten), or a new one: a missing parent, a new row."""
        # Mostly 32-hex agent ids: Hypothesis draws a few short DIDs over and over.
        fresh = st.uuids().map(lambda u: u.hex) | s.dids() if "agents" in kind else st.uuids()
        if not self.seen[kind]:
            return fresh
        return st.integers(1, 10).flatmap(lambda n: self.known(kind) if n <= known_in_10 else fresh)

    def new_id(self, kind: str) -> st.SearchStrategy[Any]:
        """The id of a row to write: new, but now and then one taken already."""
        return self.any_id(kind, known_in_10=2)

    def remember(self, kind: str, *ids: Any) -> None:
        for entity_id in ids:
            if entity_id not in self.seen[kind]:
                self.seen[kind].append(entity_id)

    @initialize(data=st.data())
    def a_user_an_agent_and_a_session(self, data: st.DataObject) -> None:
        """Something to hang the first rows on (most draws of a parent id then find one)."""
        user = data.draw(s.users(email=st.none(), created_at=TIMES))
        agent = data.draw(s.agents(names=st.just("base"), created_at=TIMES))
        session = data.draw(s.sessions(user.id, agent.id, name=st.none(), created_at=TIMES))
        for kind, entity, add in (
            ("users", user, lambda uow: uow.users.add(user)),
            ("agents", agent, lambda uow: uow.agents.add(agent)),
            ("sessions", session, lambda uow: uow.sessions.add(session)),
        ):
            assert self.both(add)
            self.remember(kind, entity.id)

    @invariant()
    def stored_state_agrees(self) -> None:
        in_memory = self.loop.run_until_complete(self.memory.run(snapshot))
        in_sqlite = self.loop.run_until_complete(self.sqlite.run(snapshot))
        assert in_memory == in_sqlite

    # Users

    @rule(data=st.data(), how=st.sampled_from(["add", "get_or_create", "get_or_create_by_email"]))
    def add_user(self, data: st.DataObject, how: str) -> None:
        user = data.draw(s.users(ids=self.new_id("users"), email=st.none() | EMAILS, created_at=TIMES))
        if how == "get_or_create_by_email" and user.email is not None:
            done = self.both(lambda uow: uow.users.get_or_create_by_email(user))
        elif how == "get_or_create":
            done = self.both(lambda uow: uow.users.get_or_create(user))
        else:
            done = self.both(lambda uow: uow.users.add(user))
        if done:
            self.remember("users", user.id)

    @precondition(lambda self: self.seen["users"])
    @rule(data=st.data(), patch=s.user_patches(email=st.none() | EMAILS))
    def update_user(self, data: st.DataObject, patch: UserPatch) -> None:
        user_id = data.draw(self.known("users"))
        self.both(lambda uow: uow.users.update(user_id, patch))

    @precondition(lambda self: self.seen["users"])
    @rule(data=st.data())
    def delete_user(self, data: st.DataObject) -> None:
        user_id = data.draw(self.known("users"))
        self.both(lambda uow: uow.users.delete(user_id))

    @rule(data=st.data(), email=EMAILS, paging=PAGINGS, by_email=st.booleans())
    def read_users(self, data: st.DataObject, email: str, paging: Paging, by_email: bool) -> None:
        user_id = data.draw(self.any_id("users"))
        self.both(lambda uow: uow.users.get(user_id))
        self.both(lambda uow: uow.users.get_by_email(email))
        self.both(lambda uow: uow.users.list(paging, email=email if by_email else None))

    # Agents, bios, profile metadata

    @rule(data=st.data())
    def add_agent(self, data: st.DataObject) -> None:
        agent = data.draw(s.agents(ids=self.new_id("agents"), names=AGENT_NAMES, created_at=TIMES))
        if self.both(lambda uow: uow.agents.add(agent)):
            self.remember("agents", agent.id)

    @precondition(lambda self: self.seen["agents"])
    @rule(data=st.data(), patch=s.agent_patches(names=AGENT_NAMES))
    def update_agent(self, data: st.DataObject, patch: AgentPatch) -> None:
        agent_id = data.draw(self.known("agents"))
        self.both(lambda uow: uow.agents.update(agent_id, patch))

    @precondition(lambda self: self.seen["agents"])
    @rule(data=st.data())
    def delete_agent(self, data: st.DataObject) -> None:
        agent_id = data.draw(self.known("agents"))
        self.both(lambda uow: uow.agents.delete(agent_id))

    @rule(data=st.data(), name=AGENT_NAMES, paging=PAGINGS, active_only=st.booleans())
    def read_agents(self, data: st.DataObject, name: str, paging: Paging, active_only: bool) -> None:
        key = data.draw(self.any_id("agents") | st.just(name))
        self.both(lambda uow: uow.agents.get(key))
        self.both(lambda uow: uow.agents.get_by_name(key))
        self.both(lambda uow: uow.agents.resolve(key))
        self.both(lambda uow: uow.agents.list(paging, active_only=active_only))

    @rule(data=st.data())
    def add_bio(self, data: st.DataObject) -> None:
        bio = data.draw(s.agent_bios(self.any_id("agents"), ids=self.new_id("bios"), created_at=TIMES))
        if self.both(lambda uow: uow.bios.add(bio)):
            self.remember("bios", bio.id)
            self.remember("agents with bios", bio.agent_id)

    @precondition(lambda self: self.seen["bios"])
    @rule(data=st.data(), patch=s.agent_bio_patches())
    def update_bio(self, data: st.DataObject, patch: AgentBioPatch) -> None:
        bio_id = data.draw(self.known("bios"))
        self.both(lambda uow: uow.bios.update(bio_id, patch))

    @precondition(lambda self: self.seen["bios"])
    @rule(data=st.data())
    def delete_bio(self, data: st.DataObject) -> None:
        bio_id = data.draw(self.known("bios"))
        self.both(lambda uow: uow.bios.delete(bio_id))

    @rule(data=st.data(), paging=PAGINGS)
    def read_bios(self, data: st.DataObject, paging: Paging) -> None:
        agent_id, bio_id = data.draw(self.any_id("agents with bios")), data.draw(self.any_id("bios"))
        self.both(lambda uow: uow.bios.get(bio_id))
        self.both(lambda uow: uow.bios.latest(agent_id))
        self.both(lambda uow: uow.bios.list(agent_id, paging))

    @rule(data=st.data(), counts=st.none() | s.profile_counts())
    def upsert_profile(self, data: st.DataObject, counts: ProfileCounts | None) -> None:
        metadata = data.draw(s.profile_metadata(self.any_id("agents"), ids=self.new_id("profiles"), created_at=TIMES))
        if self.both(lambda uow: uow.profiles.upsert(metadata, counts)):
            self.remember("profiles", metadata.id)

    @rule(data=st.data())
    def delete_profile(self, data: st.DataObject) -> None:
        agent_id = data.draw(self.any_id("agents"))
        self.both(lambda uow: uow.profiles.delete(agent_id))

    # Sessions

    @rule(data=st.data(), by_name=st.booleans())
    def add_session(self, data: st.DataObject, by_name: bool) -> None:
        session = data.draw(
            s.sessions(
                self.any_id("users"),
                self.any_id("agents"),
                name=st.none() | SESSION_NAMES,
                ids=self.new_id("sessions"),
                created_at=TIMES,
            )
        )
        if by_name and session.name is not None:
            done = self.both(lambda uow: uow.sessions.get_or_create_by_name(session))
        else:
            done = self.both(lambda uow: uow.sessions.add(session))
        if done:
            self.remember("sessions", session.id)

    @precondition(lambda self: self.seen["sessions"])
    @rule(data=st.data(), patch=s.session_patches(names=st.none() | SESSION_NAMES))
    def update_session(self, data: st.DataObject, patch: SessionPatch) -> None:
        session_id = data.draw(self.known("sessions"))
        self.both(lambda uow: uow.sessions.update(session_id, patch))

    @precondition(lambda self: self.seen["sessions"])
    @rule(data=st.data(), at=TIMES)
    def finish_session(self, data: st.DataObject, at: datetime) -> None:
        session_id = data.draw(self.known("sessions"))
        self.both(lambda uow: uow.sessions.finish(session_id, at))

    @precondition(lambda self: self.seen["sessions"])
    @rule(data=st.data())
    def delete_session(self, data: st.DataObject) -> None:
        session_id = data.draw(self.known("sessions"))
        self.both(lambda uow: uow.sessions.delete(session_id))

    @precondition(lambda self: self.seen["sessions"])
    @rule(data=st.data(), token=st.sampled_from(["t1", "t2"]), now=TIMES, release=st.booleans())
    def lease_session(self, data: st.DataObject, token: str, now: datetime, release: bool) -> None:
        session_id = data.draw(self.known("sessions"))
        if release:
            self.both(lambda uow: uow.sessions.release_run(session_id, token))
        else:
            self.both(lambda uow: uow.sessions.claim_run(session_id, token, now, now + timedelta(minutes=1)))

    @rule(data=st.data(), name=SESSION_NAMES, paging=PAGINGS, filter_user=st.booleans(), filter_agent=st.booleans())
    def read_sessions(
        self, data: st.DataObject, name: str, paging: Paging, filter_user: bool, filter_agent: bool
    ) -> None:
        session_id = data.draw(self.any_id("sessions"))
        user_id = data.draw(self.any_id("users")) if filter_user else None
        agent_id = data.draw(self.any_id("agents")) if filter_agent else None
        self.both(lambda uow: uow.sessions.get(session_id))
        self.both(lambda uow: uow.sessions.get_by_name(name))
        self.both(lambda uow: uow.sessions.list(paging, user_id=user_id, agent_id=agent_id))

    # Messages

    @rule(data=st.data(), size=st.integers(1, 3), one_by_one=st.booleans())
    def add_messages(self, data: st.DataObject, size: int, one_by_one: bool) -> None:
        a_message = s.messages(
            self.any_id("sessions"),
            st.none() | self.any_id("users"),
            st.none() | self.any_id("agents"),
            ids=self.new_id("messages"),
            created_at=TIMES,
        )
        batch = [data.draw(a_message) for _ in range(1 if one_by_one else size)]
        if one_by_one:
            done = self.both(lambda uow: uow.messages.add(batch[0]))
        else:
            done = self.both(lambda uow: uow.messages.add_many(batch))
        if done:
            self.remember("messages", *(m.id for m in batch))
            self.remember("sessions with messages", *(m.session_id for m in batch))

    @precondition(lambda self: self.seen["messages"])
    @rule(data=st.data(), patch=s.message_patches())
    def update_message(self, data: st.DataObject, patch: MessagePatch) -> None:
        message_id = data.draw(self.known("messages"))
        self.both(lambda uow: uow.messages.update(message_id, patch))

    @precondition(lambda self: self.seen["messages"])
    @rule(data=st.data())
    def delete_message(self, data: st.DataObject) -> None:
        message_id = data.draw(self.known("messages"))
        self.both(lambda uow: uow.messages.delete(message_id))

    @rule(data=st.data(), paging=PAGINGS, hide_tools=st.booleans(), limit=st.integers(0, 5))
    def read_messages(self, data: st.DataObject, paging: Paging, hide_tools: bool, limit: int) -> None:
        session_id = data.draw(self.any_id("sessions with messages"))
        message_id = data.draw(self.any_id("messages"))
        self.both(lambda uow: uow.messages.get(message_id))
        self.both(lambda uow: uow.messages.list(session_id, paging, hide_tools=hide_tools))
        self.both(lambda uow: uow.messages.last(session_id, limit))

    # Memories

    @rule(data=st.data(), size=st.integers(1, 3), one_by_one=st.booleans())
    def add_memories(self, data: st.DataObject, size: int, one_by_one: bool) -> None:
        a_memory = s.memories(
            self.any_id("agents"),
            st.none() | self.any_id("users"),
            st.none() | self.any_id("sessions"),
            names=MEMORY_NAMES,
            ids=self.new_id("memories"),
            created_at=TIMES,
        )
        batch = [data.draw(a_memory) for _ in range(1 if one_by_one else size)]
        if one_by_one:
            done = self.both(lambda uow: uow.memories.add(batch[0]))
        else:
            done = self.both(lambda uow: uow.memories.add_many(batch))
        if done:
            self.remember("memories", *(m.id for m in batch))
            self.remember("agents with memories", *(m.agent_id for m in batch))

    @precondition(lambda self: self.seen["memories"])
    @rule(data=st.data(), patch=s.memory_patches(names=MEMORY_NAMES))
    def update_memory(self, data: st.DataObject, patch: MemoryPatch) -> None:
        memory_id = data.draw(self.known("memories"))
        self.both(lambda uow: uow.memories.update(memory_id, patch))

    @precondition(lambda self: self.seen["memories"])
    @rule(data=st.data())
    def delete_memory(self, data: st.DataObject) -> None:
        memory_id = data.draw(self.known("memories"))
        self.both(lambda uow: uow.memories.delete(memory_id))

    @rule(
        data=st.data(),
        read_mode=st.sampled_from(ReadMode),
        name=MEMORY_NAMES,
        paging=PAGINGS,
        filters=st.sets(st.sampled_from(["agent_id", "user_id", "session_id", "read_mode", "name"])),
    )
    def read_memories(
        self, data: st.DataObject, read_mode: ReadMode, name: str, paging: Paging, filters: set[str]
    ) -> None:
        memory_id = data.draw(self.any_id("memories"))
        agent_id = data.draw(self.any_id("agents with memories"))
        user_id = data.draw(st.none() | self.any_id("users"))
        session_id = data.draw(st.none() | self.any_id("sessions"))
        given = {"agent_id": agent_id, "user_id": user_id, "session_id": session_id, "read_mode": read_mode}
        chosen: dict[str, Any] = {k: v for k, v in {**given, "name": name}.items() if k in filters}
        self.both(lambda uow: uow.memories.get(memory_id))
        self.both(lambda uow: uow.memories.get_by_name(name, agent_id, user_id))
        self.both(lambda uow: uow.memories.list(paging, **chosen))
        self.both(lambda uow: uow.memories.for_run(agent_id, user_id, read_mode, session_id))


StorageComparison.TestCase.settings = settings(max_examples=50, stateful_step_count=30, deadline=None)
TestStorageComparison = StorageComparison.TestCase
