"""`agentkeep serve`: the HTTP API (SPEC §6).

Before the server starts, the parent process: upgrades the schema (under the migrator's lock, so
replicas do not race) unless `--no-migrate`, refusing a schema newer than the code; makes one
random API key for the run when none is configured (every worker gets it through the environment)
and prints it with a ready `curl` line; and creates an `echo` agent named `assistant` when there is
no agent at all, so that first curl works.

SIGTERM stops it gracefully, with one worker or several: new connections are refused at once, the
requests in flight have `GRACEFUL_SECONDS` to finish, each worker's app closes its database, and
the command exits 0.
"""

from __future__ import annotations

import importlib
import ipaddress
import os
import secrets
import shlex
import signal
import sys
from typing import Any

import click
import uvicorn
from uvicorn.supervisors import Multiprocess

from agentkeep.application.inputs import NewAgent
from agentkeep.domain.errors import Invalid
from agentkeep.domain.paging import Paging
from agentkeep.entrypoints.cli.context import CliContext, pass_cli
from agentkeep.entrypoints.cli.schema import ensure_schema
from agentkeep.entrypoints.cli.services import run_with
from agentkeep.entrypoints.container import Container, database_kind

DEFAULT_AGENT = "assistant"
APP = "agentkeep.entrypoints.http.app:create_app"
GRACEFUL_SECONDS = 30
"""How long SIGTERM waits for the requests in flight before it cancels them."""
FAST_STACK = {"loop": ("uvloop", "asyncio"), "http": ("httptools", "h11")}
"""uvicorn's event loop and HTTP parser: the fast one (`uvicorn[standard]` installs it), else the
pure-Python fallback. uvloop + httptools answer 1.6-2x the requests/s of asyncio + h11."""


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--workers", default=None, type=click.IntRange(1, 64), help="Worker processes (default 1).")
@click.option("--no-migrate", is_flag=True, help="Do not upgrade the schema first.")
@pass_cli
def serve(cli: CliContext, host: str, port: int, workers: int | None, no_migrate: bool) -> None:
    """Serve the HTTP API (docs at /schema)."""
    settings = cli.settings
    url = settings.database_url
    configured_key = bool(settings.api_keys)
    if not configured_key and not _is_loopback(host):
        raise Invalid(f"refusing to serve on {host} without an API key: set AGENTKEEP_API_KEY", key="host")
    if database_kind(url) == "sqlite" and (workers or 1) > 1:
        click.echo(f"Warning: {workers} workers on SQLite take turns on one file; one is usually faster.", err=True)

    ensure_schema(url, upgrade=not no_migrate)
    run_with(cli, _ensure_an_agent)

    # Workers read their settings from the environment: hand them the command's.
    os.environ["AGENTKEEP_DATABASE_URL"] = url
    if not configured_key:
        key = secrets.token_urlsafe(24)
        os.environ["AGENTKEEP_API_KEYS"] = key
        _print_first_steps(host, port, key)
    stack = server_stack()
    click.echo(f"Serving on {describe_stack(stack)}.", err=True)
    options: dict[str, Any] = {"host": host, "port": port, "log_level": "warning", **stack}
    if (workers or 1) > 1:
        config = uvicorn.Config(
            APP, factory=True, workers=workers, timeout_graceful_shutdown=GRACEFUL_SECONDS, **options
        )
        _Workers(config, sockets=[config.bind_socket()]).run()
        return
    # One worker serves in this process. uvicorn handles SIGTERM itself (stops accepting, lets
    # the requests in flight finish, shuts the app down, which closes the database), then raises
    # the signal again against the handler it found: let that be a clean exit, as with workers.
    signal.signal(signal.SIGTERM, lambda _signal, _frame: sys.exit(0))
    uvicorn.run(APP, factory=True, timeout_graceful_shutdown=GRACEFUL_SECONDS, **options)


def server_stack() -> dict[str, str]:
    """uvicorn's `loop` and `http` options: uvloop and httptools where they import, asyncio and h11
    where they do not (a platform without wheels, a minimal install). Chosen here, not by uvicorn's
    "auto", so that the command can say which it serves on."""
    return {option: fast if _importable(fast) else fallback for option, (fast, fallback) in FAST_STACK.items()}


def describe_stack(stack: dict[str, str]) -> str:
    return f"{stack['loop']} + {stack['http']}"


def _importable(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


class _Workers(Multiprocess):
    """uvicorn's supervisor of worker processes, except that on SIGTERM (or Ctrl-C) it first
    closes its own copy of the listening socket. Each worker closes its copy as it starts its
    graceful shutdown; the parent's copy would otherwise keep the port open until every worker
    is done, and new connections would be accepted into the backlog to be reset later, instead
    of refused at once (so that a client or a load balancer tries elsewhere)."""

    def terminate_all(self) -> None:
        for sock in self.sockets:
            sock.close()
        super().terminate_all()


async def _ensure_an_agent(container: Container) -> None:
    agents = container.agents()
    if (await agents.list(Paging(page_size=1))).total == 0:
        await agents.create(NewAgent(name=DEFAULT_AGENT, display_name="Assistant", model="echo"))
        click.echo(f"Created the agent {DEFAULT_AGENT!r} (model echo).", err=True)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _print_first_steps(host: str, port: int, key: str) -> None:
    base = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    body = '{"message_content": "Hello!"}'
    curl = (
        f"curl -s {base}/api/v1/agents/{DEFAULT_AGENT}/run -H {shlex.quote('X-API-Key: ' + key)}"
        f" -H 'Content-Type: application/json' -d {shlex.quote(body)}"
    )
    click.echo(f"API key for this run (set AGENTKEEP_API_KEY to choose your own): {key}")
    click.echo(f"Try it:\n  {curl}")
    click.echo(f"Docs: {base}/schema")
