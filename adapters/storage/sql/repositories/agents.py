"""Agents, their persona bios and their profile metadata in SQL."""

from __future__ import annotations

import builtins
import functools
import uuid
from collections.abc import Collection, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, select

from agentkeep.adapters.storage.sql.dialect import insert
from agentkeep.adapters.storage.sql.prepared import Prepared, insert_row
from agentkeep.adapters.storage.sql.repositories import bulk
from agentkeep.adapters.storage.sql.repositories.base import BulkRepository, Listing, entity_columns, row_values
from agentkeep.adapters.storage.sql.tables import agent_persona_bios, agents, user_agent_profile_metadata
from agentkeep.domain.ids import is_agent_id, parse_agent_id
from agentkeep.domain.models import Agent, AgentBio, AgentProfileMetadata
from agentkeep.domain.paging import Paging
from agentkeep.domain.patches import AgentBioPatch, AgentPatch, ProfileCounts
from agentkeep.domain.values import utcnow

_AGENT_ORDER = (agents.c.created_at, agents.c.id)
# update_many sets every column but these.
_AGENT_KEPT = frozenset({"created_at"})
_AGENTS_BY_ID = bulk.RowsByKeys(select(agents), agents.c.id)
_AGENTS_BY_NAME = bulk.RowsByKeys(select(agents), agents.c.name)
_AGENT_LIST = Listing(agents, _AGENT_ORDER, active=agents.c.active.is_(True))

bios = agent_persona_bios
_BIO_COLUMNS = entity_columns(bios, AgentBio)
# The newest bio is current; two of one microsecond are told apart by insertion order.
_BIO_ORDER = (bios.c.created_at, bios.c.seq)
_AGENTS_WITH_BIOS = bulk.RowsByKeys(select(bios.c.agent_id).distinct(), bios.c.agent_id)
_BIO_LIST = Listing(bios, _BIO_ORDER, rows=select(*_BIO_COLUMNS), agent_id=bios.c.agent_id == bindparam("agent_id"))

_ADD_AGENT = Prepared(insert_row(agents, [c.name for c in entity_columns(agents, Agent)]))
_ADD_BIO = Prepared(insert_row(bios, [c.name for c in _BIO_COLUMNS]))
_AGENT_BY_ID = Prepared(select(agents).where(agents.c.id == bindparam("id")))
_AGENT_BY_NAME = Prepared(select(agents).where(agents.c.name == bindparam("name")))
_BIO_BY_ID = Prepared(select(*_BIO_COLUMNS).where(bios.c.id == bindparam("id")))
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
_PROFILES_BY_AGENT = bulk.RowsByKeys(select(profiles), profiles.c.agent_id)
_PROFILE_BY_AGENT = Prepared(select(profiles).where(profiles.c.agent_id == bindparam("agent_id")))
_UPSERTED = (*_COUNTS, "updated_at")
_PROFILE_COLUMNS = [c.name for c in entity_columns(profiles, AgentProfileMetadata)]


_NOW = bindparam("b_now", type_=profiles.c.updated_at.type)


@functools.cache
def _upsert_profile(dialect: str, changed: tuple[str, ...]) -> Prepared:
    """INSERT a profile's row; when its agent has one, set the `changed` counts to the new
    row's and `updated_at` to `:b_now` instead; RETURNING the row as stored. Once per dialect
    and set of counts."""
    stmt: Any = insert(profiles, dialect).values({name: bindparam(name) for name in _PROFILE_COLUMNS})
    stmt = stmt.on_conflict_do_update(
        index_elements=["agent_id"],
        set_={**{name: stmt.excluded[name] for name in changed}, "updated_at": _NOW},
    ).returning(*profiles.c)
    return Prepared(stmt)


