"""`agentkeep serve` on PostgreSQL while the server's backends are terminated under load (as a
database restart, a failover or an idle-connection reaper does): every request during the fault
answers 200 or 503 (or 409 `session_busy`, on a session a failed run left leased), never 500, and
once the faults stop every request answers 200 at once (the workers' pools threw the dead
connections away)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.e2e.serve_process import HEADERS, serving

pytestmark = pytest.mark.postgres


async def _kill_backends(admin: asyncpg.Connection, database: str) -> int:
    """Terminate every backend of the test's own database (other tests use other databases)."""
    killed = await admin.fetchval(
        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity"
        " WHERE datname = $1 AND pid <> pg_backend_pid()",
        database,
    )
    return int(killed)


async def test_backends_terminated_under_load_answer_503_never_500_and_the_service_recovers_at_once(
    pg_database: str, postgres_url: str, tmp_path: Path
) -> None:
    database = pg_database.rpartition("/")[2]
    admin = await asyncpg.connect(postgres_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        with serving(pg_database, tmp_path, workers=2) as served:
            async with httpx.AsyncClient(base_url=served.url, headers=HEADERS, timeout=30) as http:
                agent = f"faults-{uuid.uuid4().hex[:8]}"
                created = await http.post("/api/v1/agents", json={"name": agent})
                assert created.status_code == 201, created.text
                statuses: Counter[int] = Counter()
                stop = time.monotonic() + 4.0

                async def client() -> None:
                    session = f"s-{uuid.uuid4().hex[:8]}"
                    while time.monotonic() < stop:
                        body = {"message_content": "hi", "session_name": session}
                        response = await http.post(f"/api/v1/agents/{agent}/run", json=body)
                        if response.status_code == 409:
                            # A run whose reply and lease release both met the fault leaves the
                            # session leased until the lease expires (SPEC §3): the next run on
                            # it waits its turn, and may answer session_busy.
                            assert response.json()["extra"]["code"] == "session_busy", response.text
                        statuses[response.status_code] += 1

                async def killer() -> int:
                    kills = 0
                    while time.monotonic() < stop:
                        await asyncio.sleep(0.3)
                        kills += await _kill_backends(admin, database)
                    return kills

                *_, kills = await asyncio.gather(*(client() for _ in range(4)), killer())
                assert kills >= 4
                assert statuses[503] >= 1, statuses  # the faults were felt
                assert set(statuses) <= {200, 409, 503}, statuses  # and never as a 500
                await asyncio.sleep(0.2)
                after = [
                    await http.post("/api/v1/agents/assistant/run", json={"message_content": "again"})
                    for _ in range(20)
                ]
                assert [r.status_code for r in after] == [200] * 20, [r.text for r in after if r.status_code != 200]
                assert (await http.get("/health")).status_code == 200
            assert "Traceback" not in served.output()
    finally:
        await admin.close()
