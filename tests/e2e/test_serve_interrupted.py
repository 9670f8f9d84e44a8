"""A run whose server is SIGKILLed in its model call (SPEC §9.5): once its lease has run out, the
next server answers it `failed` with `interrupted` and the session takes new runs. The lease's run
out is fast-forwarded in the database (`run_until` set in the past), the rest is real: a real
`agentkeep serve` process tree killed at once, a real loopback model that was still thinking."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from pathlib import Path

import httpx

from tests.e2e.serve_process import HEADERS, _postgres_rows, serving, sqlite_path, start_serve
from tests.support.openai_server import FakeOpenAIServer, Scripted, completion

EXPIRE = "UPDATE sessions SET run_until = '2000-01-01 00:00:00' WHERE run_token IS NOT NULL"


def test_a_run_killed_with_its_server_is_interrupted_and_frees_its_session(database_url: str, tmp_path: Path) -> None:
    model = FakeOpenAIServer()
    model.start()
    settings = {"AGENTKEEP_OPENAI_BASE_URL": model.base_url}
    try:
        model.script(Scripted(completion("too late"), delay=30))
        served = start_serve(database_url, tmp_path, workers=1, **settings)
        try:
            with httpx.Client(base_url=served.url, headers=HEADERS, timeout=30) as http:
                body = {"name": "slow", "model": "openai:small"}
                assert http.post("/api/v1/agents", json=body).status_code == 201
            run_id = asyncio.run(_start_a_run_then_kill(served.url, model, served.kill_all))
        finally:
            served.kill_all()
        _expire_leases(database_url)
        model.script(Scripted(completion("after the crash")))
        with (
            serving(database_url, tmp_path, workers=1, **settings) as again,
            httpx.Client(base_url=again.url, headers=HEADERS, timeout=30) as http,
        ):
            record = http.get(f"/api/v1/runs/{run_id}").json()
            nxt = http.post("/api/v1/agents/slow/run", json={"message_content": "and now?", "session_name": "s"})
    finally:
        model.stop()

    assert (record["status"], record["error"]["code"]) == ("failed", "interrupted")
    assert nxt.status_code == 200, nxt.text
    assert nxt.json()["message"] == "after the crash"


async def _start_a_run_then_kill(url: str, model: FakeOpenAIServer, kill: object) -> str:
    async with httpx.AsyncClient(base_url=url, headers=HEADERS, timeout=60) as http:
        body = {"message_content": "think hard", "session_name": "s"}
        running = asyncio.create_task(http.post("/api/v1/agents/slow/run", json=body))
        deadline = time.monotonic() + 20
        while not model.received:  # the run is in its model call
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
        run_id = (await http.get("/api/v1/sessions/s/runs")).json()["items"][0]["id"]
        kill()  # type: ignore[operator]
        with contextlib.suppress(httpx.HTTPError):
            await running
    return str(run_id)


def _expire_leases(database_url: str) -> None:
    if database_url.startswith("sqlite"):
        with contextlib.closing(sqlite3.connect(sqlite_path(database_url))) as db:
            db.execute(EXPIRE)
            db.commit()
    else:
        asyncio.run(_postgres_rows(database_url, EXPIRE.replace("'2000-01-01 00:00:00'", "'2000-01-01 00:00:00+00'")))
