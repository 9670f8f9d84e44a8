"""The shortcuts in `domain.ids` and `domain.values` that hot paths take give what the standard
library gives."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from adapters.storage.sql.tables import _sqlite_text
from domain.ids import LEGACY_NAMESPACE, legacy_uuid
from domain.values import to_utc


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
