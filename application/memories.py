"""Memories: create (one or a batch), read, list, change, delete. `agent_id` in bodies and filters
takes the agent's id or name; an unknown agent, user or session is NotFound naming it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from agentkeep.application.agents import find_agent
from agentkeep.application.idempotency import KeyedCreate
from agentkeep.application.inputs import NewMemory
from agentkeep.application.sessions import find_session
from agentkeep.application.users import find_user
from agentkeep.domain.errors import Conflict, DomainError, Invalid, NotFound
from agentkeep.domain.models import Memory
from agentkeep.domain.paging import Page, Paging
from agentkeep.domain.patches import MemoryPatch
from agentkeep.domain.ports.unit_of_work import Storage, UnitOfWork
from agentkeep.domain.values import ReadMode

MAX_BATCH = 100


async def _build(uow: UnitOfWork, data: NewMemory) -> Memory:
    agent = await find_agent(uow, data.agent_id, key="agent_id")
    if data.user_id is not None:
        await find_user(uow, data.user_id)
    if data.session_id is not None:
        await find_session(uow, data.session_id)
    return data.build(agent.id)


class MemoryService:
    """Use cases on memories. Every method is one unit of work."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    async def create(self, data: NewMemory, keyed: KeyedCreate[Memory] | None = None) -> Memory:
        """Create the memory; with `keyed`, keep the request's answer in the same unit of work."""

        async def work(uow: UnitOfWork) -> Memory:
            memory = await uow.memories.add(await _build(uow, data))
            if keyed is not None:
                await keyed.keep(uow.idempotency_keys, memory)
            return memory

        return await self._storage.run(work)

    async def create_batch(
        self, items: Sequence[NewMemory], keyed: KeyedCreate[list[Memory]] | None = None
    ) -> list[Memory]:
        """Create every memory in one transaction, or none: the first bad item (unknown parent,
        duplicate in the database or earlier in the batch) fails the batch, naming its index.
        With `keyed`, keep the request's answer in the same transaction."""
        if not 1 <= len(items) <= MAX_BATCH:
            raise Invalid(f"must hold 1 to {MAX_BATCH} memories", key="items")

        async def work(uow: UnitOfWork) -> list[Memory]:
            created: list[Memory] = []
            seen: set[tuple[str, str, uuid.UUID | None]] = set()
            for index, data in enumerate(items):
                try:
                    memory = await _build(uow, data)
                    key = (memory.name, memory.agent_id, memory.user_id)
                    if key in seen:
                        raise Conflict.duplicate("memory", "name")
                    seen.add(key)
                    created.append(await uow.memories.add(memory))
                except DomainError as e:
                    raise _at_index(e, index) from None
            if keyed is not None:
                await keyed.keep(uow.idempotency_keys, created)
            return created

        return await self._storage.run(work)

    async def get(self, memory_id: uuid.UUID) -> Memory:
        async def work(uow: UnitOfWork) -> Memory:
            memory = await uow.memories.get(memory_id)
            if memory is None:
                raise NotFound(f"no memory {memory_id}", key="memory_id")
            return memory

        return await self._storage.run(work)

    async def list(
        self,
        paging: Paging,
        *,
        agent_id: str | None = None,
        user_id: uuid.UUID | None = None,
        session_id: uuid.UUID | None = None,
        read_mode: ReadMode | None = None,
        name: str | None = None,
    ) -> Page[Memory]:
        async def work(uow: UnitOfWork) -> tuple[list[Memory], int]:
            agent = (await find_agent(uow, agent_id, key="agent_id")).id if agent_id is not None else None
            if user_id is not None:
                await find_user(uow, user_id)
            if session_id is not None:
                await find_session(uow, session_id)
            return await uow.memories.list(
                paging, agent_id=agent, user_id=user_id, session_id=session_id, read_mode=read_mode, name=name
            )

        items, total = await self._storage.run(work)
        return Page(items, total, paging)

    async def update(self, memory_id: uuid.UUID, patch: MemoryPatch) -> Memory:
        async def work(uow: UnitOfWork) -> Memory:
            updated = await uow.memories.update(memory_id, patch)
            if updated is None:
                raise NotFound(f"no memory {memory_id}", key="memory_id")
            return updated

        return await self._storage.run(work)

    async def delete(self, memory_id: uuid.UUID) -> None:
        async def work(uow: UnitOfWork) -> None:
            if not await uow.memories.delete(memory_id):
                raise NotFound(f"no memory {memory_id}", key="memory_id")

        await self._storage.run(work)


def _at_index(error: DomainError, index: int) -> DomainError:
    """The same error, its key prefixed by the item's index (`2.name`)."""
    if isinstance(error, Invalid):
        return Invalid([type(e)(f"{index}.{e.key}" if e.key else str(index), e.message) for e in error.errors])
    key = f"{index}.{error.key}" if error.key else str(index)
    return type(error)(f"item {index}: {error.message}", code=error.code, key=key)
