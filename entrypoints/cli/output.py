"""Printing results: rich tables for people, JSON for scripts."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import click
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table
from rich.text import Text

from agentkeep.domain.paging import Page


def envelope(page: Page[Any]) -> dict[str, Any]:
    """A page as the HTTP API's list envelope."""
    return {
        "items": [item.model_dump(mode="json") for item in page.items],
        "total": page.total,
        "page": page.paging.page,
        "page_size": page.paging.page_size,
        "total_pages": page.total_pages,
    }


def as_json(value: Any) -> str:
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    elif isinstance(value, Page):
        value = envelope(value)
    return json.dumps(value, ensure_ascii=False, indent=2)


def show(value: BaseModel | Page[Any], columns: Sequence[str], *, as_json_output: bool) -> None:
    """One entity as a two-column table, a page as a table of `columns`, or either as JSON."""
    if as_json_output:
        click.echo(as_json(value))
        return
    console = Console()
    if isinstance(value, Page):
        table = Table(*columns, caption=f"page {value.paging.page} of {value.total_pages}, {value.total} in all")
        for item in value.items:
            data = item.model_dump(mode="json")
            table.add_row(*(_cell(data.get(c)) for c in columns))
    else:
        table = Table("field", "value", show_header=False)
        for key, field_value in value.model_dump(mode="json").items():
            table.add_row(key, _cell(field_value))
    console.print(table)


def _cell(value: Any) -> Text:
    # Text, not str: rich would read `[/x]` in stored data as markup (and fail) and `:smile:` as an emoji.
    if value is None:
        return Text("")
    if isinstance(value, dict | list):
        return Text(json.dumps(value, ensure_ascii=False))
    return Text(str(value))
