"""Routes of memories, including the batch create."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.openapi.spec import Reference
from litestar.params import Body, FromQuery, JSONBody, PathParameter, QueryParameter
from pydantic import TypeAdapter, ValidationError

from agentkeep.application.inputs import NewMemory
from agentkeep.application.memories import MAX_BATCH
from agentkeep.domain.errors import Invalid
from agentkeep.domain.models import Memory
from agentkeep.domain.patches import MemoryPatch
from agentkeep.domain.values import ReadMode
from agentkeep.entrypoints.http.idempotency import RESPONSES, IdempotencyKey, respond
from agentkeep.entrypoints.http.params import PAGE, PAGE_SIZE, paging
from agentkeep.entrypoints.http.schemas import ListOf
from agentkeep.entrypoints.http.services import Services
from agentkeep.entrypoints.references import user_filter, uuid_ref

MemoryId = Annotated[str, PathParameter(description="The memory's id.")]
_BATCH = TypeAdapter(list[NewMemory])
# The body is read as plain objects (see `create_batch`); the document still shows each one's schema.
_ITEMS_SCHEMA = {"items": Reference(f"#/components/schemas/{NewMemory.__name__}")}


class MemoryRoutes(Controller):
    path = "/memories"
    tags = ["memories"]

    @post("/", summary="Create a memory", responses=RESPONSES)
    async def create(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[NewMemory],
        services: NamedDependency[Services],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Memory]:
        return await respond(
            request, idempotency_key, services.idempotency, lambda keyed: services.memories.create(data, keyed)
        )

    @post("/batch", summary="Create 1..100 memories in one transaction, or none", responses=RESPONSES)
    async def create_batch(
        self,
        request: Request[Any, Any, Any],
        data: Annotated[list[dict[str, Any]], Body(min_items=1, max_items=MAX_BATCH, schema_extra=_ITEMS_SCHEMA)],
        services: NamedDependency[Services],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[dict[str, list[Memory]]]:
        # Validated here, not by Litestar, which drops the item's index from the key of a bad field.
        try:
            items = _BATCH.validate_python(data)
        except ValidationError as e:
            raise Invalid.from_validation_error(e) from None

        return await respond(
            request,
            idempotency_key,
            services.idempotency,
            lambda keyed: services.memories.create_batch(items, keyed),
            body=lambda memories: {"items": memories},
        )

    @get("/", summary="List memories")
    async def list_memories(
        self,
        services: NamedDependency[Services],
        agent_id: Annotated[str | None, QueryParameter(description="The agent's id or name.", max_length=255)] = None,
        user_id: Annotated[str | None, QueryParameter(description="A user UUID or legacy integer id.")] = None,
        session_id: Annotated[uuid.UUID | None, QueryParameter(description="A session UUID.")] = None,
        read_mode: FromQuery[ReadMode | None] = None,
        name: Annotated[str | None, QueryParameter(max_length=255)] = None,
        page: Annotated[int, QueryParameter(**PAGE)] = 1,
        page_size: Annotated[int, QueryParameter(**PAGE_SIZE)] = 20,
        sort_desc: FromQuery[bool] = False,
    ) -> ListOf[Memory]:
        found = await services.memories.list(
            paging(page, page_size, sort_desc),
            agent_id=agent_id,
            user_id=user_filter(user_id),
            session_id=session_id,
            read_mode=read_mode,
            name=name,
        )
        return ListOf.of(found)

    @get("/{memory_id:str}", summary="Read a memory")
    async def read(self, memory_id: MemoryId, services: NamedDependency[Services]) -> Memory:
        return await services.memories.get(uuid_ref(memory_id, "memory_id"))

    @patch("/{memory_id:str}", summary="Change some fields of a memory")
    async def update(
        self, memory_id: MemoryId, data: JSONBody[MemoryPatch], services: NamedDependency[Services]
    ) -> Memory:
        return await services.memories.update(uuid_ref(memory_id, "memory_id"), data)

    @delete("/{memory_id:str}", summary="Delete a memory")
    async def remove(self, memory_id: MemoryId, services: NamedDependency[Services]) -> None:
        await services.memories.delete(uuid_ref(memory_id, "memory_id"))
