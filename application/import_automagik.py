"""import-automagik (SPEC §7): copy an automagik-agents database into agentkeep.

One `backfill` phase per table, parents first: users, agents, sessions, messages, memories. Each
batch is one transaction; every id is deterministic (integer user and agent ids through `uuid5`,
UUIDs kept), so a re-run, or a run after a crash, ends in the state of one clean run.

* **The import copies what is missing.** A row whose id agentkeep already has is `unchanged` and
  is not written again, even when the source row has changed since: agentkeep owns a row once it
  is imported (it may have been renamed or run on since), and a re-run never undoes that.
* **Nothing that can be kept is lost.** A value agentkeep cannot take is dropped from a row that
  is kept (an invalid or repeated email, a repeated session name, a memory's session that is gone)
  and reported; a row is skipped, and reported, only when it cannot stand: its parent is missing
  (`missing_user`, `missing_agent`, `missing_session`), its JSON does not parse (`bad_json`), its
  creation time cannot be read (`bad_timestamp`), a value breaks agentkeep's rules
  (`invalid_value`, `invalid_id`, `invalid_name`), or a more recently updated memory of the same
  name, agent and user wins (`duplicate_memory`).
* Parents are checked in bulk per batch, in agentkeep (not in the source), so a row whose parent
  was skipped is skipped too. A dry run writes nothing, so it remembers the ids and names of what
  it would have written (users, agents and sessions; not their rows) to plan later batches as a
  real run would.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Collection, Iterable, Sequence
from functools import lru_cache
from typing import Any

from agentkeep.application import automagik_rows
from agentkeep.application import automagik_values as values
from agentkeep.application.automagik_known import Known
from agentkeep.application.automagik_values import BadValue
from agentkeep.application.backfill import Options, Step, Tally, backfill
from agentkeep.domain.ids import ANONYMOUS_USER_ID, legacy_agent_id, legacy_user_id
from agentkeep.domain.legacy import LegacyAgent, LegacyMemory, LegacyMessage, LegacySession, LegacyUser
from agentkeep.domain.models import Agent, Memory, MemoryKey, Message, Session, User
from agentkeep.domain.ports.backfill import BackfillStorage, BackfillUnitOfWork
from agentkeep.domain.ports.legacy_sources import AutomagikSource

# The mapped ids of the legacy integers a batch names, computed once each (a uuid5 is a hash).
_user_id = lru_cache(maxsize=1 << 16)(legacy_user_id)
_agent_id = lru_cache(maxsize=1 << 12)(legacy_agent_id)


class ImportAutomagik:
    """Copies users, agents, sessions, messages and memories from an automagik-agents source;
    returns one tally per table, in that order (`Tally.table` is the source table's name)."""

    def __init__(self, storage: BackfillStorage) -> None:
        self._storage = storage

    async def __call__(self, source: AutomagikSource, options: Options) -> list[Tally]:
        counts = await source.counts()
        size = options.batch_size
        run = _Run(Known())

        async def phase(table: str, rows: AsyncIterator[list[Any]], step: Step[Any]) -> Tally:
            return await backfill(self._storage, table, rows, step, options, total=counts.get(table))

        run.users_tally = await phase("users", source.users(size), run.users)
        return [
            run.users_tally,
            await phase("agents", source.agents(size), run.agents),
            await phase("sessions", source.sessions(size), run.sessions),
            await phase("messages", source.messages(size), run.messages),
            await phase("memories", source.memories(size), run.memories),
        ]


class _Run:
    """The steps of one import, one per table (each a `backfill` Step): resolve the batch's parents
    and names in agentkeep in bulk, map each row (`automagik_rows`), write what is new."""

    def __init__(self, known: Known) -> None:
        self.known = known
        self.users_tally: Tally | None = None

    async def users(self, uow: BackfillUnitOfWork, rows: Sequence[LegacyUser], tally: Tally, *, dry_run: bool) -> None:
        existing = await self.known.user_ids(uow, [_user_id(r.id) for r in rows])
        kept: list[tuple[LegacyUser, User]] = []
        emails: set[str] = set()
        for row in rows:
            user_id = _user_id(row.id)
            if user_id in existing:
                tally.unchanged += 1
                continue
            dropped: list[BadValue] = []
            try:
                user = automagik_rows.user(row, user_id, dropped)
            except BadValue as e:
                _skip(tally, row.id, e)
                continue
            address = automagik_rows.email(row, emails, dropped)
            if address is not None:
                emails.add(address)
                user = user.model_copy(update={"email": address})
            _report(tally, row.id, dropped)
            kept.append((row, user))
        holders = await self.known.email_holders(uow, emails)
        users: list[User] = []
        for row, user in kept:
            if user.email is not None and holders.get(user.email, user.id) != user.id:
                tally.drop("email_taken", f"id={row.id}: email {row.email!r} belongs to another user in agentkeep")
                user = user.model_copy(update={"email": None})
            users.append(user)
        await self._add_users(uow, users, tally, dry_run=dry_run)

    async def _add_users(self, uow: BackfillUnitOfWork, users: list[User], tally: Tally, *, dry_run: bool) -> None:
        tally.created += len(users)
        if dry_run:
            self.known.add_users(users)
        elif users:
            await uow.users.add_many(users)

    async def agents(
        self, uow: BackfillUnitOfWork, rows: Sequence[LegacyAgent], tally: Tally, *, dry_run: bool
    ) -> None:
        existing = await self.known.agent_ids(uow, [_agent_id(r.id) for r in rows])
        kept: dict[str, tuple[LegacyAgent, Agent]] = {}
        for row in rows:
            agent_id = _agent_id(row.id)
            if agent_id in existing:
                tally.unchanged += 1
                continue
            dropped: list[BadValue] = []
            try:
                agent = automagik_rows.agent(row, agent_id, dropped)
                if agent.name in kept:
                    earlier = kept[agent.name][0].id
                    raise BadValue("invalid_name", f"name {row.name!r} is {agent.name!r}, as agent {earlier}'s")
            except BadValue as e:
                _skip(tally, row.id, e)
                continue
            _report(tally, row.id, dropped)
            kept[agent.name] = (row, agent)
        holders = await self.known.agent_holders(uow, kept)
        agents: list[Agent] = []
        for name, (row, agent) in kept.items():
            holder = holders.get(name, agent.id)
            if holder != agent.id:
                taken = f"name {row.name!r} is {name!r}, the name of agent {holder} in agentkeep"
                _skip(tally, row.id, BadValue("invalid_name", taken))
            else:
                agents.append(agent)
        tally.created += len(agents)
        if dry_run:
            self.known.add_agents(agents)
        elif agents:
            await uow.agents.add_many(agents)

    async def sessions(
        self, uow: BackfillUnitOfWork, rows: Sequence[LegacySession], tally: Tally, *, dry_run: bool
    ) -> None:
        existing = set(await self.known.sessions_of(uow, _uuids(r.id for r in rows)))
        owners = {_user_id(r.user_id) for r in rows if r.user_id is not None}
        users = await self.known.user_ids(uow, owners | {ANONYMOUS_USER_ID})
        agents = await self.known.agent_ids(uow, {_agent_id(r.agent_id) for r in rows if r.agent_id is not None})
        kept: list[tuple[LegacySession, Session]] = []
        names: set[str] = set()
        for row in rows:
            dropped: list[BadValue] = []
            try:
                session_id = values.row_uuid(row.id, "id")
                if session_id in existing:
                    tally.unchanged += 1
                    continue
                user_id = ANONYMOUS_USER_ID if row.user_id is None else _user_id(row.user_id)
                if user_id not in users and row.user_id is not None:
                    raise _missing("user", row.user_id)
                agent_id = None if row.agent_id is None else _agent_id(row.agent_id)
                if agent_id is None or agent_id not in agents:
                    raise _missing("agent", row.agent_id)
                session = automagik_rows.session(row, session_id, user_id, agent_id, dropped)
            except BadValue as e:
                _skip(tally, row.id, e)
                continue
            name = automagik_rows.session_name(row, names, dropped)
            if name is not None:
                names.add(name)
                session = session.model_copy(update={"name": name})
            _report(tally, row.id, dropped)
            kept.append((row, session))
        holders = await self.known.session_holders(uow, names)
        sessions: list[Session] = []
        for row, session in kept:
            if session.name is not None and holders.get(session.name, session.id) != session.id:
                tally.drop("duplicate_name", f"id={row.id}: name {row.name!r} belongs to a session in agentkeep")
                session = session.model_copy(update={"name": None})
            sessions.append(session)
        if ANONYMOUS_USER_ID not in users and any(s.user_id == ANONYMOUS_USER_ID for s in sessions):
            # The owner of the sessions that had none, made with the first of them (a user).
            assert self.users_tally is not None
            await self._add_users(uow, [User(id=ANONYMOUS_USER_ID)], self.users_tally, dry_run=dry_run)
        tally.created += len(sessions)
        if dry_run:
            self.known.add_sessions(sessions)
        elif sessions:
            await uow.sessions.add_many(sessions)

    async def messages(
        self, uow: BackfillUnitOfWork, rows: Sequence[LegacyMessage], tally: Tally, *, dry_run: bool
    ) -> None:
        ids = _uuids(r.id for r in rows)
        existing = await uow.messages.existing_ids(ids) if ids else set()
        parents = await self.known.sessions_of(uow, _uuids(r.session_id for r in rows))
        users = await self.known.user_ids(uow, {_user_id(r.user_id) for r in rows if r.user_id is not None})
        agents = await self.known.agent_ids(uow, {_agent_id(r.agent_id) for r in rows if r.agent_id is not None})
        messages: list[Message] = []
        for row in rows:
            dropped: list[BadValue] = []
            try:
                message_id = values.row_uuid(row.id, "id")
                if message_id in existing:
                    tally.unchanged += 1
                    continue
                parent_id = values.optional_uuid(row.session_id)
                parent = None if parent_id is None else parents.get(parent_id)
                if parent is None:
                    raise _missing("session", row.session_id)
                # No user, or one that is gone: the session's (who was talking in it); likewise
                # for the agent.
                user_id = parent.user_id
                if row.user_id is not None:
                    if _user_id(row.user_id) in users:
                        user_id = _user_id(row.user_id)
                    else:
                        dropped.append(_missing("user", row.user_id, "the session's is kept"))
                agent_id = parent.agent_id
                if row.agent_id is not None and _agent_id(row.agent_id) in agents:
                    agent_id = _agent_id(row.agent_id)
                message = automagik_rows.message(row, message_id, parent, user_id, agent_id, dropped)
            except BadValue as e:
                _skip(tally, row.id, e)
                continue
            _report(tally, row.id, dropped)
            messages.append(message)
        tally.created += len(messages)
        if not dry_run and messages:
            await uow.messages.add_many(messages)

    async def memories(
        self, uow: BackfillUnitOfWork, rows: Sequence[LegacyMemory], tally: Tally, *, dry_run: bool
    ) -> None:
        ids = _uuids(r.id for r in rows)
        existing = await uow.memories.existing_ids(ids) if ids else set()
        agents = await self.known.agent_ids(uow, {_agent_id(r.agent_id) for r in rows if r.agent_id is not None})
        users = await self.known.user_ids(uow, {_user_id(r.user_id) for r in rows if r.user_id is not None})
        parents = await self.known.sessions_of(uow, _uuids(r.session_id for r in rows))
        # Each row as the memory it makes (with the values it drops), or why it is skipped.
        planned: list[tuple[LegacyMemory, Memory | BadValue, list[BadValue]]] = []
        for row in rows:
            dropped: list[BadValue] = []
            try:
                memory_id = values.row_uuid(row.id, "id")
                if memory_id in existing:
                    tally.unchanged += 1
                    continue
                planned.append((row, self._memory(row, memory_id, agents, users, parents, dropped), dropped))
            except BadValue as e:
                planned.append((row, e, dropped))
        taken = await uow.memories.names_taken({m.key for _, m, _ in planned if isinstance(m, Memory)})
        memories: list[Memory] = []
        keys: set[MemoryKey] = set()
        for row, memory, dropped in planned:
            if isinstance(memory, Memory) and (memory.key in keys or memory.key in taken):
                memory = BadValue("duplicate_memory", f"agentkeep has a memory {row.name!r} of this agent and user")
            if isinstance(memory, BadValue):
                _skip(tally, row.id, memory)
                continue
            _report(tally, row.id, dropped)
            keys.add(memory.key)
            memories.append(memory)
        tally.created += len(memories)
        if not dry_run and memories:
            await uow.memories.add_many(memories)

    @staticmethod
    def _memory(
        row: LegacyMemory,
        memory_id: uuid.UUID,
        agents: Collection[str],
        users: Collection[uuid.UUID],
        parents: Collection[uuid.UUID],
        dropped: list[BadValue],
    ) -> Memory:
        """The memory `row` makes, its parents checked (BadValue when it cannot be kept)."""
        if row.duplicate:
            raise BadValue("duplicate_memory", "a more recently updated one of this name, agent and user wins")
        agent_id = None if row.agent_id is None else _agent_id(row.agent_id)
        if agent_id is None or agent_id not in agents:
            raise _missing("agent", row.agent_id)
        user_id = None if row.user_id is None else _user_id(row.user_id)
        if user_id is not None and user_id not in users:
            raise _missing("user", row.user_id)
        session_id = values.optional_uuid(row.session_id)
        if row.session_id is not None and session_id not in parents:
            # As when agentkeep deletes a session: its memories stay, unbound.
            dropped.append(_missing("session", row.session_id, "the memory is kept unbound"))
            session_id = None
        return automagik_rows.memory(row, memory_id, agent_id, user_id, session_id, dropped)


def _uuids(raw: Iterable[object]) -> set[uuid.UUID]:
    """The values that are UUIDs (the others are reported by the row that holds them)."""
    return {u for u in (values.optional_uuid(r) for r in raw) if u is not None}


def _skip(tally: Tally, row_id: object, error: BadValue) -> None:
    tally.skip(error.reason, f"id={row_id}: {error.detail}")


def _report(tally: Tally, row_id: object, dropped: list[BadValue]) -> None:
    for error in dropped:
        tally.drop(error.reason, f"id={row_id}: {error.detail}")


def _missing(parent: str, legacy_id: object, then: str | None = None) -> BadValue:
    """A parent that agentkeep does not have (the source has no such row, or it was skipped)."""
    detail = f"it has no {parent}" if legacy_id is None else f"{parent} {legacy_id} is not in agentkeep"
    return BadValue(f"missing_{parent}", f"{detail}; {then}" if then else detail)
