"""Response shapes of the API beyond the entities themselves: the list envelope and messages."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from domain.models import Message, Session
from domain.paging import Page

T = TypeVar("T")


class ListOf(BaseModel, Generic[T]):
    """Every list: one page of items and where it sits in the whole."""

    items: list[T]
    total: int
    page: int
    page_size: int
    total_pages: int

    @classmethod
    def of(cls, page: Page[Any]) -> ListOf[Any]:
        return cls(
            items=page.items,
            total=page.total,
            page=page.paging.page,
            page_size=page.paging.page_size,
            total_pages=page.total_pages,
        )


def message_view(message: Message, *, hide_tools: bool, show_system_prompt: bool) -> dict[str, Any]:
    exclude = set()
    if hide_tools:
        exclude |= {"tool_calls", "tool_outputs"}
    if not show_system_prompt:
        exclude.add("system_prompt")
    return message.model_dump(mode="json", exclude=exclude)


def session_view(
    session: Session, messages: Page[Message], *, hide_tools: bool, show_system_prompt: bool
) -> dict[str, Any]:
    """A session's fields plus `messages`, a list envelope of its messages."""
    envelope = ListOf.of(messages).model_dump(mode="json", exclude={"items"})
    envelope["items"] = [
        message_view(m, hide_tools=hide_tools, show_system_prompt=show_system_prompt) for m in messages.items
    ]
    return {**session.model_dump(mode="json"), "messages": envelope}
