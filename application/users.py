"""Users: create, read, list, change, delete. A legacy integer id is served as its mapped UUID."""

from __future__ import annotations

import uuid

from agentkeep.application.idempotency import KeyedCreate
from agentkeep.application.inputs import NewUser
from agentkeep.domain.errors import NotFound
from agentkeep.domain.models import User
from agentkeep.domain.paging import Page, Paging
from agentkeep.domain.patches import UserPatch
from agentkeep.domain.ports.unit_of_work import Storage, UnitOfWork


async def find_user(uow: UnitOfWork, user_id: uuid.UUID, key: str = "user_id") -> User:
    user = await uow.users.get(user_id)
    if user is None:
        raise NotFound(f"no user {user_id}", key=key)
    return user


class UserService:
    """Use cases on users. Every method is one unit of work."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    async def create(self, data: NewUser, keyed: KeyedCreate[User] | None = None) -> User:
        """Create the user; with `keyed`, keep the request's answer in the same unit of work."""
        user = data.build()

        async def work(uow: UnitOfWork) -> User:
            created = await uow.users.add(user)
            if keyed is not None:
                await keyed.keep(uow.idempotency_keys, created)
            return created

        return await self._storage.run(work)

    async def get(self, user_id: uuid.UUID) -> User:
        return await self._storage.run(lambda uow: find_user(uow, user_id))

    async def list(self, paging: Paging, *, email: str | None = None) -> Page[User]:
        items, total = await self._storage.run(lambda uow: uow.users.list(paging, email=email))
        return Page(items, total, paging)

    async def update(self, user_id: uuid.UUID, patch: UserPatch) -> User:
        async def work(uow: UnitOfWork) -> User:
            updated = await uow.users.update(user_id, patch)
            if updated is None:
                raise NotFound(f"no user {user_id}", key="user_id")
            return updated

        return await self._storage.run(work)

    async def delete(self, user_id: uuid.UUID) -> None:
        async def work(uow: UnitOfWork) -> None:
            if not await uow.users.delete(user_id):
                raise NotFound(f"no user {user_id}", key="user_id")

        await self._storage.run(work)
