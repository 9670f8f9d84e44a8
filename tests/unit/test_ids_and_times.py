"""The shortcuts that hot paths take (`domain.ids`, `domain.values`, the SQL adapter's timestamps and
JSON) give what the standard library gives."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from agentkeep.adapters.storage.sql.dialect import json_dumps, json_loads
from agentkeep.adapters.storage.sql.tables import _sqlite_text
from agentkeep.domain.ids import LEGACY_NAMESPACE, legacy_uuid
from agentkeep.domain.values import to_utc


@given(st.text())
def test_legacy_uuid_is_uuid5_in_the_legacy_namespace(name: str) -> None:
    made = legacy_uuid(name)
    assert made == uuid.uuid5(LEGACY_NAMESPACE, name)
    assert (made.version, made.variant) == (5, uuid.RFC_4122)


def test_legacy_uuid_of_a_known_name() -> None:
    assert str(legacy_uuid("user:anonymous")) == str(uuid.uuid5(LEGACY_NAMESPACE, "user:anonymous"))


aware = st.datetimes(
    min_value=datetime(1, 1, 2),
    max_value=datetime(9999, 12, 30),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))]),
)


@given(aware | st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)))
def test_to_utc_and_the_sqlite_text_of_any_time(value: datetime) -> None:
    expected = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    assert to_utc(value) == expected
    assert to_utc(value).tzinfo is UTC
    assert _sqlite_text(value) == expected.replace(tzinfo=None).isoformat(" ", "microseconds")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


@given(json_values)
def test_the_json_shortcuts_read_and_write_what_json_does(value: object) -> None:
    text = json.dumps(value)
    assert json_dumps(value) == text
    assert json_loads(text) == json.loads(text)


def test_an_empty_object_or_list_read_is_a_new_one_each_time() -> None:
    first, second = json_loads("{}"), json_loads("{}")
    first["key"] = "value"
    assert second == {} and json_loads("[]") == [] and json_loads("[]") is not json_loads("[]")
