"""Pagination of every list (SPEC §5): `page` from 1, `page_size` 1..100, a sort direction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from agentkeep.domain.errors import FieldError, Invalid

MAX_PAGE_SIZE = 100
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Paging:
    """Which slice of a list, and in which direction (`sort_desc=False`: oldest first)."""

    page: int = 1
    page_size: int = 20
    sort_desc: bool = False

    def __post_init__(self) -> None:
        errors = []
        if not 1 <= self.page <= 2**31:
            errors.append(FieldError("page", "must be at least 1"))
        if not 1 <= self.page_size <= MAX_PAGE_SIZE:
            errors.append(FieldError("page_size", f"must be between 1 and {MAX_PAGE_SIZE}"))
        if errors:
            raise Invalid(errors)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list and the size of the whole list."""

    items: list[T]
    total: int
    paging: Paging

    @property
    def total_pages(self) -> int:
        return -(-self.total // self.paging.page_size)
