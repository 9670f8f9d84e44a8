"""The social-agent simulation platform's `bluesky_profiles` and `agent_bios` as a `ProfileSource`
(SPEC §2 "Legacy sources", §4).

What needs the whole table is computed once, by the source's own database, into temporary tables
of the reading connection (never in this process's memory, never written to the source):

* `ak_repeated_handles`: handles that appear more than once, case ignored;
* `ak_repeated_dids`: DIDs that appear more than once;
* `ak_newest_bios`: per handle (case ignored), the newest non-blank `generated_bio` among those
  whose `created_at` can be read (ties: the later row), and how many non-blank bios have a
  `created_at` that cannot be read.

Profiles are then read in batches by their physical row key (SQLite `rowid`, PostgreSQL `ctid`:
handles may be NULL in old databases, so the handle is no key), each batch joined with those tables
through their unique indexes: the cost of a batch does not grow with the table.

`created_at` is read in SQL on both dialects alike: `YYYY_MM_DD-HH:MM:SS` (UTC), or RFC 3339 /
ISO 8601 `YYYY-MM-DD[(T| )HH:MM[:SS[.fraction]][Z|±HH:MM]]` (no zone: UTC; an offset is turned
into UTC; fractions past microseconds are cut). Anything else (another zone form, an impossible
date, hour 24, year 0000, not text) cannot be read.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import TextClause, text

from adapters.legacy.connection import SourceDatabase, open_source
from adapters.storage.sql.dialect import SQLITE
from domain.errors import Invalid, NotFound
from domain.legacy import LegacyProfile

PROFILES = "bluesky_profiles"
BIOS = "agent_bios"
#: Columns of `bluesky_profiles` besides `handle` and `did`; a database without one reads NULL.
_OPTIONAL = ("display_name", "bio", "followers_count", "follows_count", "posts_count")
_BIO_COLUMNS = ("handle", "generated_bio", "created_at")

#: Every character Python's `str.strip()` removes: a bio made only of these is no bio, in SQL as
#: in the domain (`Text`), so the database never picks a bio the domain would refuse.
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_WS = f"'{WHITESPACE}'"

#: PostgreSQL's MaxHeapTuplesPerPage for 8 kB pages: no heap page holds more rows.
MAX_TUPLES_PER_PAGE = 291

# SQLite. The date functions accept a little more than the grammar above (a space before the
# zone, hour 24, day 31 of any month, year 0), so those are refused by hand; the fraction is cut
# from the text before they see it (they keep milliseconds only) and put back as 6 digits. The
# upstream form (`form` 1) needs no date function but the calendar check. `LIMIT -1` keeps each
# subquery a co-routine, so every expression runs once per row instead of once per use.
_D = "replace(substr(c, 1, 10), '_', '-')"
_REST = "substr(c, 21)"
_DIGITS = f"(length({_REST}) - length(ltrim({_REST}, '0123456789')))"
_DOTTED = "substr(c, 20, 1) = '.'"
_WHOLE = f"CASE WHEN {_DOTTED} THEN substr(c, 1, 19) || substr(c, 21 + {_DIGITS}) ELSE c END"
_FRACTION = f"CASE WHEN {_DOTTED} THEN substr(substr(c, 21, {_DIGITS}) || '000000', 1, 6) ELSE '000000' END"
_SQLITE_PARSED_BIOS = f"""
SELECT k, bio, rid, has_text,
  CASE form
    WHEN 1 THEN CASE WHEN substr(c, 1, 4) <> '0000' AND date({_D}, '+0 days') = {_D}
        AND substr(c, 12, 2) < '24' AND substr(c, 15, 2) < '60' AND substr(c, 18, 2) < '60'
      THEN {_D} || ' ' || substr(c, 12) || '.000000' END
    WHEN 2 THEN CASE WHEN substr(c, 1, 4) <> '0000' AND date(substr(c, 1, 10), '+0 days') = substr(c, 1, 10)
        AND (length(c) = 10 OR substr(c, 12, 2) < '24') AND (NOT {_DOTTED} OR {_DIGITS} > 0)
      THEN strftime('%Y-%m-%d %H:%M:%S', {_WHOLE}) || '.' || {_FRACTION} END
  END AS ts
