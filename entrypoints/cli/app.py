"""The root `agentkeep` group: global options, `--version`, and the one place errors become exit
codes."""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Any

import click

from agentkeep.entrypoints.cli.context import CliContext
from agentkeep.entrypoints.cli.db import db
from agentkeep.entrypoints.cli.demo import demo
from agentkeep.entrypoints.cli.errors import report
from agentkeep.entrypoints.cli.migrate import import_automagik, migrate_agents
from agentkeep.entrypoints.cli.resources import agents, memories, sessions, users
from agentkeep.entrypoints.cli.run import chat, run
from agentkeep.entrypoints.cli.runs import runs
from agentkeep.entrypoints.cli.serve import serve
from agentkeep.entrypoints.version import VERSION


class _Agentkeep(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise  # click prints these itself (usage errors exit 2)
        except BrokenPipeError:
            # The reader went away (`agentkeep ... | head`): nothing to say, and nobody to say it to.
            with contextlib.suppress(OSError, ValueError):  # so that the exit's flush fails no more
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            ctx.exit(1)
        except Exception as error:
            state = ctx.find_object(CliContext)
            ctx.exit(report(error, state.database_url_hint if state else None))


@click.group(cls=_Agentkeep, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(VERSION, "--version", "-V", prog_name="agentkeep", message="%(prog)s %(version)s")
@click.option(
    "--database-url",
    metavar="URL",
    help="The database (overrides AGENTKEEP_DATABASE_URL): sqlite:///agentkeep.db, postgresql://user@host/db, ...",
)
@click.pass_context
def cli(ctx: click.Context, database_url: str | None) -> None:
    """agentkeep: users, agents, sessions, messages and memories of AI agents, on SQLite or PostgreSQL."""
    ctx.obj = CliContext(database_url=database_url)


for command in (serve, db, run, chat, runs, agents, users, sessions, memories, migrate_agents, import_automagik, demo):
    cli.add_command(command)


def main() -> None:
    """The console script."""
    cli(prog_name="agentkeep")
