"""The SQL the social source (`social.py`) runs, on SQLite and PostgreSQL alike.

What needs the whole table is computed once, by the source's own database, into temporary tables
of the reading connection (never in this process's memory, never written to the source):

* `ak_repeated_handles`: handles that appear more than once, case ignored;
* `ak_repeated_dids`: DIDs that appear more than once;
* `ak_newest_bios`: per handle (case ignored), the newest non-blank `generated_bio` among those
  whose `created_at` can be read (ties: the later row), and how many non-blank bios have a
  `created_at` that cannot be read.

A batch of profiles (`batch_query`) is joined with those tables through their unique indexes.

`created_at` is read in SQL on both dialects alike: `YYYY_MM_DD-HH:MM:SS` (UTC), or RFC 3339 /
ISO 8601 `YYYY-MM-DD[(T| )HH:MM[:SS[.fraction]][Z|±HH:MM]]` (no zone: UTC; an offset is turned
into UTC; fractions past microseconds are cut). Anything else (another zone form, an impossible
date, hour 24, year 0000, not text) cannot be read.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import TextClause, text

PROFILES = "bluesky_profiles"
BIOS = "agent_bios"
#: Columns of `bluesky_profiles` besides `handle` and `did`; a database without one reads NULL.
_OPTIONAL = ("display_name", "bio", "followers_count", "follows_count", "posts_count")
BIO_COLUMNS = ("handle", "generated_bio", "created_at")

#: Every character Python's `str.strip()` removes: a bio made only of these is no bio, in SQL as
#: in the domain (`Text`), so the database never picks a bio the domain would refuse.
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_WS = f"'{WHITESPACE}'"

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

SQLITE_SETUP = [
    f"""CREATE TABLE temp.ak_repeated_handles AS
    SELECT lower(handle) AS k FROM main.{PROFILES} WHERE handle IS NOT NULL
    GROUP BY lower(handle) HAVING count(*) > 1""",
    "CREATE UNIQUE INDEX temp.ak_repeated_handles_k ON ak_repeated_handles (k)",
    f"""CREATE TABLE temp.ak_repeated_dids AS
    SELECT did FROM main.{PROFILES} WHERE did IS NOT NULL GROUP BY did HAVING count(*) > 1""",
    "CREATE UNIQUE INDEX temp.ak_repeated_dids_did ON ak_repeated_dids (did)",
]
SQLITE_BIO_SETUP = [_SQLITE_NEWEST_BIOS, "CREATE UNIQUE INDEX temp.ak_newest_bios_k ON ak_newest_bios (k)"]

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

PG_SETUP = [
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
PG_BATCH_SETTINGS = ["SET enable_hashjoin = off", "SET enable_mergejoin = off"]
PG_BIO_SETUP = [
    _PG_PARSE_TIME,
    _PG_NEWEST_BIOS,
    "CREATE UNIQUE INDEX ON pg_temp.ak_newest_bios (k)",
    "ANALYZE pg_temp.ak_newest_bios",
]


def batch_query(columns: Sequence[str], *, has_bios: bool, sqlite: bool) -> TextClause:
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
