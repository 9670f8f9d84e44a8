"""Path and query parameters shared by the routes, parsed the way SPEC §5 says: a malformed id in a
path is 404; a legacy integer user id is served as its mapped UUID."""

from __future__ import annotations

import uuid

from domain.errors import Invalid, NotFound
from domain.ids import parse_user_id
from domain.paging import Paging

PAGE = {"ge": 1, "le": 2**31, "description": "Page number, from 1."}
PAGE_SIZE = {"ge": 1, "le": 100, "description": "Items per page, 1..100."}


def paging(page: int, page_size: int, sort_desc: bool) -> Paging:
    return Paging(page=page, page_size=page_size, sort_desc=sort_desc)


def user_id_in_path(value: str) -> uuid.UUID:
    try:
        return parse_user_id(value)
    except ValueError:
        raise NotFound(f"no user {value!r}", key="user_id") from None


def uuid_in_path(value: str, key: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound(f"no {key.removesuffix('_id')} {value!r}", key=key) from None


def user_id_filter(value: str | None) -> uuid.UUID | None:
    """A `user_id` query filter: a UUID or a legacy integer; anything else is a 400 naming it."""
    if value is None:
        return None
    try:
        return parse_user_id(value)
    except ValueError:
        raise Invalid("must be a UUID or an integer", key="user_id") from None
