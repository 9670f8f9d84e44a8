"""Agents with their persona bios and profile metadata: create, read, list, change, delete."""

from __future__ import annotations

from pydantic import ValidationError

from agentkeep.application.idempotency import KeyedCreate
from agentkeep.application.inputs import AgentReplacement, Counts, NewAgent, NewBio
from agentkeep.domain.errors import Invalid, NotFound
from agentkeep.domain.models import Agent, AgentBio, AgentProfileMetadata
from agentkeep.domain.paging import Page, Paging
from agentkeep.domain.patches import AgentPatch, ProfileCounts
from agentkeep.domain.ports.unit_of_work import Storage, UnitOfWork


async def find_agent(uow: UnitOfWork, id_or_name: str, key: str = "agent_id_or_name") -> Agent:
    """The agent with this id, else with this name; NotFound naming `key` otherwise."""
    agent = await uow.agents.resolve(id_or_name)
    if agent is None:
        raise NotFound(f"no agent {id_or_name!r}", key=key)
    return agent


class AgentService:
    """Use cases on agents. Every method is one unit of work."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    async def create(self, data: NewAgent, keyed: KeyedCreate[Agent] | None = None) -> Agent:
        """Create the agent; with `keyed`, keep the request's answer in the same unit of work."""
        agent = data.build()

        async def work(uow: UnitOfWork) -> Agent:
            created = await uow.agents.add(agent)
            if keyed is not None:
                await keyed.keep(uow.idempotency_keys, created)
            return created

        return await self._storage.run(work)

    async def get(self, id_or_name: str) -> Agent:
        return await self._storage.run(lambda uow: find_agent(uow, id_or_name))

    async def list(self, paging: Paging, *, active_only: bool = False) -> Page[Agent]:
        items, total = await self._storage.run(lambda uow: uow.agents.list(paging, active_only=active_only))
        return Page(items, total, paging)

    async def update(self, id_or_name: str, patch: AgentPatch) -> Agent:
        async def work(uow: UnitOfWork) -> Agent:
            agent = await find_agent(uow, id_or_name)
            updated = await uow.agents.update(agent.id, patch)
            assert updated is not None
            return updated

        return await self._storage.run(work)

    async def put(self, id_or_name: str, data: AgentReplacement) -> tuple[Agent, bool]:
        """Create or replace the agent by name (seed 002's create-or-update). The body's name, when
        given, must be the path's (the agent's own, when the path is its id). Returns the agent and
        whether it was created."""
        fields = data.model_dump(exclude={"name"})

        async def work(uow: UnitOfWork) -> tuple[Agent, bool]:
            existing = await uow.agents.resolve(id_or_name)
            name = existing.name if existing is not None else id_or_name.lower()
            if data.name is not None and data.name != name:
                raise Invalid("must match the name in the path", key="name")
            if existing is None:
                try:  # the name comes from the path, which no schema has checked
                    new = NewAgent(name=name, **fields)
                except ValidationError as e:
                    raise Invalid.from_validation_error(e) from None
                return await uow.agents.add(new.build()), True
            replaced = await uow.agents.update(existing.id, AgentPatch.model_validate({**fields, "name": name}))
            assert replaced is not None
            return replaced, False

        return await self._storage.run(work)

    async def delete(self, id_or_name: str) -> None:
        async def work(uow: UnitOfWork) -> None:
            agent = await find_agent(uow, id_or_name)
            await uow.agents.delete(agent.id)

        await self._storage.run(work)

    async def list_bios(self, id_or_name: str, paging: Paging) -> Page[AgentBio]:
        async def work(uow: UnitOfWork) -> tuple[list[AgentBio], int]:
            agent = await find_agent(uow, id_or_name)
            return await uow.bios.list(agent.id, paging)

        items, total = await self._storage.run(work)
        return Page(items, total, paging)

    async def add_bio(self, id_or_name: str, data: NewBio, keyed: KeyedCreate[AgentBio] | None = None) -> AgentBio:
        """Add a bio (the agent's current one from now); with `keyed`, keep the request's answer
        in the same unit of work."""

        async def work(uow: UnitOfWork) -> AgentBio:
            agent = await find_agent(uow, id_or_name)
            bio = await uow.bios.add(data.build(agent.id))
            if keyed is not None:
                await keyed.keep(uow.idempotency_keys, bio)
            return bio

        return await self._storage.run(work)

    async def get_profile(self, id_or_name: str) -> AgentProfileMetadata:
        async def work(uow: UnitOfWork) -> AgentProfileMetadata:
            agent = await find_agent(uow, id_or_name)
            profile = await uow.profile_metadata.get(agent.id)
            if profile is None:
                raise NotFound(f"agent {agent.name!r} has no profile metadata", key="profile_metadata")
            return profile

        return await self._storage.run(work)

    async def put_profile(self, id_or_name: str, counts: Counts) -> tuple[AgentProfileMetadata, bool]:
        """Upsert the counts; an omitted count keeps its value (0 when new)."""
        patch = ProfileCounts.parse(counts.model_dump(exclude_unset=True))  # a null count is 400, not "keep"

        async def work(uow: UnitOfWork) -> tuple[AgentProfileMetadata, bool]:
            agent = await find_agent(uow, id_or_name)
            new = AgentProfileMetadata(agent_id=agent.id, **patch.changes())
            return await uow.profile_metadata.upsert(new, patch)

        return await self._storage.run(work)
