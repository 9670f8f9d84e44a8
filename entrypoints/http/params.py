"""Query parameters shared by the list routes (ids in paths are parsed by `entrypoints.references`)."""

from __future__ import annotations

from agentkeep.domain.paging import Paging

PAGE = {"ge": 1, "le": 2**31, "description": "Page number, from 1."}
PAGE_SIZE = {"ge": 1, "le": 100, "description": "Items per page, 1..100."}


def paging(page: int, page_size: int, sort_desc: bool) -> Paging:
    return Paging(page=page, page_size=page_size, sort_desc=sort_desc)
