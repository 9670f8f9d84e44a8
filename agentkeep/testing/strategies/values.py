"""Values the entities are made of: texts, JSON, timestamps, emails, agent ids and names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any, TypeVar

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

__all__ = [
    "agent_ids",
    "agent_names",
    "dids",
    "emails",
    "json_objects",
    "json_scalars",
    "json_values",
    "labels",
    "non_blank_texts",
    "texts",
    "timestamps",
]

T = TypeVar("T")

_CHARACTERS = st.characters(exclude_categories=["Cs"], exclude_characters="\x00")
_LOWER_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"
_ZONES = (UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-7)))
INT64 = 2**63 - 1


def _strategy(value: T | SearchStrategy[T]) -> SearchStrategy[T]:
    return value if isinstance(value, SearchStrategy) else st.just(value)


def _maybe(strategy: SearchStrategy[T]) -> SearchStrategy[T | None]:
    return st.none() | strategy


def texts(min_size: int = 0, max_size: int = 40) -> SearchStrategy[str]:
    """Any text both databases keep as is (no NUL, no lone surrogate)."""
    return st.text(_CHARACTERS, min_size=min_size, max_size=max_size)


def non_blank_texts(max_size: int = 200) -> SearchStrategy[str]:
    """Text with something besides whitespace (a persona bio)."""
    return st.builds(
        lambda pad, core, tail: pad + core + tail,
        st.sampled_from(["", " ", "\n"]),
        st.text(st.characters(categories=("L", "N", "P")), min_size=1, max_size=max_size),
        texts(max_size=20),
    )


def labels(max_size: int = 30) -> SearchStrategy[str]:
    """A short free-form label: a session name, a platform, a type, a version."""
    return texts(min_size=1, max_size=max_size)


def timestamps(min_year: int = 2000, max_year: int = 2100) -> SearchStrategy[datetime]:
    """Aware timestamps with microseconds, in UTC or another fixed zone (stored as UTC)."""
    return st.datetimes(
        min_value=datetime(min_year, 1, 2), max_value=datetime(max_year, 12, 30), timezones=st.sampled_from(_ZONES)
    )


def json_scalars() -> SearchStrategy[Any]:
    return (
        st.none()
        | st.booleans()
        | st.integers(-INT64 - 1, INT64)
        | st.integers(-(10**6), 10**6).map(lambda eighths: eighths / 8)
        | texts(max_size=20)
    )


def json_values(max_leaves: int = 6) -> SearchStrategy[Any]:
    """Any JSON value: nested lists and objects of portable scalars."""
    return st.recursive(
        json_scalars(),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts(max_size=8), inner, max_size=3),
        max_leaves=max_leaves,
    )


def json_objects(max_size: int = 3) -> SearchStrategy[dict[str, Any]]:
    """A JSON object (user_data, config, metadata, context)."""
    return st.dictionaries(texts(max_size=8), json_values(), max_size=max_size)


def emails() -> SearchStrategy[str]:
    """Valid email addresses, in mixed case (the entities store them lower-case)."""
    word = st.text(_LOWER_ALNUM + "ABCXYZ_+-", min_size=1, max_size=8)
    local = st.lists(word, min_size=1, max_size=3).map(".".join)
    label = st.text(_LOWER_ALNUM, min_size=1, max_size=10)
    domain = st.builds(lambda a, tld: f"{a}.{tld}", label, st.sampled_from(["com", "org", "net", "io", "Example.COM"]))
    return st.builds(lambda lp, d: f"{lp}@{d}", local, domain)


def agent_names(max_size: int = 30) -> SearchStrategy[str]:
    """Valid handles: `^[a-z0-9][a-z0-9._-]{0,252}$`, some of them Bluesky-like (`x.bsky.social`)."""
    plain = st.builds(
        lambda first, rest: first + rest,
        st.sampled_from(_LOWER_ALNUM),
        st.text(_LOWER_ALNUM + "._-", max_size=max(0, max_size - 1)),
    )
    return plain | plain.map(lambda name: f"{name[:max_size]}.bsky.social")


def dids() -> SearchStrategy[str]:
    """Bluesky DIDs (`did:plc:` + 24 base32 characters) and `did:web:` ones."""
    plc = st.text("abcdefghijklmnopqrstuvwxyz234567", min_size=24, max_size=24).map(lambda s: f"did:plc:{s}")
    web = st.text(_LOWER_ALNUM, min_size=1, max_size=12).map(lambda s: f"did:web:{s}.example.com")
    return plc | web


def agent_ids() -> SearchStrategy[str]:
    """Agent ids: 32 lower-case hex characters, or a `did:` string."""
    return st.uuids().map(lambda u: u.hex) | dids()
