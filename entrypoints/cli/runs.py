"""`agentkeep runs list|show|cancel`: run records (SPEC §9), from a terminal."""

from __future__ import annotations

import click

from agentkeep.domain.paging import Paging
from agentkeep.entrypoints.cli.context import CliContext, pass_cli
from agentkeep.entrypoints.cli.output import show
from agentkeep.entrypoints.cli.resources import json_option, page_option, size_option
from agentkeep.entrypoints.cli.services import run_with
from agentkeep.entrypoints.references import uuid_ref

COLUMNS = ["id", "status", "steps"]  # `runs show` has the rest; a terminal is 80 columns


@click.group()
def runs() -> None:
    """Runs: list a session's, show one, cancel one."""


@runs.command("list")
@click.argument("session")
@click.option("--newest-first", is_flag=True, help="Newest first (default: oldest first).")
@page_option
@size_option
@json_option
@pass_cli
def list_runs(cli: CliContext, session: str, newest_first: bool, page: int, page_size: int, as_json: bool) -> None:
    """The runs of SESSION (an id or a name)."""
    found = run_with(cli, lambda c: c.runs().list(session, Paging(page, page_size, newest_first)))
    show(found, COLUMNS, as_json_output=as_json)


@runs.command("show")
@click.argument("run_id")
@json_option
@pass_cli
def show_run(cli: CliContext, run_id: str, as_json: bool) -> None:
    """Show RUN_ID."""
    show(run_with(cli, lambda c: c.runs().get(uuid_ref(run_id, "run_id"))), [], as_json_output=as_json)


@runs.command("cancel")
@click.argument("run_id")
@json_option
@pass_cli
def cancel_run(cli: CliContext, run_id: str, as_json: bool) -> None:
    """Cancel RUN_ID if it is not finished (idempotent); show it."""
    show(run_with(cli, lambda c: c.runs().cancel(uuid_ref(run_id, "run_id"))), [], as_json_output=as_json)
