"""The social-agent simulation platform's `bluesky_profiles` and `agent_bios` as a `ProfileSource`
(SPEC §2 "Legacy sources", §4).

What needs the whole table (repeated handles and DIDs, the newest readable bio of each handle) is
computed once by the source's own database, into temporary tables (`social_sql.py`). Profiles are
then read in batches by their physical row key (SQLite `rowid`, PostgreSQL `ctid`: handles may be
NULL in old databases, so the handle is no key), each batch joined with those tables through their
unique indexes: the cost of a batch does not grow with the table.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text

from agentkeep.adapters.legacy.connection import SourceDatabase, open_source
from agentkeep.adapters.legacy.social_sql import (
    BIO_COLUMNS,
    BIOS,
    PG_BATCH_SETTINGS,
    PG_BIO_SETUP,
    PG_SETUP,
    PROFILES,
    SQLITE_BIO_SETUP,
    SQLITE_SETUP,
    batch_query,
)
from agentkeep.adapters.storage.sql.dialect import SQLITE
from agentkeep.domain.errors import Invalid, NotFound
from agentkeep.domain.legacy import LegacyProfile

#: PostgreSQL's MaxHeapTuplesPerPage for 8 kB pages: no heap page holds more rows.
MAX_TUPLES_PER_PAGE = 291


class SocialSource:
    """`bluesky_profiles` (and `agent_bios`, when there is one) of one source database, read in
    physical row order. Open it with `open_profile_source`; `close()` drops the temporary tables
    with the connection."""

    def __init__(self, database: SourceDatabase, *, columns: Sequence[str], has_bios: bool) -> None:
        self._db = database
        self._has_bios = has_bios
        self._sqlite = database.dialect == SQLITE
        self._batch_sql = batch_query(columns, has_bios=has_bios, sqlite=self._sqlite)

    async def prepare(self) -> None:
        """Compute what needs the whole table, once (each statement is one pass of the source)."""
        if self._sqlite:
            statements = SQLITE_SETUP + (SQLITE_BIO_SETUP if self._has_bios else [])
        else:
            statements = PG_SETUP + (PG_BIO_SETUP if self._has_bios else []) + PG_BATCH_SETTINGS
        for statement in statements:
            await self._db.execute(statement)

    async def count(self) -> int:
        rows = await self._db.fetch(f"SELECT count(*) FROM {PROFILES}")
        return int(rows[0][0])

    def batches(self, size: int) -> AsyncIterator[list[LegacyProfile]]:
        if size < 1:
            raise ValueError("the batch size must be at least 1")
        return self._sqlite_batches(size) if self._sqlite else self._postgres_batches(size)

    async def close(self) -> None:
        await self._db.close()

    async def _sqlite_batches(self, size: int) -> AsyncIterator[list[LegacyProfile]]:
        after = -(2**63)
        while True:
            keyed = await self._db.fetch_as(self._batch_sql, {"after": after, "size": size}, _keyed_profile)
            if not keyed:
                return
            after = keyed[-1][0]
            yield [profile for _, profile in keyed]
            if len(keyed) < size:
                return

    async def _postgres_batches(self, size: int) -> AsyncIterator[list[LegacyProfile]]:
        # `ctid > x ORDER BY ctid LIMIT n` sorts every row after x (no index orders ctids), so
        # ranges of whole heap pages are read by a TID range scan instead, as many pages as held
        # about one batch last time, and cut into batches of `size`. A page holds at most
        # MAX_TUPLES_PER_PAGE rows, so a fetch of at most `cap` pages holds at most 8 batches.
        cap = max(1, math.ceil(8 * size / MAX_TUPLES_PER_PAGE))
        blocks = await self._blocks()
        block, pages = 0, 1
        pending: list[LegacyProfile] = []
        while True:
            while len(pending) < size:
                if block >= blocks:
                    blocks = await self._blocks()  # the table may have grown since
                    if block >= blocks:
                        break
                end = min(block + pages, blocks)
                rows = await self._db.fetch(self._batch_sql, {"lo": block, "hi": end})
                pending.extend(_profile(row, sqlite=False) for row in rows)
                pages = _pages_for(size, len(rows), end - block, cap)
                block = end
            if not pending:
                return
            batch, pending = pending[:size], pending[size:]
            yield batch

    async def _blocks(self) -> int:
        rows = await self._db.fetch(
            f"SELECT pg_relation_size('{PROFILES}'::regclass) / current_setting('block_size')::bigint"
        )
        return int(rows[0][0])


def _pages_for(wanted: int, rows: int, pages: int, cap: int) -> int:
    """How many heap pages should hold `wanted` rows, by the last `pages` read (holding `rows`)."""
    if rows == 0:
        return min(pages * 2, cap)  # empty pages (deleted rows): look further
    return max(1, min(math.ceil(wanted * pages / rows), cap))


def _keyed_profile(row: Sequence[Any]) -> tuple[int, LegacyProfile]:
    """A SQLite row as (its rowid, the profile)."""
    return row[0], _profile(row, sqlite=True)


def _profile(row: Sequence[Any], *, sqlite: bool) -> LegacyProfile:
    at = row[11]
    if sqlite and at is not None:
        at = datetime.fromisoformat(at).replace(tzinfo=UTC)
    return LegacyProfile(
        handle=_text(row[1]),
        did=_text(row[2]),
        display_name=_text(row[3]),
        bio=_text(row[4]),
        followers_count=_count(row[5]),
        follows_count=_count(row[6]),
        posts_count=_count(row[7]),
        handle_repeated=bool(row[8]),
        did_repeated=bool(row[9]),
        generated_bio=row[10],
        generated_bio_at=at,
        bad_bio_timestamps=int(row[12]),
    )


def _text(value: object) -> str | None:
    # SQLite keeps what it is given: a number or a blob in a text column is read as its text.
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


#: A count that is no integer (text, a fraction: SQLite keeps what it is given) is reported as a
#: bad count, as a negative one is.
NOT_A_COUNT = -1
#: A count must fit agentkeep's 64-bit columns (a REAL in SQLite may hold more).
MAX_COUNT = 2**63 - 1


def _count(value: object) -> int | None:
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    if isinstance(value, float) and value.is_integer() and abs(value) <= MAX_COUNT:
        return int(value)
    return NOT_A_COUNT


async def open_profile_source(url: str) -> SocialSource:
    """The social-agent tables of the database at `url`, ready to read.

    NotFound (key `source_url`) for a missing SQLite file or a database without `bluesky_profiles`;
    a database without `agent_bios` has no generated bios. Invalid when a table lacks a column
    the migration cannot do without (`handle`, `did`; `agent_bios`' three).
    """
    database = await open_source(url)
    try:
        tables = {name.lower() for name in await database.table_names()}
        if PROFILES not in tables:
            raise NotFound(f"no {PROFILES} table in {database.masked_url}", key="source_url")
        columns = await _columns(database, PROFILES)
        _require(PROFILES, columns, ("handle", "did"))
        has_bios = BIOS in tables
        if has_bios:
            _require(BIOS, await _columns(database, BIOS), BIO_COLUMNS)
        source = SocialSource(database, columns=columns, has_bios=has_bios)
        await source.prepare()
    except BaseException:
        await database.close()
        raise
    return source


async def _columns(database: SourceDatabase, table: str) -> list[str]:
    if database.dialect == SQLITE:
        rows = await database.fetch(f"SELECT name FROM pragma_table_info('{table}')")
    else:
        rows = await database.fetch(
            text(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_schema = current_schema() AND table_name = :table"
            ),
            {"table": table},
        )
    return [str(row[0]).lower() for row in rows]


def _require(table: str, columns: Sequence[str], needed: Sequence[str]) -> None:
    missing = [c for c in needed if c not in columns]
    if missing:
        raise Invalid(f"{table} has no column {', '.join(missing)}", key="source_url")
