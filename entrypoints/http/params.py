"""Path and query parameters shared by the routes, parsed the way SPEC §5 says: a malformed id in a
path is 404; a legacy integer user id is served as its mapped UUID."""

from __future__ import annotations

from domain.paging import Paging
from entrypoints.references import user_filter as user_id_filter
from entrypoints.references import user_ref as user_id_in_path
from entrypoints.references import uuid_ref as uuid_in_path

__all__ = ["PAGE", "PAGE_SIZE", "paging", "user_id_filter", "user_id_in_path", "uuid_in_path"]

PAGE = {"ge": 1, "le": 2**31, "description": "Page number, from 1."}
PAGE_SIZE = {"ge": 1, "le": 100, "description": "Items per page, 1..100."}


def paging(page: int, page_size: int, sort_desc: bool) -> Paging:
    return Paging(page=page, page_size=page_size, sort_desc=sort_desc)
