"""`agentkeep db upgrade|downgrade|current`: the database schema (Alembic revisions)."""

from __future__ import annotations

import click

from agentkeep.adapters.storage.sql import migrator
from agentkeep.adapters.storage.sql.dialect import mask_url
from agentkeep.entrypoints.cli.context import CliContext, pass_cli


@click.group()
def db() -> None:
    """The database schema: migrate it, or see its revision."""


@db.command()
@click.argument("revision", default="head")
@pass_cli
def upgrade(cli: CliContext, revision: str) -> None:
    """Migrate the schema up to REVISION (default: head, the newest). Creates a new SQLite file."""
    url = cli.settings.database_url
    before = migrator.current(url)
    migrator.upgrade(url, revision)
    _say_moved("Upgraded", url, before, migrator.current(url))


@db.command()
@click.argument("revision")
@pass_cli
def downgrade(cli: CliContext, revision: str) -> None:
    """Migrate the schema down to REVISION; `base` drops every table, and the data in them."""
    url = cli.settings.database_url
    before = migrator.current(url)
    migrator.downgrade(url, revision)
    _say_moved("Downgraded", url, before, migrator.current(url))


@db.command()
@pass_cli
def current(cli: CliContext) -> None:
    """Print the schema's revision, or `none` for a database never migrated."""
    click.echo(migrator.current(cli.settings.database_url) or "none")


def _say_moved(verb: str, url: str, before: str | None, after: str | None) -> None:
    if before == after:
        click.echo(f"{mask_url(url)} is at {after or 'none'}: nothing to do.")
    else:
        click.echo(f"{verb} {mask_url(url)} from {before or 'none'} to {after or 'none'}.")
