"""The floor's HTTP side: a bare Litestar app answering `POST /api/v1/agents/{name}/run` (and
`GET /health`), served by `uvicorn.run` with the arguments `agentkeep serve` passes (one worker,
the same event loop and HTTP parser, `server_stack()`: uvloop + httptools where they import, log
level warning, its access-log default). Like `agentkeep serve`, it says on stderr which stack it
serves on ("Serving on uvloop + httptools."), and the bench reads that line from both.

    python -m bench.floor --database-url sqlite:///path.db --port 8001
    python -m bench.floor --database-url postgresql://user@host/db --port 8001
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Any, Protocol

import msgspec
import uvicorn
from litestar import Litestar, get, post
from litestar.datastructures import State
from litestar.exceptions import NotFoundException

from agentkeep.entrypoints.cli.serve import describe_stack, server_stack
from bench.floor.postgres import PostgresFloor
from bench.floor.sqlite import SqliteFloor

DATABASE_URL = "BENCH_FLOOR_DATABASE_URL"
_LOCKS: dict[str, asyncio.Lock] = {}


class Floor(Protocol):
    async def run(self, agent_name: str, text: str, session_name: str | None) -> dict[str, Any] | None: ...
    async def close(self) -> None: ...


class RunBody(msgspec.Struct):
    message_content: str
    session_name: str | None = None


async def open_floor(url: str) -> Floor:
    if url.startswith("sqlite:///"):
        return SqliteFloor(url.removeprefix("sqlite:///"))
    return await PostgresFloor.connect(url)


@post("/api/v1/agents/{name:str}/run", status_code=200)
async def run(name: str, data: RunBody, state: State) -> dict[str, Any]:
    floor: Floor = state.floor
    if data.session_name is None:
        result = await floor.run(name, data.message_content, None)
    else:
        # Runs on one session take turns (SPEC §8 "busy sessions"): one lock per session name.
        lock = _LOCKS.setdefault(data.session_name, asyncio.Lock())
        async with lock:
            result = await floor.run(name, data.message_content, data.session_name)
    if result is None:
        raise NotFoundException(f"no agent {name!r}")
    return result


@get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


def create_app() -> Litestar:
    """The app on the database of the environment's BENCH_FLOOR_DATABASE_URL (uvicorn's factory)."""

    async def start(app: Litestar) -> None:
        app.state.floor = await open_floor(os.environ[DATABASE_URL])

    async def stop(app: Litestar) -> None:
        await app.state.floor.close()

    return Litestar(route_handlers=[run, health], on_startup=[start], on_shutdown=[stop], debug=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True, help="sqlite:///PATH or a plain postgresql:// URL")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    os.environ[DATABASE_URL] = args.database_url
    stack: dict[str, Any] = dict(server_stack())
    print(f"Serving on {describe_stack(stack)}.", file=sys.stderr, flush=True)
    uvicorn.run(
        "bench.floor.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=None,
        log_level="warning",
        timeout_graceful_shutdown=30,
        **stack,
    )
