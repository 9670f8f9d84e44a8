"""Users in memory."""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Collection, Sequence

from agentkeep.adapters.storage.memory.state import (
    Repository,
    by_time_then_id,
    conflict,
    detach,
    detach_or_none,
    page,
    pick,
)
from agentkeep.domain.models import User
from agentkeep.domain.paging import Paging
from agentkeep.domain.patches import UserPatch
from agentkeep.domain.values import utcnow


class MemoryUsers(Repository):
    async def add(self, user: User) -> User:
        # The same order of checks as SQLite: the email rule, then the id.
        if user.email is not None and self._owner_of(user.email) is not None:
            raise conflict("user", "email")
        if user.id in self._tables.users:
            raise conflict("user", "id")
        self._tables.users[user.id] = detach(user)
        return user

    async def get(self, user_id: uuid.UUID) -> User | None:
        return detach_or_none(self._tables.users.get(user_id))

    async def get_many(self, user_ids: Collection[uuid.UUID]) -> builtins.list[User]:
        return pick(self._tables.users, user_ids)

    async def get_many_by_email(self, emails: Collection[str]) -> builtins.list[User]:
        wanted = {e.lower() for e in emails}
        if not wanted:
            return []
        return [detach(u) for u in self._tables.users.values() if u.email is not None and u.email in wanted]

    async def add_many(self, users: Sequence[User]) -> None:
        # Row by row through `add`, as the SQL executemany checks each row against the ones
        # before it; a Conflict leaves rows in this unit of work's copy, dropped when it is left.
        for user in users:
            await self.add(user)

    async def get_by_email(self, email: str) -> User | None:
        return detach_or_none(self._owner_of(email))

    async def get_or_create(self, user: User) -> tuple[User, bool]:
        stored = self._tables.users.get(user.id)
        if stored is not None:
            return detach(stored), False
        await self.add(user)
        return detach(user), True

    async def get_or_create_by_email(self, user: User) -> tuple[User, bool]:
        if user.email is None:
            raise ValueError("get_or_create_by_email needs an email")
        stored = self._owner_of(user.email)
        if stored is not None:
            return detach(stored), False
        await self.add(user)
        return detach(user), True

    async def list(self, paging: Paging, *, email: str | None = None) -> tuple[list[User], int]:
        wanted = None if email is None else email.lower()
        rows = [u for u in self._tables.users.values() if wanted is None or u.email == wanted]
        return page(rows, by_time_then_id, paging)

    async def update(self, user_id: uuid.UUID, patch: UserPatch) -> User | None:
        current = self._tables.users.get(user_id)
        if current is None or not patch:
            return detach_or_none(current)
        changes = patch.changes()
        email = changes.get("email")
        if email is not None:
            owner = self._owner_of(email)
            if owner is not None and owner.id != user_id:
                raise conflict("user", "email")
        updated = detach(current.model_copy(update={**changes, "updated_at": utcnow()}))
        self._tables.users[user_id] = updated
        return detach(updated)

    async def delete(self, user_id: uuid.UUID) -> bool:
        return self._tables.delete_user(user_id)

    def _owner_of(self, email: str) -> User | None:
        lowered = email.lower()
        return next((u for u in self._tables.users.values() if u.email == lowered), None)
