"""Demo `bluesky_profiles` and `agent_bios` of the social-agent simulation platform
(shared/LEGACY-SCHEMAS.md), with a share of each bad-row kind of SPEC §4."""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.engine import URL

from agentkeep.adapters.legacy import tables as legacy
from agentkeep.adapters.legacy.demo.database import Written, on_database
from agentkeep.adapters.legacy.demo.words import (
    CITIES,
    FIRST_NAMES,
    GENERATED_BIOS,
    INVALID_HANDLES,
    JOBS,
    LAST_NAMES,
    PROFILE_BIOS,
    TOPICS,
    UNREADABLE_TIMES,
)
from agentkeep.adapters.storage.sql.dialect import SQLITE
from agentkeep.domain.errors import Invalid

# The bad-row kinds of SPEC §4 that a legacy database alone can hold (`handle_taken` needs agents
# already in agentkeep). The duplicate kinds repeat the previous row's handle or DID, so two rows
# of each such pair are bad.
MISSING_HANDLE = "missing_handle"  # SQLite only: PostgreSQL's primary key forbids it
MISSING_DID = "missing_did"
NEGATIVE_COUNT = "negative_count"
INVALID_HANDLE = "invalid_handle"
DUPLICATE_HANDLE = "duplicate_handle"  # the same handle in another case
DUPLICATE_DID = "duplicate_did"
BAD_TIMESTAMP = "bad_timestamp"  # an extra bio whose `created_at` cannot be read
BAD_KINDS = (
    MISSING_HANDLE,
    MISSING_DID,
    NEGATIVE_COUNT,
    INVALID_HANDLE,
    DUPLICATE_HANDLE,
    DUPLICATE_DID,
    BAD_TIMESTAMP,
)


def write_profiles(
    url: str | URL, count: int, *, seed: int = 0, bad_fraction: float = 0.01, batch_size: int = 10_000
) -> Written:
    """Append `count` profiles to `bluesky_profiles` and 0-3 generated bios each to `agent_bios`
    (ISO 8601 and `YYYY_MM_DD-HH:MM:SS` times mixed, not in insertion order), one transaction
    per `batch_size` profiles.

    About `bad_fraction` of the profiles carry each bad kind of `BAD_KINDS` (at most one in 14
    per kind), at fixed places in every stretch of 1/bad_fraction rows, so a few hundred rows hold
    them all. Numbering goes on from the rows already there: a second run appends new handles.
    """
    if count < 0:
        raise Invalid("the number of profiles cannot be negative", key="profiles")
    if not 0 <= bad_fraction <= 1:
        raise Invalid("the share of bad rows is a fraction between 0 and 1", key="bad_fraction")
    if batch_size < 1:
        raise Invalid("a batch holds at least one row", key="batch_size")

    def work(connection: Connection) -> Written:
        legacy.social.create_all(connection)
        connection.commit()
        start = connection.execute(select(func.count()).select_from(legacy.bluesky_profiles)).scalar_one()
        maker = _Profiles(seed, bad_fraction, null_handles=connection.dialect.name == SQLITE)
        rows = {legacy.bluesky_profiles.name: 0, legacy.agent_bios.name: 0}
        # Plain tuples in column order, straight to the driver's executemany: Core's per-row
        # parameter processing would cost about as much as making the rows.
        insert_profiles = str(legacy.bluesky_profiles.insert().compile(dialect=connection.dialect))
        insert_bios = str(legacy.agent_bios.insert().compile(dialect=connection.dialect))
        for first in range(start, start + count, batch_size):
            profiles, bios = maker.batch(range(first, min(first + batch_size, start + count)))
            connection.exec_driver_sql(insert_profiles, profiles)
            if bios:
                connection.exec_driver_sql(insert_bios, bios)
            connection.commit()
            rows[legacy.bluesky_profiles.name] += len(profiles)
            rows[legacy.agent_bios.name] += len(bios)
        return Written(rows, {kind: maker.planted[kind] for kind in BAD_KINDS if maker.planted[kind]})

    return on_database(url, work)


BIO_COUNTS = (0, 1, 1, 1, 1, 1, 2, 2, 3)  # bios per profile: mostly one, sometimes several or none
BIO_EPOCH = datetime(2024, 6, 1, tzinfo=UTC)
BIO_DAYS = 300  # the first bio of a profile falls in these days after BIO_EPOCH; later ones up to 140 days on
# Each day once as `YYYY_MM_DD` and `YYYY-MM-DD`: formatting a datetime per bio would cost more than the rest.
_DAYS = [(BIO_EPOCH + timedelta(days=d)).strftime("%Y_%m_%d|%Y-%m-%d").split("|") for d in range(BIO_DAYS + 150)]
# Byte b of a hash as a base32 character (256 = 8 x 32, so each is equally likely).
_BASE32 = bytes(b"abcdefghijklmnopqrstuvwxyz234567"[b % 32] for b in range(256))


