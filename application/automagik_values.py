"""The value mappings of the automagik-agents import (SPEC §7), one pure function each: raw source
values in, agentkeep values out, or `BadValue` naming the skip reason.

Kept apart from the use case (`import_automagik`) so each rule can be read, and tested, alone.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter, ValidationError

from agentkeep.domain.legacy import RawJson, RawTime
from agentkeep.domain.values import AGENT_NAME_PATTERN, Access, Email, JsonObject, ReadMode, to_utc

_AGENT_NAME = re.compile(AGENT_NAME_PATTERN)
_NOT_IN_NAME = re.compile(r"[^a-z0-9._-]")
_EMAIL: TypeAdapter[str] = TypeAdapter(Email)

READ_MODES = {
    "system_prompt": ReadMode.SYSTEM_PROMPT,
    "tool_call": ReadMode.TOOL_CALL,
    "tool": ReadMode.TOOL_CALL,
    "tool_calling": ReadMode.TOOL_CALL,
}
ACCESS = {"read": Access.READ, "write": Access.WRITE, "read_write": Access.WRITE}


class BadValue(Exception):
    """A value agentkeep cannot take: the row is skipped (or the value dropped) for `reason`."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def _reject_constant(name: str) -> Any:
    # NaN and Infinity are not JSON, and PostgreSQL refuses them in JSONB.
    raise ValueError(f"{name} is not JSON")


def parse_json(raw: RawJson, column: str) -> Any:
    """A JSON column's value: text is parsed (BadValue `bad_json` when it cannot be), anything
    else was parsed by the driver already."""
    if not isinstance(raw, str):
        return raw
    if holds_nul(raw):
        raise BadValue("invalid_value", f"{column} holds a NUL character, which PostgreSQL cannot store")
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except ValueError:
        raise BadValue("bad_json", f"{column} is not valid JSON") from None


def json_object(raw: RawJson, column: str) -> tuple[JsonObject, Any]:
    """A JSON column that agentkeep keeps as an object: NULL is `{}`; a JSON string that holds
    JSON (automagik's session metadata) is parsed; another value is returned second, to be kept
    under `legacy`, with `{}` first."""
    value = parse_json(raw, column)
    if isinstance(value, str):
        try:
            value = json.loads(value, parse_constant=_reject_constant)
        except ValueError:
            return {}, value
    if value is None:
        return {}, None
    if isinstance(value, dict):
        return value, None
    return {}, value


def with_legacy(target: JsonObject, values: dict[str, Any]) -> JsonObject:
    """`target` with `values` (those not None) merged under its `legacy` key."""
    extra = {key: value for key, value in values.items() if value is not None}
    if not extra:
        return target
    legacy = target.get("legacy")
    if isinstance(legacy, dict):
        merged: JsonObject = {**legacy, **extra}
    elif legacy is None:
        merged = extra
    else:
        merged = {"legacy": legacy, **extra}
    return {**target, "legacy": merged}


def timestamp(raw: RawTime, column: str) -> datetime | None:
    """An aware UTC datetime; a naive value (or text without a zone) is UTC. BadValue
    `bad_timestamp` for text that is no ISO 8601 time."""
    if raw is None:
        return None
    if isinstance(raw, datetime):
        return to_utc(raw)
    if not isinstance(raw, str):  # a SQLite column of another type may hold anything
        raise BadValue("bad_timestamp", f"{column} {raw!r} is not a time")
    try:
        return to_utc(datetime.fromisoformat(raw.strip()))
    except ValueError:
        raise BadValue("bad_timestamp", f"{column} {raw!r} is not a time") from None


def row_uuid(raw: object, column: str) -> uuid.UUID:
    """A UUID column (text on SQLite). BadValue `invalid_id` otherwise."""
    if isinstance(raw, uuid.UUID):
        return raw
    try:
        return uuid.UUID(str(raw))
    except ValueError:
        raise BadValue("invalid_id", f"{column} {raw!r} is not a UUID") from None


def optional_uuid(raw: object) -> uuid.UUID | None:
    """A reference to a UUID row, or None when there is none or it cannot be one."""
    if raw is None:
        return None
    try:
        return row_uuid(raw, "")
    except BadValue:
        return None


