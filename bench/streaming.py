"""SPEC §8 "streaming": streamed echo runs against the same runs not streamed, on one `agentkeep
serve` per database.

* requests/s under wrk (32 connections, first runs: a new user and session each, the echo reply
  "hello there, how are you?", so five `message.delta` events), streamed and not, alternating;
* the time to the first `message.delta` of a streamed run against the time a whole run takes not
  streamed, one client, one request at a time (medians of `requests` of each, interleaved).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.databases import AGENT, postgres_database, prepare, sqlite_url
from bench.http_run import KEY, WrkSettings, server, summary, wrk

MESSAGE = "hello there, how are you?"
LUA = """
request = function()
  return wrk.format("POST", "/api/v1/agents/{agent}/run", nil, '{{"message_content": "{message}"{extra}}}')
end
"""


def run_streaming(settings: WrkSettings, requests: int, postgres_url: str | None) -> dict[str, Any]:
    """{database: {"rps": {"plain": figures, "streamed": figures}, "first_delta_ms", "whole_run_ms"}}."""
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["sqlite"] = measure(sqlite_url(Path(tmp), "streaming"), settings, requests)
    if postgres_url:
        with postgres_database(postgres_url) as url:
            results["postgres"] = measure(url, settings, requests)
    return results


def measure(url: str, settings: WrkSettings, requests: int) -> dict[str, Any]:
    prepare(url)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        with server("agentkeep", url, workdir) as port:
            scripts = {}
            for mode, extra in (("plain", ""), ("streamed", ', "stream": true')):
                scripts[mode] = workdir / f"{mode}.lua"
                scripts[mode].write_text(LUA.format(agent=AGENT, message=MESSAGE, extra=extra))
                wrk(port, scripts[mode], settings, settings.warmup)
            samples: dict[str, list[dict[str, float]]] = {"plain": [], "streamed": []}
            for run in range(settings.runs):
                for mode in ("plain", "streamed") if run % 2 == 0 else ("streamed", "plain"):
                    samples[mode].append(wrk(port, scripts[mode], settings, settings.seconds))
            first_delta, whole = latencies(port, requests)
    return {
        "rps": {mode: summary(runs) for mode, runs in samples.items()},
        "first_delta_ms": first_delta,
        "whole_run_ms": whole,
    }


def latencies(port: int, requests: int) -> tuple[float, float]:
    """Median ms to the first `message.delta` of a streamed run, and of a whole run not streamed."""
    url = f"http://127.0.0.1:{port}/api/v1/agents/{AGENT}/run"
    first, whole = [], []
    with httpx.Client(headers={"X-API-Key": KEY}, timeout=30) as client:
        for _ in range(requests):
            started = time.perf_counter()
            response = client.post(url, json={"message_content": MESSAGE})
            response.raise_for_status()
            whole.append(time.perf_counter() - started)
            started = time.perf_counter()
            with client.stream("POST", url, json={"message_content": MESSAGE, "stream": True}) as streamed:
                seen = False
                for line in streamed.iter_lines():  # read to the end, so the connection is reused
                    if not seen and line == "event: message.delta":
                        first.append(time.perf_counter() - started)
                        seen = True
    return statistics.median(first) * 1000, statistics.median(whole) * 1000
