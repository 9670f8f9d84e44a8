"""Ids that callers write by hand (an HTTP path or query, a CLI argument), parsed one way for both
entrypoints: a reference to something that cannot exist is not found; a bad filter is invalid."""

from __future__ import annotations

import uuid

from agentkeep.domain.errors import Invalid, NotFound
from agentkeep.domain.ids import parse_user_id


def user_ref(value: str) -> uuid.UUID:
    """A user named by a path or an argument: a UUID or a legacy integer, else not found."""
    try:
        return parse_user_id(value)
    except ValueError:
        raise NotFound(f"no user {value!r}", key="user_id") from None


def uuid_ref(value: str, key: str) -> uuid.UUID:
    """A session or memory named by a path or an argument: a UUID, else not found."""
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound(f"no {key.removesuffix('_id')} {value!r}", key=key) from None


def user_filter(value: str | None) -> uuid.UUID | None:
    """A `user_id` filter: a UUID or a legacy integer; anything else is invalid, naming it."""
    if value is None:
        return None
    try:
        return parse_user_id(value)
    except ValueError:
        raise Invalid("must be a UUID or an integer", key="user_id") from None
