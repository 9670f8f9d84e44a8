"""Agents, their persona bios and their profile metadata in SQL."""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Collection, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, select

from agentkeep.adapters.storage.sql.dialect import insert
from agentkeep.adapters.storage.sql.prepared import Prepared, insert_row
from agentkeep.adapters.storage.sql.repositories import bulk
from agentkeep.adapters.storage.sql.repositories.base import SqlRepository, entity_columns, row_values
from agentkeep.adapters.storage.sql.tables import agent as agents
from agentkeep.adapters.storage.sql.tables import agent_persona_bios, user_agent_profile_metadata
from agentkeep.domain.ids import is_agent_id, parse_agent_id
from agentkeep.domain.models import Agent, AgentBio, AgentProfileMetadata
from agentkeep.domain.paging import Paging
from agentkeep.domain.patches import AgentBioPatch, AgentPatch, ProfileCounts
from agentkeep.domain.values import utcnow

_AGENT_ORDER = (agents.c.created_at, agents.c.id)
# update_many sets every column but these.
_AGENT_KEPT = frozenset({"created_at"})
_AGENTS_BY_ID = bulk.KeyedRows(select(agents), agents.c.id)
_AGENTS_BY_NAME = bulk.KeyedRows(select(agents), agents.c.name)

bios = agent_persona_bios
_BIO_COLUMNS = entity_columns(bios, AgentBio)
# The newest bio is current; two of one microsecond are told apart by insertion order.
_BIO_ORDER = (bios.c.created_at, bios.c.seq)
_AGENTS_WITH_BIOS = bulk.KeyedRows(select(bios.c.agent_id).distinct(), bios.c.agent_id)

_ADD_AGENT = Prepared(insert_row(agents, [c.name for c in entity_columns(agents, Agent)]))
_ADD_BIO = Prepared(insert_row(bios, [c.name for c in _BIO_COLUMNS]))
_AGENT_BY_ID = Prepared(select(agents).where(agents.c.id == bindparam("id")))
_AGENT_BY_NAME = Prepared(select(agents).where(agents.c.name == bindparam("name")))
_LATEST_BIO = Prepared(
    select(*_BIO_COLUMNS)
    .where(bios.c.agent_id == bindparam("agent_id"))
    .order_by(*(c.desc() for c in _BIO_ORDER))
    .limit(1)
)

# An agent with its current bio (the newest, as `latest`), in one SELECT: the bio's columns are
# labelled `bio_<column>`, and NULL when the agent has none.
_CURRENT_BIO = (
    select(bios.c.id)
    .where(bios.c.agent_id == agents.c.id)
    .order_by(*(c.desc() for c in _BIO_ORDER))
    .limit(1)
    .correlate(agents)
    .scalar_subquery()
)
_WITH_BIO = select(agents, *(c.label(f"bio_{c.name}") for c in _BIO_COLUMNS)).select_from(
    agents.outerjoin(bios, bios.c.id == _CURRENT_BIO)
)
_WITH_BIO_BY_ID = Prepared(_WITH_BIO.where(agents.c.id == bindparam("id")))
_WITH_BIO_BY_NAME = Prepared(_WITH_BIO.where(agents.c.name == bindparam("name")))

profiles = user_agent_profile_metadata
_COUNTS = ("followers_count", "follows_count", "posts_count")
_PROFILES_BY_AGENT = bulk.KeyedRows(select(profiles), profiles.c.agent_id)
_UPSERTED = (*_COUNTS, "updated_at")


class SqlAgents(SqlRepository):
    table = agents

    async def add(self, agent: Agent) -> Agent:
        await self._x.write(_ADD_AGENT, row_values(agent))
        return agent

    async def get(self, agent_id: str) -> Agent | None:
        return await self._first(Agent, _AGENT_BY_ID, {"id": agent_id})

    async def get_many(self, agent_ids: Collection[str]) -> builtins.list[Agent]:
        return await self._all_keyed(Agent, _AGENTS_BY_ID, agent_ids)

    async def get_many_by_name(self, names: Collection[str]) -> builtins.list[Agent]:
        # Stored names are lower-case (the entity lowers them).
        return await self._all_keyed(Agent, _AGENTS_BY_NAME, {n.lower() for n in names})

    async def add_many(self, batch: Sequence[Agent]) -> None:
        await self._insert_many(batch)

    async def update_many(self, batch: Sequence[Agent]) -> None:
        if batch:
            # One executemany of UPDATE ... SET every column but `id` and `created_at`.
            await self._write_all(bulk.update_by_id(agents, Agent, _AGENT_KEPT), batch)

    async def get_by_name(self, name: str) -> Agent | None:
        return await self._first(Agent, _AGENT_BY_NAME, {"name": name.lower()})

    async def resolve(self, id_or_name: str) -> Agent | None:
        if is_agent_id(id_or_name):
            found = await self.get(parse_agent_id(id_or_name))
            if found is not None:
                return found
        return await self.get_by_name(id_or_name)

    async def resolve_with_bio(self, id_or_name: str) -> tuple[Agent, AgentBio | None] | None:
        rows: builtins.list[dict[str, Any]] = []
        if is_agent_id(id_or_name):
            rows = await self._x.rows(_WITH_BIO_BY_ID, {"id": parse_agent_id(id_or_name)})
        if not rows:
            rows = await self._x.rows(_WITH_BIO_BY_NAME, {"name": id_or_name.lower()})
        if not rows:
            return None
        agent = {k: v for k, v in rows[0].items() if not k.startswith("bio_")}
        bio = {k.removeprefix("bio_"): v for k, v in rows[0].items() if k.startswith("bio_")}
        return Agent.model_validate(agent), None if bio["id"] is None else AgentBio.model_validate(bio)

    async def list(self, paging: Paging, *, active_only: bool = False) -> tuple[list[Agent], int]:
        where = [agents.c.active.is_(True)] if active_only else []
        return await self._page(Agent, where, paging, _AGENT_ORDER)

    async def update(self, agent_id: str, patch: AgentPatch) -> Agent | None:
        if not patch:
            return await self.get(agent_id)
        return await self._patch(Agent, agents.c.id == agent_id, patch)

    async def delete(self, agent_id: str) -> bool:
        return await self._delete(agents.c.id == agent_id)


