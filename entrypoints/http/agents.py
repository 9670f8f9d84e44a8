"""Routes of agents, their bios and profile metadata."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody, PathParameter, QueryParameter

from agentkeep.application.inputs import AgentReplacement, Counts, NewAgent, NewBio
from agentkeep.domain.models import Agent, AgentBio, AgentProfileMetadata
from agentkeep.domain.patches import AgentPatch
from agentkeep.entrypoints.http.idempotency import RESPONSES, IdempotencyKey, respond
from agentkeep.entrypoints.http.params import PAGE, PAGE_SIZE, paging
from agentkeep.entrypoints.http.schemas import ListOf, created_or_replaced
from agentkeep.entrypoints.http.services import Services

Ref = Annotated[str, PathParameter(description="The agent's id, or its name.")]


class AgentRoutes(Controller):
    path = "/agents"
    tags = ["agents"]

    @post("/", summary="Create an agent", responses=RESPONSES)
    async def create(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[NewAgent],
        services: NamedDependency[Services],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Agent]:
        return await respond(
            request, idempotency_key, services.idempotency, lambda keyed: services.agents.create(data, keyed)
        )

    @get("/", summary="List agents")
    async def list_agents(
        self,
        services: NamedDependency[Services],
        active_only: FromQuery[bool] = False,
        page: Annotated[int, QueryParameter(**PAGE)] = 1,
        page_size: Annotated[int, QueryParameter(**PAGE_SIZE)] = 20,
        sort_desc: FromQuery[bool] = False,
    ) -> ListOf[Agent]:
        return ListOf.of(await services.agents.list(paging(page, page_size, sort_desc), active_only=active_only))

    @get("/{agent_id_or_name:str}", summary="Read an agent")
    async def read(self, agent_id_or_name: Ref, services: NamedDependency[Services]) -> Agent:
        return await services.agents.get(agent_id_or_name)

    @patch("/{agent_id_or_name:str}", summary="Change some fields of an agent")
    async def update(
        self, agent_id_or_name: Ref, data: JSONBody[AgentPatch], services: NamedDependency[Services]
    ) -> Agent:
        return await services.agents.update(agent_id_or_name, data)

    @put(
        "/{agent_id_or_name:str}",
        summary="Create or replace an agent by name (201 when created)",
        responses=created_or_replaced(Agent),
    )
    async def put_agent(
        self, agent_id_or_name: Ref, data: JSONBody[AgentReplacement], services: NamedDependency[Services]
    ) -> Response[Agent]:
        agent, created = await services.agents.put(agent_id_or_name, data)
        return Response(agent, status_code=201 if created else 200)

    @delete("/{agent_id_or_name:str}", summary="Delete an agent with its sessions, memories, bios and metadata")
    async def remove(self, agent_id_or_name: Ref, services: NamedDependency[Services]) -> None:
        await services.agents.delete(agent_id_or_name)

    @get("/{agent_id_or_name:str}/bios", summary="List an agent's bios, newest first")
    async def list_bios(
        self,
        agent_id_or_name: Ref,
        services: NamedDependency[Services],
        page: Annotated[int, QueryParameter(**PAGE)] = 1,
        page_size: Annotated[int, QueryParameter(**PAGE_SIZE)] = 20,
        sort_desc: FromQuery[bool] = True,
    ) -> ListOf[AgentBio]:
        return ListOf.of(await services.agents.list_bios(agent_id_or_name, paging(page, page_size, sort_desc)))

    @post("/{agent_id_or_name:str}/bios", summary="Add a bio (it becomes the current one)", responses=RESPONSES)
    async def add_bio(
        self,
        request: Request[Any, Any, Any],
        agent_id_or_name: Ref,
        data: JSONBody[NewBio],
        services: NamedDependency[Services],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[AgentBio]:
        return await respond(
            request,
            idempotency_key,
            services.idempotency,
            lambda keyed: services.agents.add_bio(agent_id_or_name, data, keyed),
        )

    @get("/{agent_id_or_name:str}/profile-metadata", summary="Read an agent's profile metadata")
    async def read_profile(self, agent_id_or_name: Ref, services: NamedDependency[Services]) -> AgentProfileMetadata:
        return await services.agents.get_profile(agent_id_or_name)

    @put(
        "/{agent_id_or_name:str}/profile-metadata",
        summary="Upsert an agent's counts (201 when created)",
        responses=created_or_replaced(AgentProfileMetadata),
    )
    async def put_profile(
        self, agent_id_or_name: Ref, data: JSONBody[Counts], services: NamedDependency[Services]
    ) -> Response[AgentProfileMetadata]:
        profile, created = await services.agents.put_profile(agent_id_or_name, data)
        return Response(profile, status_code=201 if created else 200)
