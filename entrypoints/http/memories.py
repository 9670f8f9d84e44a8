"""Routes of memories, including the batch create."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, delete, get, patch, post
from litestar.openapi.spec import Reference
from litestar.params import Body, Parameter
from pydantic import TypeAdapter, ValidationError

from application.inputs import NewMemory
from application.memories import MAX_BATCH, MemoryService
from domain.errors import Invalid
from domain.models import Memory
from domain.patches import MemoryPatch
from domain.values import ReadMode
from entrypoints.http.params import PAGE, PAGE_SIZE, paging, user_id_filter, uuid_in_path
from entrypoints.http.schemas import ListOf

_BATCH = TypeAdapter(list[NewMemory])
# The body is read as plain objects (see `create_batch`); the document still shows each one's schema.
_ITEMS_SCHEMA = {"items": Reference(f"#/components/schemas/{NewMemory.__name__}")}


class MemoryRoutes(Controller):
    path = "/memories"
    tags = ["memories"]

    @post("/", summary="Create a memory")
    async def create(self, data: NewMemory, memories: MemoryService) -> Memory:
        return await memories.create(data)

    @post("/batch", summary="Create 1..100 memories in one transaction, or none")
    async def create_batch(
        self,
        data: Annotated[list[dict[str, Any]], Body(min_items=1, max_items=MAX_BATCH, schema_extra=_ITEMS_SCHEMA)],
        memories: MemoryService,
    ) -> dict[str, list[Memory]]:
        # Validated here, not by Litestar, which drops the item's index from the key of a bad field.
        try:
            items = _BATCH.validate_python(data)
        except ValidationError as e:
            raise Invalid.from_validation_error(e) from None
        return {"items": await memories.create_batch(items)}

    @get("/", summary="List memories")
    async def list_memories(
        self,
        memories: MemoryService,
        agent_id: Annotated[str | None, Parameter(description="The agent's id or name.", max_length=255)] = None,
        user_id: Annotated[str | None, Parameter(description="A user UUID or legacy integer id.")] = None,
        session_id: Annotated[uuid.UUID | None, Parameter(description="A session UUID.")] = None,
        read_mode: ReadMode | None = None,
        name: Annotated[str | None, Parameter(max_length=255)] = None,
        page: Annotated[int, Parameter(**PAGE)] = 1,
        page_size: Annotated[int, Parameter(**PAGE_SIZE)] = 20,
        sort_desc: bool = False,
    ) -> ListOf[Memory]:
        found = await memories.list(
            paging(page, page_size, sort_desc),
            agent_id=agent_id,
            user_id=user_id_filter(user_id),
            session_id=session_id,
            read_mode=read_mode,
            name=name,
        )
        return ListOf.of(found)

    @get("/{memory_id:str}", summary="Read a memory")
    async def read(self, memory_id: str, memories: MemoryService) -> Memory:
        return await memories.get(uuid_in_path(memory_id, "memory_id"))

    @patch("/{memory_id:str}", summary="Change some fields of a memory")
    async def update(self, memory_id: str, data: MemoryPatch, memories: MemoryService) -> Memory:
        return await memories.update(uuid_in_path(memory_id, "memory_id"), data)

    @delete("/{memory_id:str}", summary="Delete a memory")
    async def remove(self, memory_id: str, memories: MemoryService) -> None:
        await memories.delete(uuid_in_path(memory_id, "memory_id"))
