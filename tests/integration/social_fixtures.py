"""Social-agent simulation databases for the migrate-agents tests, shaped like the real ones
(shared/LEGACY-SCHEMAS.md): `bluesky_profiles` and `agent_bios` made from adapters/legacy/tables.py,
text timestamps in both forms, several bios per handle.

`create_source(url, profiles, bios)` writes the rows into the database at `url` (a SQLite file,
made if absent, or a PostgreSQL database): the legacy tables are created when missing, beside
whatever else the database holds. `fingerprint(url)` says what a source holds, to show that a
migration wrote nothing to it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from agentkeep.adapters.legacy import tables as legacy
from agentkeep.adapters.storage.sql.dialect import normalize_url


def did(name: str) -> str:
    """The DID of a fixture profile (did:plc ids are 24 base32 characters)."""
    return "did:plc:" + hashlib.sha256(name.encode()).hexdigest()[:24]


def profile(handle: str | None, **fields: Any) -> dict[str, Any]:
    """A `bluesky_profiles` row: its DID made from the handle, some counts, a display name."""
    row: dict[str, Any] = {
        "handle": handle,
        "did": did(handle or "no handle"),
        "display_name": f"{handle} display" if handle else None,
        "bio": f"{handle} bio" if handle else None,
        "followers_count": 10,
        "follows_count": 20,
        "posts_count": 30,
    }
    row.update(fields)
    return row


def bio(handle: str, generated_bio: Any, created_at: Any) -> dict[str, Any]:
    return {"handle": handle, "generated_bio": generated_bio, "created_at": created_at}


async def create_source(
    url: str,
    profiles: list[dict[str, Any]],
    bios: list[dict[str, Any]] | None = None,
    *,
    bios_table: bool = True,
) -> None:
    """Write `profiles` and `bios`, in the given order, into the legacy tables at `url`."""
    engine = create_async_engine(normalize_url(url), poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            tables = [legacy.bluesky_profiles, *([legacy.agent_bios] if bios_table else [])]
            await connection.run_sync(lambda sync: legacy.social.create_all(sync, tables=tables))
            # One row per statement, so the physical order is the given one on both databases.
            for row in profiles:
                await connection.execute(legacy.bluesky_profiles.insert().values(**row))
            for row in bios or []:
                await connection.execute(legacy.agent_bios.insert().values(**row))
    finally:
        await engine.dispose()


async def execute(url: str, sql: str, params: dict[str, Any] | None = None) -> None:
    """Change a source between two runs (the way its own platform would)."""
    engine = create_async_engine(normalize_url(url), poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            await connection.execute(text(sql), params or {})
    finally:
        await engine.dispose()


async def fingerprint(url: str) -> Any:
    """What a source holds: a SQLite file's bytes and its companion files (`-wal`, `-journal`); a PostgreSQL
    database's tables and every row of the legacy ones."""
    normalized = normalize_url(url)
    if normalized.get_backend_name() == "sqlite":
        return _file_fingerprint(Path(str(normalized.database)))
    engine = create_async_engine(normalized, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            names = await connection.execute(
                text("SELECT table_schema, table_name FROM information_schema.tables ORDER BY 1, 2")
            )
            state: dict[str, Any] = {"tables": [tuple(r) for r in names]}
            for table in ("bluesky_profiles", "agent_bios"):
                rows = await connection.execute(text(f"SELECT ctid::text, * FROM {table} ORDER BY ctid"))
                state[table] = [tuple(r) for r in rows]
            return state
    finally:
        await engine.dispose()


def _file_fingerprint(path: Path) -> tuple[str, list[str]]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), sorted(p.name for p in path.parent.glob(f"{path.name}*"))


async def create_many(url: str, count: int) -> None:
    """`count` profiles written by the database itself (fast), each with two generated bios; every
    tenth handle repeats the previous one in upper case, every tenth DID the previous one."""
    if normalize_url(url).get_backend_name() == "sqlite":
        numbers = f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {count}) "
        source = "n"
    else:
        numbers, source = "", f"generate_series(1, {count}) AS n(i)"
    handle = "CASE WHEN i % 10 = 5 THEN 'U' || (i - 1) ELSE 'u' || i END || '.example'"
    did = "'did:plc:' || CASE WHEN i % 10 = 9 THEN i - 1 ELSE i END"
    await create_source(url, [])
    await execute(
        url,
        f"{numbers}INSERT INTO bluesky_profiles (handle, did, display_name, bio, followers_count, follows_count,"
        f" posts_count) SELECT {handle}, {did}, 'User ' || i, 'bio', i, i, i FROM {source}",
    )
    await execute(
        url,
        f"{numbers}INSERT INTO agent_bios (handle, generated_bio, created_at)"
        f" SELECT 'u' || i || '.example', 'generated', '2025_01_01-10:00:00' FROM {source}"
        f" UNION ALL SELECT 'u' || i || '.example', 'newer', '2025-01-02T10:00:00Z' FROM {source}",
    )