FROM (
  SELECT lower(handle) AS k, generated_bio AS bio, rowid AS rid, created_at AS c,
    coalesce(typeof(generated_bio) = 'text' AND trim(generated_bio, {_WS}) <> '', 0) AS has_text,
    CASE
      WHEN typeof(created_at) <> 'text' THEN 0
      WHEN created_at GLOB '[0-9][0-9][0-9][0-9]_[0-9][0-9]_[0-9][0-9]-[0-9][0-9]:[0-9][0-9]:[0-9][0-9]' THEN 1
      WHEN created_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]*'
        AND substr(created_at, 12) NOT GLOB '* *' THEN 2
      ELSE 0
    END AS form
  FROM main.{BIOS}
  WHERE handle IS NOT NULL
  LIMIT -1
)
LIMIT -1
"""
# The newest per handle: one GROUP BY, whose `max()` makes SQLite take the bare column `bio` from
# the row holding the maximum (documented SQLite behaviour); the key is the time, then the rowid
# (insertion order; zero-padded, so text order is number order for the non-negative rowids that
# SQLite hands out).
_SQLITE_NEWEST_BIOS = f"""
CREATE TABLE temp.ak_newest_bios AS
SELECT k, CASE WHEN key IS NOT NULL THEN bio END AS generated_bio, substr(key, 1, 26) AS ts, bad
FROM (
  SELECT k, max(key) AS key, bio, sum(bad) AS bad
  FROM (
    SELECT k, bio, CASE WHEN has_text AND ts IS NOT NULL THEN ts || printf('%020d', rid) END AS key,
      has_text AND ts IS NULL AS bad
    FROM ({_SQLITE_PARSED_BIOS})
  )
  GROUP BY k
)
WHERE key IS NOT NULL OR bad > 0
"""

_SQLITE_SETUP = [
    f"""CREATE TABLE temp.ak_repeated_handles AS
    SELECT lower(handle) AS k FROM main.{PROFILES} WHERE handle IS NOT NULL
    GROUP BY lower(handle) HAVING count(*) > 1""",
    "CREATE UNIQUE INDEX temp.ak_repeated_handles_k ON ak_repeated_handles (k)",
    f"""CREATE TABLE temp.ak_repeated_dids AS
    SELECT did FROM main.{PROFILES} WHERE did IS NOT NULL GROUP BY did HAVING count(*) > 1""",
    "CREATE UNIQUE INDEX temp.ak_repeated_dids_did ON ak_repeated_dids (did)",
]
_SQLITE_BIO_SETUP = [_SQLITE_NEWEST_BIOS, "CREATE UNIQUE INDEX temp.ak_newest_bios_k ON ak_newest_bios (k)"]

# PostgreSQL. The pattern admits exactly the grammar above; the cast (in the session's time zone,
# UTC, which connection.py sets) then refuses impossible dates, and the function answers NULL.
_PG_PARSE_TIME = r"""
CREATE FUNCTION pg_temp.ak_parse_time(t text) RETURNS timestamptz LANGUAGE plpgsql STABLE AS $$
BEGIN
  IF t ~ '^(?!0000)[0-9]{4}_[0-9]{2}_[0-9]{2}-([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$' THEN
    t := translate(substr(t, 1, 10), '_', '-') || ' ' || substr(t, 12);
  ELSIF t !~ ('^(?!0000)[0-9]{4}-[0-9]{2}-[0-9]{2}'
              '([T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]+)?)?'
              '([Zz]|[+-](0[0-9]|1[0-4]):[0-5][0-9])?)?$') THEN
    RETURN NULL;
  END IF;
  RETURN regexp_replace(t, '(\.[0-9]{6})[0-9]+', '\1')::timestamptz;
EXCEPTION WHEN others THEN
  RETURN NULL;