class SqlAgentBios(SqlRepository):
    table = bios

    async def add(self, bio: AgentBio) -> AgentBio:
        await self._x.write(_ADD_BIO, row_values(bio))
        return bio

    async def get(self, bio_id: uuid.UUID) -> AgentBio | None:
        return await self._one(AgentBio, select(*_BIO_COLUMNS).where(bios.c.id == bio_id))

    async def agents_with_bios(self, agent_ids: Collection[str]) -> set[str]:
        return await self._keys_present(_AGENTS_WITH_BIOS, agent_ids)

    async def add_many(self, batch: Sequence[AgentBio]) -> None:
        # One executemany: the rows get their `seq` in the order of `batch`.
        await self._insert_many(batch)

    async def latest(self, agent_id: str) -> AgentBio | None:
        return await self._first(AgentBio, _LATEST_BIO, {"agent_id": agent_id})

    async def list(self, agent_id: str, paging: Paging) -> tuple[list[AgentBio], int]:
        where = [bios.c.agent_id == agent_id]
        return await self._page(AgentBio, where, paging, _BIO_ORDER, rows=select(*_BIO_COLUMNS))

    async def update(self, bio_id: uuid.UUID, patch: AgentBioPatch) -> AgentBio | None:
        if not patch:
            return await self.get(bio_id)
        return await self._patch(AgentBio, bios.c.id == bio_id, patch, columns=_BIO_COLUMNS)

    async def delete(self, bio_id: uuid.UUID) -> bool:
        return await self._delete(bios.c.id == bio_id)


class SqlProfileMetadata(SqlRepository):
    table = profiles

    async def get(self, agent_id: str) -> AgentProfileMetadata | None:
        return await self._one(AgentProfileMetadata, select(profiles).where(profiles.c.agent_id == agent_id))

    async def get_many(self, agent_ids: Collection[str]) -> builtins.list[AgentProfileMetadata]:
        return await self._all_keyed(AgentProfileMetadata, _PROFILES_BY_AGENT, agent_ids)

    async def upsert_many(self, rows: Sequence[AgentProfileMetadata]) -> None:
        if rows:
            # One executemany of INSERT ... ON CONFLICT (agent_id) DO UPDATE SET the counts and
            # `updated_at`: a stored row keeps its id and `created_at`.
            await self._write_all(bulk.upsert_all(profiles, AgentProfileMetadata, ("agent_id",), _UPSERTED), rows)

    async def upsert(
        self, metadata: AgentProfileMetadata, counts: ProfileCounts | None = None
    ) -> tuple[AgentProfileMetadata, bool]:
        changed = counts.changes() if counts is not None else {name: getattr(metadata, name) for name in _COUNTS}
        # The update path stamps a time the insert path cannot have written, so the returned
        # `updated_at` tells which path ran: one statement, no race, and right even when the
        # caller gives the stored row's id (migrate-agents' deterministic ids).
        now = utcnow()
        if now == metadata.updated_at:
            now += timedelta(microseconds=1)
        stmt: Any = insert(profiles, self._dialect).values(**{**row_values(metadata), **changed})
        stmt = stmt.on_conflict_do_update(
            index_elements=["agent_id"],
            set_={**{name: stmt.excluded[name] for name in changed}, "updated_at": now},
        ).returning(*profiles.c)
        row = (await self._x.execute(stmt)).mappings().one()
        stored = AgentProfileMetadata.model_validate(dict(row))
        return stored, stored.updated_at == metadata.updated_at

    async def delete(self, agent_id: str) -> bool:
        return await self._delete(profiles.c.agent_id == agent_id)
