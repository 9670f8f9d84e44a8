"""`agentkeep demo legacy|automagik`: realistic legacy data to try `migrate-agents` and
`import-automagik` on (and for the benchmarks), written by `adapters.legacy.demo`.

`demo legacy` writes into agentkeep's own database by default: the legacy social tables sit beside
agentkeep's there, as in the platform's databases, and `migrate-agents` reads them in place.
automagik-agents' tables share their names with agentkeep's (users, sessions, messages, memories),
so `demo automagik` writes to a database of its own, `sqlite:///automagik.db` by default, and
refuses agentkeep's.
"""

from __future__ import annotations

import click

from agentkeep.adapters.legacy.automagik import same_database
from agentkeep.adapters.legacy.demo import write_automagik, write_profiles
from agentkeep.adapters.storage.sql.dialect import mask_url
from agentkeep.domain.errors import Invalid
from agentkeep.entrypoints.cli.context import CliContext, pass_cli

DEFAULT_AUTOMAGIK_URL = "sqlite:///automagik.db"

_seed = click.option(
    "--seed", type=int, default=0, show_default=True, help="The same seed writes the same rows into a new database."
)


@click.group()
def demo() -> None:
    """Write demo legacy data: social-agent profiles, or an automagik-agents database."""


@demo.command("legacy")
@click.option("--profiles", type=click.IntRange(0), required=True, help="How many bluesky_profiles rows to append.")
@_seed
@click.option(
    "--bad-fraction",
    type=click.FloatRange(0, 1),
    default=0.01,
    show_default=True,
    help="Share of the profiles with each kind of bad row migrate-agents skips.",
)
@click.option(
    "--url", metavar="URL", help="Where to write (default: agentkeep's database, where migrate-agents reads)."
)
@pass_cli
def legacy_command(cli: CliContext, profiles: int, seed: int, bad_fraction: float, url: str | None) -> None:
    """Append social-agent simulation tables: bluesky_profiles and agent_bios (several bios per
    handle, some bad rows). Then: agentkeep migrate-agents."""
    target = url or cli.settings.database_url
    written = write_profiles(target, profiles, seed=seed, bad_fraction=bad_fraction)
    click.echo(f"Wrote {written} to {mask_url(target)}.")


@demo.command("automagik")
@click.option("--users", type=click.IntRange(1), required=True, help="How many users to append (the rest follows).")
@_seed
@click.option(
    "--url", metavar="URL", help=f"Where to write: not agentkeep's database (default: {DEFAULT_AUTOMAGIK_URL})."
)
@pass_cli
def automagik_command(cli: CliContext, users: int, seed: int, url: str | None) -> None:
    """Append an automagik-agents database: users with integer ids, agents, sessions, messages
    with tool calls, memories. Then: agentkeep import-automagik --source-url URL."""
    target = url or DEFAULT_AUTOMAGIK_URL
    if same_database(target, cli.settings.database_url):
        raise Invalid(
            f"{mask_url(target)} is agentkeep's database, whose users, sessions, messages and memories tables "
            "would collide with automagik-agents' own: pass --url to another file, e.g. --url sqlite:///automagik.db",
            key="url",
        )
    written = write_automagik(target, users, seed=seed)
    click.echo(f"Wrote {written} to {mask_url(target)}.")