END $$
"""

# OFFSET 0 keeps the parse in its subquery: evaluated once per row, not once per use.
_PG_NEWEST_BIOS = f"""
CREATE TEMP TABLE ak_newest_bios AS
SELECT k, CASE WHEN usable THEN bio END AS generated_bio, CASE WHEN usable THEN ts END AS ts, bad
FROM (
  SELECT k, bio, ts, usable,
    row_number() OVER (PARTITION BY k ORDER BY usable DESC, ts DESC, rid DESC) AS n,
    count(*) FILTER (WHERE has_text AND ts IS NULL) OVER (PARTITION BY k) AS bad
  FROM (
    SELECT k, bio, rid, ts, has_text, has_text AND ts IS NOT NULL AS usable
    FROM (
      SELECT lower(handle) AS k, generated_bio AS bio, ctid AS rid,
        pg_temp.ak_parse_time(created_at::text) AS ts,
        coalesce(btrim(generated_bio, {_WS}) <> '', false) AS has_text
      FROM {BIOS}
      WHERE handle IS NOT NULL
      OFFSET 0
    ) parsed
  ) flagged
) ranked
WHERE n = 1 AND (usable OR bad > 0)
"""

_PG_SETUP = [
    f"""CREATE TEMP TABLE ak_repeated_handles AS
    SELECT lower(handle) AS k FROM {PROFILES} WHERE handle IS NOT NULL GROUP BY 1 HAVING count(*) > 1""",
    "CREATE UNIQUE INDEX ON pg_temp.ak_repeated_handles (k)",
    f"""CREATE TEMP TABLE ak_repeated_dids AS
    SELECT did FROM {PROFILES} WHERE did IS NOT NULL GROUP BY 1 HAVING count(*) > 1""",
    "CREATE UNIQUE INDEX ON pg_temp.ak_repeated_dids (did)",
    # Temporary tables are never analysed by autovacuum: without statistics the planner might
    # hash a whole table per batch instead of probing its index.
    "ANALYZE pg_temp.ak_repeated_handles",
    "ANALYZE pg_temp.ak_repeated_dids",
]
# Each batch probes the temporary tables' indexes row by row. Left to itself, the planner hashes
# (or sorts) a whole temporary table for each batch once it is not much larger than the batch:
# a cost per batch that grows with the source. These settings are this connection's only.
_PG_BATCH_SETTINGS = ["SET enable_hashjoin = off", "SET enable_mergejoin = off"]
_PG_BIO_SETUP = [
    _PG_PARSE_TIME,
    _PG_NEWEST_BIOS,
    "CREATE UNIQUE INDEX ON pg_temp.ak_newest_bios (k)",
    "ANALYZE pg_temp.ak_newest_bios",
]


class SocialSource:
    """`bluesky_profiles` (and `agent_bios`, when there is one) of one source database, read in
    physical row order. Open it with `open_profile_source`; `close()` drops the temporary tables
    with the connection."""

    def __init__(self, database: SourceDatabase, *, columns: Sequence[str], has_bios: bool) -> None:
        self._db = database
        self._has_bios = has_bios
        self._sqlite = database.dialect == SQLITE
        self._batch_sql = _batch_query(columns, has_bios=has_bios, sqlite=self._sqlite)

    async def prepare(self) -> None:
        """Compute what needs the whole table, once (each statement is one pass of the source)."""
        if self._sqlite:
            statements = _SQLITE_SETUP + (_SQLITE_BIO_SETUP if self._has_bios else [])
        else:
            statements = _PG_SETUP + (_PG_BIO_SETUP if self._has_bios else []) + _PG_BATCH_SETTINGS
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


def _batch_query(columns: Sequence[str], *, has_bios: bool, sqlite: bool) -> TextClause:
    present = {c.lower() for c in columns}
    optional = ", ".join(f"p.{c}" if c in present else f"NULL AS {c}" for c in _OPTIONAL)
    temp = "temp." if sqlite else "pg_temp."
    if has_bios:
        bio_columns = "b.generated_bio, b.ts, coalesce(b.bad, 0)"
        bio_join = f"LEFT JOIN {temp}ak_newest_bios b ON b.k = lower(p.handle)"
    else:
        bio_columns, bio_join = "NULL, NULL, 0", ""
    key, source = ("p.rowid", f"main.{PROFILES}") if sqlite else ("p.ctid", PROFILES)
    if sqlite:
        where = "WHERE p.rowid > :after ORDER BY p.rowid LIMIT :size"
    else:
        where = (
            "WHERE p.ctid >= format('(%s,0)', CAST(:lo AS bigint))::tid"
            " AND p.ctid < format('(%s,0)', CAST(:hi AS bigint))::tid ORDER BY p.ctid"
        )
    return text(
        f"""SELECT {key}, p.handle, p.did, {optional},
          rh.k IS NOT NULL, rd.did IS NOT NULL, {bio_columns}
        FROM {source} p
        LEFT JOIN {temp}ak_repeated_handles rh ON rh.k = lower(p.handle)
        LEFT JOIN {temp}ak_repeated_dids rd ON rd.did = p.did
        {bio_join}
        {where}"""
    )


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
            _require(BIOS, await _columns(database, BIOS), _BIO_COLUMNS)
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
