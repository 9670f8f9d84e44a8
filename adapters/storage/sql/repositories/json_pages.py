"""Pages of rows decoded in one call: validated as a list by pydantic-core, or built by the database
as one JSON array and validated straight from its text.

Turning rows into validated models costs agentkeep more than the SQL does: per row, SQLAlchemy's
result processors (UUIDs, timestamps, JSON text) and a `model_validate`. A page read through
`json_page` costs the database one `json_object` per row (C, inside SQLite or PostgreSQL) and
Python one `validate_json` of the whole array (Rust): the same checks, the same models (the
contract tests read every field back), at a fraction of the cost. Values in the JSON are what the
processors would have made of the columns: SQLite's stored text (32-hex UUIDs, naive UTC
timestamps given a `Z`; JSON columns embedded with `json()`), PostgreSQL's own
JSON forms (`to_json` of a UUID, a `timestamptz`, a JSONB value).
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Sequence
from typing import Any

from pydantic import BaseModel, TypeAdapter
from sqlalchemy import JSON, Select, Text, func, literal_column, select, type_coerce
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.sql import ColumnElement

from agentkeep.adapters.storage.sql.dialect import POSTGRES, SQLITE
from agentkeep.adapters.storage.sql.tables import UtcDateTime

PAGE = "page"
"""The one column of a JSON page statement: the page's rows as a JSON array of objects."""


@functools.cache
def list_of(model: type[BaseModel]) -> TypeAdapter[list[Any]]:
    """The validator of a list of `model`, built once per model."""
    return TypeAdapter(list[model])  # type: ignore[valid-type]


def json_page(
    rows: Select[Any], dialect: str, *, order: Sequence[str] = (), hidden: Collection[str] = ()
) -> Select[Any]:
    """A statement answering one row, one column (`PAGE`): the rows of `rows` as a JSON array of
    objects keyed by column name (but the `hidden` columns), in the order of `rows`. SQLite
    aggregates a subquery's rows in its order; PostgreSQL is told the order again: `order`, the
    keys of columns of `rows`, each newest first (descending)."""
    page = rows.subquery("page_rows")
    columns = [c for c in page.c if c.key not in hidden]
    if dialect == SQLITE:
        fields = [part for c in columns for part in (_name(c), _sqlite_value(c))]
        built: Any = func.json_group_array(func.json_object(*fields))  # `[]` when there is no row
    elif dialect == POSTGRES:
        fields = [part for c in columns for part in (_name(c), c)]
        aggregated = func.json_agg(
            aggregate_order_by(func.json_build_object(*fields), *(page.c[k].desc() for k in order))
        )
        # As text: the connection may decode JSON itself (a codec), and pydantic reads text faster.
        built = func.coalesce(aggregated, literal_column("'[]'::json")).cast(Text)
    else:
        raise ValueError(f"no JSON page for the dialect {dialect!r}")
    return select(type_coerce(built, Text).label(PAGE)).select_from(page)


def _name(column: ColumnElement[Any]) -> ColumnElement[str]:
    """A column's key as an SQL string literal (a column key: letters, digits and underscores)."""
    if not str(column.key).isidentifier():
        raise ValueError(f"not a plain column key: {column.key!r}")
    return literal_column(f"'{column.key}'")


def _is_json(column: ColumnElement[Any]) -> bool:
    return isinstance(column.type, JSON)


def _sqlite_value(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """A column as SQLite's page holds it: a JSON column embedded, a timestamp (stored naive UTC)
    with its `Z`, so that pydantic-core reads it aware without calling back into Python."""
    if _is_json(column):
        return func.json(column)
    if isinstance(column.type, UtcDateTime):
        return type_coerce(column, Text).op("||")(literal_column("'Z'"))
    return column
