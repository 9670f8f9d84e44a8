"""The access log of a live `agentkeep serve` with two workers: each request's line shows up while
the server runs (lines are written in batches, at least every `FLUSH_SECONDS`), and lines of the
two workers, sharing one stderr, are never cut into each other."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from agentkeep.entrypoints.http.logs import FLUSH_SECONDS
from tests.e2e.serve_process import HEADERS, serving

ACCESS_LINE = re.compile(
    r"^INFO - \S+ \S+ - agentkeep\.access - middleware - GET /api/v1/agents 200 [\d.]+ms request_id=(\S+)$"
)


def test_each_request_is_logged_while_the_server_runs_in_whole_lines(tmp_path: Path) -> None:
    requests = 400
    with serving(f"sqlite:///{tmp_path / 'agentkeep.db'}", tmp_path, workers=2) as served:

        def call(n: int) -> str:
            request_id = f"log-test-{n}"
            with httpx.Client(base_url=served.url, headers=HEADERS, timeout=30) as http:
                assert http.get("/api/v1/agents", headers={"X-Request-ID": request_id}).status_code == 200
            return request_id

        with ThreadPoolExecutor(8) as pool:
            sent = set(pool.map(call, range(requests)))

        deadline = time.monotonic() + 10 * FLUSH_SECONDS + 5
        while True:
            logged = [m.group(1) for line in served.output().splitlines() if (m := ACCESS_LINE.match(line))]
            if set(logged) >= sent or time.monotonic() > deadline:
                break
            time.sleep(FLUSH_SECONDS / 5)
        assert served.process.poll() is None  # all of it while the server runs

    assert sorted(logged) == sorted(sent)  # each once, and every line whole
