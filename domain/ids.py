"""Identifiers: UUIDs made here, agent ids, and the deterministic mapping of legacy integer ids.

Every id a caller does not give is made by the core, so no row is ever written without one.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
import uuid
from typing import Annotated

from pydantic import BeforeValidator
from pydantic_core import core_schema

from agentkeep.domain.values import NativeFirstInJson

#: Namespace of every id derived from a legacy source (SPEC §4, §7). Never change it: the ids of
#: migrated rows, and the UUIDs that integer user ids map to, are computed from it.
LEGACY_NAMESPACE = uuid.UUID("0db7fb7e-fae8-403d-90d7-4b0db851fa23")

#: Legacy integer ids were 64-bit columns; a larger integer is no legacy id (in a body or a path).
MAX_LEGACY_ID = 2**63 - 1

_HEX32 = re.compile(r"^[0-9a-f]{32}$")
# W3C DID syntax: did:<method>:<method-specific-id>
_DID = re.compile(r"^did:[a-z0-9]+:[A-Za-z0-9._:%-]+$")


def new_id() -> uuid.UUID:
    """A new UUID for any entity but an agent: version 7 (RFC 9562), whose first 48 bits are the
    time in milliseconds and the other 74 random. Ids made later sort after the ones before, so an
    index on ids grows at its end, as an index on a counter does, instead of writing pages all over
    it: inserts touch few pages, and a commit writes few (decision 050)."""
    random = int.from_bytes(os.urandom(10))
    return uuid.UUID(
        int=(time.time_ns() // 1_000_000) << 80
        | 0x7 << 76  # version
        | (random >> 68) << 64  # 12 random bits
        | 0b10 << 62  # variant (RFC 4122 / 9562)
        | random & _LOW_62
    )


_LOW_62 = (1 << 62) - 1


def new_agent_id() -> str:
    """A new agent id: 32 lower-case hex characters."""
    return uuid.uuid4().hex


def parse_agent_id(value: object) -> str:
    """An agent id as stored: a `did:` string as given, any UUID form as its 32-hex form.

    Raises ValueError for anything else.
    """
    if isinstance(value, uuid.UUID):
        return value.hex
    if not isinstance(value, str):
        raise ValueError("must be a string")
    if value.startswith("did:"):
        if len(value) > 255 or not _DID.match(value):
            raise ValueError("is not a valid DID")
        return value
    lowered = value.lower()
    if _HEX32.match(lowered):
        return lowered
    try:
        return uuid.UUID(value).hex
    except ValueError:
        raise ValueError("must be 32 hex characters, a UUID or a did: string") from None


def is_agent_id(value: str) -> bool:
    """Whether `value` has the shape of an agent id (used to try "id or name" as an id first)."""
    try:
        parse_agent_id(value)
    except ValueError:
        return False
    return True


_NAMESPACE_BYTES = LEGACY_NAMESPACE.bytes
_VERSION_5_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_VERSION_5_SET = (5 << 76) | (0x8000 << 48)


def legacy_uuid(name: str) -> uuid.UUID:
    """`uuid.uuid5(LEGACY_NAMESPACE, name)`, at half its cost (a migration makes two per row):
    the same SHA-1 with the version and variant bits set on the integer, not through `bytes=`."""
    digest = hashlib.sha1(_NAMESPACE_BYTES + name.encode(), usedforsecurity=False).digest()
    return uuid.UUID(int=(int.from_bytes(digest[:16]) & _VERSION_5_CLEAR) | _VERSION_5_SET)


def legacy_user_id(legacy_id: int) -> uuid.UUID:
    """The UUID that an integer user id of automagik-agents maps to (SPEC §7)."""
    return legacy_uuid(f"user:{legacy_id}")


def legacy_agent_id(legacy_id: int) -> str:
    """The agent id that an integer agent id of automagik-agents maps to (SPEC §7)."""
    return legacy_uuid(f"agent:{legacy_id}").hex


#: The owner of imported sessions that had none (SPEC §7).
ANONYMOUS_USER_ID = legacy_uuid("user:anonymous")


def migrated_bio_id(did: str) -> uuid.UUID:
    """The id of the bio migrate-agents writes for `did` (deterministic, so a re-run adds none)."""
    return legacy_uuid(f"bio:{did}")


def migrated_metadata_id(did: str) -> uuid.UUID:
    """The id of the profile metadata migrate-agents writes for `did`."""
    return legacy_uuid(f"meta:{did}")


def parse_user_id(value: object) -> uuid.UUID:
    """A user id from a UUID, or a legacy integer (a JSON int or a string of digits, SPEC §7).

    Raises ValueError for anything else (booleans included: JSON `true` is not a user id).
    """
    if isinstance(value, uuid.UUID):
        return value
    if isinstance(value, bool):
        raise ValueError("must be a UUID or an integer")
    if isinstance(value, int):
        if not 0 <= value <= MAX_LEGACY_ID:
            raise ValueError("must be a UUID or an integer from 0 to 2**63 - 1")
        return legacy_user_id(value)
    if isinstance(value, str):
        if value.isascii() and value.isdigit() and int(value) <= MAX_LEGACY_ID:
            return legacy_user_id(int(value))
        try:
            return uuid.UUID(value)
        except ValueError:
            pass
    raise ValueError("must be a UUID or an integer")


AgentId = Annotated[
    str,
    BeforeValidator(parse_agent_id),
    # 32 lower-case hex characters, as stored, without Python; a did: and any other form through
    # `parse_agent_id`.
    NativeFirstInJson(core_schema.str_schema(pattern=_HEX32.pattern, strict=True)),
]
"""An agent id: 32 lower-case hex characters or a `did:` string."""

UserId = Annotated[
    uuid.UUID,
    BeforeValidator(parse_user_id),
    # A UUID string (the forms `uuid.UUID` reads, bar its looser hyphens) parsed without Python;
    # a legacy integer, or a string of digits, through `parse_user_id`.
    NativeFirstInJson(core_schema.uuid_schema(strict=True)),
]
"""A user id: a UUID; a legacy integer is accepted and mapped (SPEC §7)."""
