"""Response shapes of the API beyond the entities themselves (the list envelope, a session with its
messages, health), and what the OpenAPI document needs said of them that Litestar does not say."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, Generic, Literal, TypeVar

from litestar.openapi import ResponseSpec
from litestar.openapi.spec import OpenAPI, OpenAPIType, Reference, Schema
from pydantic import BaseModel

from agentkeep.domain.models import Message, Session
from agentkeep.domain.paging import Page

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


class SessionView(Session):
    """What reading a session answers (built by `session_view`): its fields and a page of its messages,
    where `tool_calls`/`tool_outputs` are left out with `hide_tools` and `system_prompt` is only
    there with `show_system_prompt`."""

    messages: ListOf[Message]


SESSION_VIEW = {
    200: ResponseSpec(SessionView, description="The session and one page of its messages.", generate_examples=False)
}
"""`responses=` of the session read, whose handler returns a plain dict (see `session_view`)."""


def created_or_replaced(model: type[BaseModel]) -> dict[int, ResponseSpec]:
    """`responses=` of a create-or-replace (PUT): 201 with the same body as its 200 when it creates."""
    return {201: ResponseSpec(model, description="Created: there was none to replace.", generate_examples=False)}


class Health(BaseModel):
    """The body of `GET /health`, 200 when `status` is `ok`, else 503."""

    status: Literal["ok", "unavailable", "schema_behind"]
    database: Literal["ok", "unreachable"]
    schema_revision: str | None
    version: str


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


def overlapping_unions_as_any_of(openapi: OpenAPI) -> None:
    """Litestar documents every union as `oneOf`, which holds only when exactly one branch matches.
    A JSON value (`domain.values.Json`, the values of a `JsonObject`) is a union of integer *and*
    number, so no integer in it would be valid: such unions become `anyOf`."""

    def visit(node: object) -> None:
        if isinstance(node, Schema) and node.one_of and _integer_and_number(node.one_of):
            node.any_of, node.one_of = node.one_of, None
        if dataclasses.is_dataclass(node) and not isinstance(node, type):
            for field in dataclasses.fields(node):
                visit(getattr(node, field.name))
        elif isinstance(node, list | tuple):
            for item in node:
                visit(item)
        elif isinstance(node, dict):
            for item in node.values():
                visit(item)

    visit(openapi)


def _integer_and_number(branches: Sequence[Schema | Reference]) -> bool:
    types = {branch.type for branch in branches if isinstance(branch, Schema)}
    return {OpenAPIType.INTEGER, OpenAPIType.NUMBER} <= types
