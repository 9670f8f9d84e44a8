"""`UserId`, `AgentId` and `Timestamp` read from JSON (a page of stored rows) try a pydantic-core
schema first, without Python, then their own validators: the two ways must agree on every input,
accepted or refused, and give equal values (`NativeFirstInJson`)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from agentkeep.domain.ids import AgentId, UserId
from agentkeep.domain.values import Timestamp


def _python_and_json(kind: Any, value: object) -> tuple[object, object]:
    """What `kind` makes of `value` from Python (its own validators alone) and from its JSON text,
    each the value or the string "refused"."""
    adapter: TypeAdapter[Any] = TypeAdapter(kind)
    results: list[object] = []
    for text in (None, json.dumps(value)):
        try:
            results.append(adapter.validate_python(value) if text is None else adapter.validate_json(text))
        except ValidationError:
            results.append("refused")
    return results[0], results[1]


def _uuid_forms(value: uuid.UUID) -> st.SearchStrategy[str]:
    return st.sampled_from(
        [str(value), value.hex, value.hex.upper(), f"{{{value}}}", f"urn:uuid:{value}", str(value)[:-1], f"{value} "]
    )


user_ids = (
    st.uuids().flatmap(_uuid_forms)
    | st.integers(min_value=-10, max_value=2**64)
    | st.integers(min_value=0, max_value=2**64).map(str)
    | st.text(max_size=40)
    | st.booleans()
    | st.none()
)


@given(user_ids)
def test_a_user_id_from_json_is_what_its_validator_makes_of_it(value: object) -> None:
    from_python, from_json = _python_and_json(UserId, value)
    assert from_json == from_python


agent_ids = (
    st.uuids().flatmap(_uuid_forms)
    | st.from_regex(r"did:[a-z0-9]{1,5}:[A-Za-z0-9._:%-]{1,20}\n?", fullmatch=True)
    | st.from_regex(r"[0-9a-fA-F]{31,33}\n?", fullmatch=True)
    | st.text(max_size=40)
    | st.integers()
)


@given(agent_ids)
def test_an_agent_id_from_json_is_what_its_validator_makes_of_it(value: object) -> None:
    from_python, from_json = _python_and_json(AgentId, value)
    assert from_json == from_python
    assert type(from_json) is type(from_python)


zones = st.sampled_from(
    [None, UTC, timezone(timedelta(0)), timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))]
)
times = st.builds(
    lambda at, zone, separator, z: at.replace(tzinfo=zone).isoformat(separator) + ("Z" if z and zone is None else ""),
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    zones,
    st.sampled_from(["T", " "]),
    st.booleans(),
)


@given(times | st.text(max_size=30) | st.integers(min_value=0, max_value=2**40))
def test_a_timestamp_from_json_is_what_its_validator_makes_of_it(value: object) -> None:
    from_python, from_json = _python_and_json(Timestamp, value)
    assert from_json == from_python
    if isinstance(from_json, datetime):
        assert from_json.utcoffset() == timedelta(0)