def email(raw: str | None) -> str | None:
    """The email as agentkeep stores it (validated, lower-case). BadValue `invalid_email`."""
    if raw is None or not raw.strip():
        return None
    try:
        return _EMAIL.validate_python(raw)
    except ValidationError:
        raise BadValue("invalid_email", f"email {raw!r} is not a valid address") from None


def agent_name(raw: str | None) -> str:
    """A valid handle: as given (lower-cased), else with every other character turned into `-`.
    BadValue `invalid_name` when that is still no handle."""
    name = (raw or "").lower()
    if not _AGENT_NAME.match(name):
        name = _NOT_IN_NAME.sub("-", name)
    if not _AGENT_NAME.match(name):
        raise BadValue("invalid_name", f"name {raw!r} is not a valid agent name, even as {name!r}")
    return name


def model(raw: str | None) -> tuple[str, str | None]:
    """agentkeep's model and the legacy one it replaces: `echo` and `openai:<model>` are kept,
    anything else becomes `echo` (the original returned second, for `config.legacy.model`)."""
    if raw == "echo" or (raw is not None and raw.startswith("openai:") and 7 < len(raw) <= 255):
        return raw, None
    return "echo", raw


def read_mode(raw: str | None) -> ReadMode:
    if raw is None:
        return ReadMode.SYSTEM_PROMPT
    try:
        return READ_MODES[raw.strip().lower()]
    except KeyError:
        raise BadValue("invalid_value", f"read_mode {raw!r} is unknown") from None


def access(raw: str | None) -> Access:
    if raw is None:
        return Access.WRITE
    try:
        return ACCESS[raw.strip().lower()]
    except KeyError:
        raise BadValue("invalid_value", f"access {raw!r} is unknown") from None


def _entries(raw: RawJson, column: str) -> list[dict[str, Any]]:
    """The entries of automagik's tool columns: an object keyed "0", "1", ... (in that order), or
    a list. NULL and `{}` are none. BadValue `invalid_value` for an entry that is no object."""
    value = parse_json(raw, column)
    if value is None:
        return []
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: (not k.isdigit(), int(k) if k.isdigit() else 0, k))
        items = [value[k] for k in keys]
    elif isinstance(value, list):
        items = value
    else:
        raise BadValue("invalid_value", f"{column} is neither an object nor a list")
    if not all(isinstance(item, dict) for item in items):
        raise BadValue("invalid_value", f"{column} holds an entry that is not an object")
    return items


def tool_calls(raw: RawJson) -> list[dict[str, Any]]:
    """`{tool_name, args, tool_call_id}` entries as agentkeep's `{id, name, arguments}`."""
    return [
        {
            "id": str(_first(item, "tool_call_id", "id", default=f"call_{index}")),
            "name": str(_first(item, "tool_name", "name", default="")),
            "arguments": _first(item, "args", "arguments", default={}),
        }
        for index, item in enumerate(_entries(raw, "tool_calls"))
    ]


def tool_outputs(raw: RawJson) -> list[dict[str, Any]]:
    """`{tool_name, content, tool_call_id}` entries as agentkeep's `{tool_call_id, name, content}`."""
    return [
        {
            "tool_call_id": str(_first(item, "tool_call_id", "id", default=f"call_{index}")),
            "name": str(_first(item, "tool_name", "name", default="")),
            "content": item.get("content"),
        }
        for index, item in enumerate(_entries(raw, "tool_outputs"))
    ]


def _first(item: dict[str, Any], *keys: str, default: Any) -> Any:
    for key in keys:
        if item.get(key) is not None:
            return item[key]
    return default


def label(raw: str | None) -> str | None:
    """A short label (type, version, platform, message type): blank is none."""
    if raw is None or not raw.strip():
        return None
    return raw


def holds_nul(*values: object) -> bool:
    """Whether a text or JSON text holds a NUL character, which PostgreSQL cannot store."""
    return any(isinstance(v, str) and ("\x00" in v or "\\u0000" in v) for v in values)
