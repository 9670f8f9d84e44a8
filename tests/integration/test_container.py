"""The container as `serve` and the CLI build it, on a real SQLite file."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

from agentkeep.application.inputs import NewUser
from agentkeep.entrypoints.container import MIN_LOCK_WAIT, Container
from agentkeep.entrypoints.settings import Settings


async def test_a_write_waits_for_another_process_lock_even_when_runs_may_not_wait(tmp_path: Path) -> None:
    """`AGENTKEEP_SESSION_WAIT=0` means a run does not wait for a busy session; it must not make a
    write fail at once when a second worker holds SQLite's write lock for a moment. The wait is
    off the event loop: other tasks go on meanwhile."""
    url = f"sqlite:///{tmp_path / 'agentkeep.db'}"
    container = Container()
    container.settings.override(Settings(database_url=url, session_wait=0))
    storage = container.storage()
    assert storage.busy_timeout == MIN_LOCK_WAIT  # type: ignore[attr-defined]
    await storage.create_schema()  # type: ignore[attr-defined]
    holder = sqlite3.connect(tmp_path / "agentkeep.db", isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.5, lambda: holder.execute("COMMIT"))
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    started = time.monotonic()
    release.start()
    try:
        user = await container.users().create(NewUser(email="waited@example.com"))
    finally:
        waited = time.monotonic() - started
        ticker.cancel()
        release.join()
        holder.close()
        await storage.close()
    assert user.email == "waited@example.com"
    assert waited >= 0.45  # it waited for the holder's commit (at 0.5 s), not failed at once
    assert ticks >= 10  # about 45 at 10 ms a tick; 0 or 1 when the wait blocks the loop