class _Profiles:
    """Rows of profile number n, from a 64-byte hash of (seed, n): bytes 0-23 make the DID, and
    each later byte one choice."""

    def __init__(self, seed: int, bad_fraction: float, *, null_handles: bool) -> None:
        self._salt = f"agentkeep-demo-profiles:{seed}:".encode()
        kinds = len(BAD_KINDS)
        # One slot per kind in every `period` rows, spread out and never next to another, so the
        # row a duplicate copies (the previous one) is always a good row.
        self._period = max(2 * kinds, round(1 / bad_fraction)) if bad_fraction > 1e-12 else 0
        self._slots = {
            k * self._period // kinds + self._period // (2 * kinds): kind
            for k, kind in enumerate(BAD_KINDS)
            if null_handles or kind != MISSING_HANDLE
        }
        self.planted: Counter[str] = Counter()

    def _hash(self, n: int) -> bytes:
        return hashlib.blake2b(self._salt + str(n).encode(), digest_size=64).digest()

    @staticmethod
    def _handle(h: bytes, n: int) -> str:
        return f"{FIRST_NAMES[h[24] % len(FIRST_NAMES)].lower()}-{n + 1:04d}.bsky.social"

    @staticmethod
    def _did(h: bytes) -> str:
        return "did:plc:" + h[:24].translate(_BASE32).decode()

    def batch(self, numbers: range) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        """The rows of `bluesky_profiles` and of `agent_bios` for these numbers, as tuples in the
        tables' column order."""
        profiles: list[tuple[Any, ...]] = []
        bios: list[tuple[Any, ...]] = []
        for n in numbers:
            kind = self._slots.get(n % self._period) if self._period else None
            if kind is not None:
                self.planted[kind] += 1
            self._profile(n, kind, profiles, bios)
        return profiles, bios

    def _profile(self, n: int, kind: str | None, profiles: list[tuple[Any, ...]], bios: list[tuple[Any, ...]]) -> None:
        h = self._hash(n)
        first, last = FIRST_NAMES[h[24] % len(FIRST_NAMES)], LAST_NAMES[h[25] % len(LAST_NAMES)]
        topic = h[44] % len(TOPICS)
        words = {
            "first": first,
            "last": last,
            "job": JOBS[h[42] % len(JOBS)],
            "city": CITIES[h[43] % len(CITIES)],
            "topic": TOPICS[topic],
            "other": TOPICS[(topic + 1 + h[45] % (len(TOPICS) - 1)) % len(TOPICS)],
        }
        handle: str | None = self._handle(h, n)
        did: str | None = self._did(h)
        if kind == MISSING_HANDLE:
            handle = None
        elif kind == INVALID_HANDLE:
            handle = INVALID_HANDLES[h[36] % len(INVALID_HANDLES)].format(first=first, last=last, n=n + 1)
        elif kind == DUPLICATE_HANDLE:
            previous = self._handle(self._hash(n - 1), n - 1)
            handle = previous.upper() if h[36] % 2 else previous.capitalize()
        elif kind == MISSING_DID:
            did = None
        elif kind == DUPLICATE_DID:
            did = self._did(self._hash(n - 1))
        # Heavy-tailed counts: most small, a few huge (up to e**12, e**8, e**10).
        counts = [
            int(math.exp(int.from_bytes(h[28:31]) * (12.0 / (1 << 24)))) - 1,
            int(math.exp(int.from_bytes(h[31:33]) * (8.0 / (1 << 16)))) - 1,
            int(math.exp(int.from_bytes(h[33:35]) * (10.0 / (1 << 16)))) - 1,
        ]
        if kind == NEGATIVE_COUNT:
            counts[h[37] % 3] = -1 - h[38]
        display_name, bio = _display_name(h[26], first, last), _profile_bio(h[27], h[46], words)
        profiles.append((handle, did, display_name, bio, *counts))
        if handle is None:
            return
        made: list[tuple[str, str, str]] = []
        when = int.from_bytes(h[39:42]) % (BIO_DAYS * 86_400)  # seconds after BIO_EPOCH
        for k in range(BIO_COUNTS[h[35] % len(BIO_COUNTS)]):
            b = h[47 + 4 * k : 51 + 4 * k]
            when += 60 + int.from_bytes(b[:3]) % (45 * 86_400)  # each later than the last
            text = GENERATED_BIOS[(h[61] + k) % len(GENERATED_BIOS)].format_map(words)  # each its own text
            made.append((handle, text, _bio_time(when, b[3])))
        if kind == BAD_TIMESTAMP:
            text = GENERATED_BIOS[h[62] % len(GENERATED_BIOS)].format_map(words)
            made.append((handle, text, UNREADABLE_TIMES[h[59] % len(UNREADABLE_TIMES)]))
        if made:
            turn = h[60] % len(made)  # not oldest first: the newest must be found, not taken as last
            bios += made[turn:] + made[:turn]


def _bio_time(seconds: int, style: int) -> str:
    """`seconds` after BIO_EPOCH in a format of the platform, UTC: `YYYY_MM_DD-HH:MM:SS` or
    ISO 8601 in three spellings."""
    day, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    time = f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"
    underscored, dashed = _DAYS[day]
    style %= 5
    if style < 2:
        return f"{underscored}-{time}"
    if style == 2:
        return f"{dashed}T{time}Z"
    if style == 3:
        return f"{dashed}T{time}+00:00"
    return f"{dashed} {time}"  # no zone: UTC


def _display_name(style: int, first: str, last: str) -> str | None:
    style %= 16
    if style == 0:
        return None
    if style == 1:
        return ""
    if style == 2:
        return f"{first} {last} \N{BUTTERFLY}"
    if style == 3:
        return first.lower()
    return f"{first} {last}"


def _profile_bio(style: int, template: int, words: dict[str, str]) -> str | None:
    style %= 16
    if style < 3:
        return ("", "   ", " \n\t")[style]  # no bio (SPEC §2)
    if style == 3:
        return None
    return PROFILE_BIOS[template % len(PROFILE_BIOS)].format_map(words)
