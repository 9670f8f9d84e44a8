"""Memory over many test-app starts: what a suite of HTTP tests holds as it goes (issue 16).

In a fresh process, `starts` times: a new `MemoryStorage`, `Container.for_tests` on it,
`create_test_app`, a Litestar `TestClient` entered and left, with one request in between (what the
plugin's `agentkeep_client` fixture and a test do). The process's RSS is read (after a collection)
after the first `WARMUP` starts and after the last: their difference is what the suite grows by,
which should be nothing but noise. For contrast, the server's `create_app` (which freezes the heap
on each start) is measured the same way over fewer starts.

    .venv/bin/python -m bench.test_apps [--starts 1000] [--server-starts 100]
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

WARMUP = 20


def rss_mb() -> float:
    gc.collect()
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def growth(starts: int, *, server: bool) -> dict[str, Any]:
    """RSS after `WARMUP` starts and after `starts`, in this process."""
    from litestar.testing import TestClient

    from agentkeep import Container, MemoryStorage, create_app, create_test_app

    make = create_app if server else create_test_app
    after_warmup = 0.0
    for start in range(1, starts + 1):
        container = Container.for_tests(storage=MemoryStorage(), api_keys=["k"])
        with TestClient(make(container)) as client:
            response = client.post("/api/v1/agents", json={"name": "a"}, headers={"X-API-Key": "k"})
            assert response.status_code == 201, response.text
        if start == WARMUP:
            after_warmup = rss_mb()
    end = rss_mb()
    return {
        "starts": starts,
        "rss_after_warmup_mb": round(after_warmup, 1),
        "rss_mb": round(end, 1),
        "growth_mb": round(end - after_warmup, 1),
        "frozen_objects": gc.get_freeze_count(),
    }


def run_test_apps(starts: int, server_starts: int) -> dict[str, Any]:
    """Each measurement in a child process of its own, so that neither sees the other's heap."""
    figures: dict[str, Any] = {}
    for key, count, flag in (("test_app", starts, []), ("server_app", server_starts, ["--server"])):
        child = subprocess.run(
            [sys.executable, "-m", "bench.test_apps", "--child", "--starts", str(count), *flag],
            capture_output=True,  # the server app logs every request to stderr
            text=True,
        )
        if child.returncode != 0:
            raise RuntimeError(f"bench.test_apps --child failed ({child.returncode}):\n{child.stderr[-3000:]}")
        figures[key] = json.loads(child.stdout)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.test_apps", description=__doc__)
    parser.add_argument("--starts", type=int, default=1000)
    parser.add_argument("--server-starts", type=int, default=100)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--server", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(growth(args.starts, server=args.server)))
    else:
        print(json.dumps(run_test_apps(args.starts, args.server_starts), indent=2))


if __name__ == "__main__":
    main()
