"""The users port."""

from __future__ import annotations

import uuid
from typing import Protocol

from agentkeep.domain.models import User
from agentkeep.domain.paging import Paging
from agentkeep.domain.patches import UserPatch


class Users(Protocol):
    """The users a request reads and writes, by id or email (emails compared case-insensitively).
    A write that takes an id or email another user holds raises `Conflict` naming the field."""

    async def add(self, user: User) -> User:
        """Insert `user` as given (its id kept). Conflict on a taken id or email."""
        ...

    async def get(self, user_id: uuid.UUID) -> User | None: ...

    async def get_by_email(self, email: str) -> User | None:
        """The user with this email, compared case-insensitively."""
        ...

    async def get_or_create(self, user: User) -> tuple[User, bool]:
        """The user with `user.id`, or `user` inserted; atomic (insert-on-conflict, then read).

        Returns the stored user and whether it was created. Conflict if only the email clashes.
        """
        ...

    async def get_or_create_by_email(self, user: User) -> tuple[User, bool]:
        """The user with `user.email` (which must be set), or `user` inserted; atomic."""
        ...

    async def list(self, paging: Paging, *, email: str | None = None) -> tuple[list[User], int]: ...

    async def update(self, user_id: uuid.UUID, patch: UserPatch) -> User | None:
        """Apply `patch`; None if there is no such user. Conflict on a taken email."""
        ...

    async def delete(self, user_id: uuid.UUID) -> bool:
        """Delete the user with its sessions, messages and user-scoped memories."""
        ...
