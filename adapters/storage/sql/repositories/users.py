"""Users in SQL."""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Collection, Sequence

from sqlalchemy import bindparam, select

from agentkeep.adapters.storage.sql.dialect import POSTGRES, SQLITE, insert_ignoring
from agentkeep.adapters.storage.sql.prepared import Prepared, insert_row
from agentkeep.adapters.storage.sql.repositories import bulk
from agentkeep.adapters.storage.sql.repositories.base import BulkRepository, Listing, row_values
from agentkeep.adapters.storage.sql.tables import users
from agentkeep.domain.models import User
from agentkeep.domain.paging import Paging
from agentkeep.domain.patches import UserPatch

_ORDER = (users.c.created_at, users.c.id)
_ADD = Prepared(insert_row(users))
_BY_ID = Prepared(select(users).where(users.c.id == bindparam("id")))
_BY_EMAIL = Prepared(select(users).where(users.c.email == bindparam("email")))
# INSERT ... ON CONFLICT (id or email) DO NOTHING RETURNING id: a row when it was added.
_ADD_UNLESS_ID, _ADD_UNLESS_EMAIL = (
    {
        dialect: Prepared(
            insert_ignoring(users, dialect, [column])
            .values({c.name: bindparam(c.name) for c in users.c})
            .returning(users.c.id)
        )
        for dialect in (SQLITE, POSTGRES)
    }
    for column in ("id", "email")
)
_BY_IDS = bulk.RowsByKeys(select(users), users.c.id)
_BY_EMAILS = bulk.RowsByKeys(select(users), users.c.email)
_LIST = Listing(users, _ORDER, email=users.c.email == bindparam("email"))


class SqlUsers(BulkRepository):
    table = users

    async def add(self, user: User) -> User:
        await self._executor.write(_ADD, row_values(user))
        return user

    async def get(self, user_id: uuid.UUID) -> User | None:
        return await self._row(User, _BY_ID, {"id": user_id})

    async def get_many(self, user_ids: Collection[uuid.UUID]) -> builtins.list[User]:
        return await self._rows_by_keys(User, _BY_IDS, user_ids)

    async def get_many_by_email(self, emails: Collection[str]) -> builtins.list[User]:
        # Stored emails are lower-case (the entity lowers them).
        return await self._rows_by_keys(User, _BY_EMAILS, {e.lower() for e in emails})

    async def add_many(self, batch: Sequence[User]) -> None:
        await self._insert_many(batch)

    async def get_by_email(self, email: str) -> User | None:
        return await self._row(User, _BY_EMAIL, {"email": email.lower()})

    async def get_or_create(self, user: User) -> tuple[User, bool]:
        created = bool(await self._executor.rows(_ADD_UNLESS_ID[self._dialect], row_values(user)))
        stored = await self.get(user.id)
        assert stored is not None  # inserted, or there already
        return stored, created

    async def get_or_create_by_email(self, user: User) -> tuple[User, bool]:
        if user.email is None:
            raise ValueError("get_or_create_by_email needs an email")
        created = bool(await self._executor.rows(_ADD_UNLESS_EMAIL[self._dialect], row_values(user)))
        stored = await self.get_by_email(user.email)
        assert stored is not None
        return stored, created

    async def list(self, paging: Paging, *, email: str | None = None) -> tuple[list[User], int]:
        return await self._page(User, _LIST, paging, email=None if email is None else email.lower())

    async def update(self, user_id: uuid.UUID, patch: UserPatch) -> User | None:
        if not patch:
            return await self.get(user_id)
        return await self._patch(User, "id", user_id, patch)

    async def delete(self, user_id: uuid.UUID) -> bool:
        return await self._delete("id", user_id)