class SqlAgents(BulkRepository):
    table = agents

    async def add(self, agent: Agent) -> Agent:
        await self._executor.write(_ADD_AGENT, row_values(agent))
        return agent

    async def get(self, agent_id: str) -> Agent | None:
        return await self._row(Agent, _AGENT_BY_ID, {"id": agent_id})

    async def get_many(self, agent_ids: Collection[str]) -> builtins.list[Agent]:
        return await self._rows_by_keys(Agent, _AGENTS_BY_ID, agent_ids)

    async def get_many_by_name(self, names: Collection[str]) -> builtins.list[Agent]:
        # Stored names are lower-case (the entity lowers them).
        return await self._rows_by_keys(Agent, _AGENTS_BY_NAME, {n.lower() for n in names})

    async def add_many(self, batch: Sequence[Agent]) -> None:
        await self._insert_many(batch)

    async def update_many(self, batch: Sequence[Agent]) -> None:
        if batch:
            # One executemany of UPDATE ... SET every column but `id` and `created_at`.
            await self._write_batch(bulk.update_by_id(agents, Agent, _AGENT_KEPT), batch)

    async def get_by_name(self, name: str) -> Agent | None:
        return await self._row(Agent, _AGENT_BY_NAME, {"name": name.lower()})

    async def resolve(self, id_or_name: str) -> Agent | None:
        if is_agent_id(id_or_name):
            found = await self.get(parse_agent_id(id_or_name))
            if found is not None:
                return found
        return await self.get_by_name(id_or_name)

    async def resolve_with_bio(self, id_or_name: str) -> tuple[Agent, AgentBio | None] | None:
        rows: builtins.list[dict[str, Any]] = []
        if is_agent_id(id_or_name):
            rows = await self._executor.rows(_WITH_BIO_BY_ID, {"id": parse_agent_id(id_or_name)})
        if not rows:
            rows = await self._executor.rows(_WITH_BIO_BY_NAME, {"name": id_or_name.lower()})
        if not rows:
            return None
        agent = {k: v for k, v in rows[0].items() if not k.startswith("bio_")}
        bio = {k.removeprefix("bio_"): v for k, v in rows[0].items() if k.startswith("bio_")}
        return Agent.model_validate(agent), None if bio["id"] is None else AgentBio.model_validate(bio)

    async def list(self, paging: Paging, *, active_only: bool = False) -> tuple[list[Agent], int]:
        return await self._page(Agent, _AGENT_LIST, paging, active=active_only or None)

    async def update(self, agent_id: str, patch: AgentPatch) -> Agent | None:
        if not patch:
            return await self.get(agent_id)
        return await self._patch(Agent, "id", agent_id, patch)

    async def delete(self, agent_id: str) -> bool:
        return await self._delete("id", agent_id)


class SqlAgentBios(BulkRepository):
    table = bios

    async def add(self, bio: AgentBio) -> AgentBio:
        await self._executor.write(_ADD_BIO, row_values(bio))
        return bio

    async def get(self, bio_id: uuid.UUID) -> AgentBio | None:
        return await self._row(AgentBio, _BIO_BY_ID, {"id": bio_id})

    async def agents_with_bios(self, agent_ids: Collection[str]) -> set[str]:
        return await self._keys_present(_AGENTS_WITH_BIOS, agent_ids)

    async def add_many(self, batch: Sequence[AgentBio]) -> None:
        # One executemany: the rows get their `seq` in the order of `batch`.
        await self._insert_many(batch)

    async def latest(self, agent_id: str) -> AgentBio | None:
        return await self._row(AgentBio, _LATEST_BIO, {"agent_id": agent_id})

    async def list(self, agent_id: str, paging: Paging) -> tuple[list[AgentBio], int]:
        return await self._page(AgentBio, _BIO_LIST, paging, agent_id=agent_id)

    async def update(self, bio_id: uuid.UUID, patch: AgentBioPatch) -> AgentBio | None:
        if not patch:
            return await self.get(bio_id)
        return await self._patch(AgentBio, "id", bio_id, patch, columns=_BIO_COLUMNS)

    async def delete(self, bio_id: uuid.UUID) -> bool:
        return await self._delete("id", bio_id)


class SqlProfileMetadata(BulkRepository):
    table = profiles

    async def get(self, agent_id: str) -> AgentProfileMetadata | None:
        return await self._row(AgentProfileMetadata, _PROFILE_BY_AGENT, {"agent_id": agent_id})

    async def get_many(self, agent_ids: Collection[str]) -> builtins.list[AgentProfileMetadata]:
        return await self._rows_by_keys(AgentProfileMetadata, _PROFILES_BY_AGENT, agent_ids)

    async def upsert_many(self, rows: Sequence[AgentProfileMetadata]) -> None:
        if rows:
            # One executemany of INSERT ... ON CONFLICT (agent_id) DO UPDATE SET the counts and
            # `updated_at`: a stored row keeps its id and `created_at`.
            await self._write_batch(bulk.upsert_all(profiles, AgentProfileMetadata, ("agent_id",), _UPSERTED), rows)

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
        query = _upsert_profile(self._dialect, tuple(sorted(changed)))
        stored = await self._row(AgentProfileMetadata, query, {**row_values(metadata), **changed, "b_now": now})
        assert stored is not None  # inserted, or updated: RETURNING gives the row either way
        return stored, stored.updated_at == metadata.updated_at

    async def delete(self, agent_id: str) -> bool:
        return await self._delete("agent_id", agent_id)
