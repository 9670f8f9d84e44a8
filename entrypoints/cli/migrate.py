"""`agentkeep migrate-agents` (SPEC §4) and `agentkeep import-automagik` (SPEC §7): open the
legacy source, run the use case with a progress display, print the summary.

Both upgrade agentkeep's schema first (as `serve` does), except in a dry run, which writes nothing
and so needs the schema in place. Ctrl-C stops after the batch being written (a second Ctrl-C
aborts it; its transaction is then rolled back); either way a re-run resumes.
"""

from __future__ import annotations

import asyncio
import gc
import signal
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import click

from adapters.legacy.automagik import open_automagik_source
from adapters.legacy.social import open_profile_source
from application.backfill import Options, Stopped, Tally
from entrypoints.cli.context import CliContext, pass_cli
from entrypoints.cli.progress import ReportFile, progress_for, summary_json, summary_lines
from entrypoints.cli.schema import ensure_schema
from entrypoints.cli.services import run_with
from entrypoints.container import Container

#: Exit code of a run stopped by Ctrl-C (128 + SIGINT, the shell's convention).
STOPPED = 130

#: Profiles per batch of migrate-agents. Each commit writes every index page the batch touched,
#: and with random keys (DIDs, handles, ids) a batch of 1,000 touches nearly as many pages as one
#: of 10,000: larger batches write far less in all. At 100,000 profiles, batches of 10,000 took
#: 20 s where batches of 1,000 took 33 s (bench/migrate_agents.py); a batch of 10,000 holds a
#: few tens of MB.
MIGRATE_BATCH = 10_000
#: Rows per batch of import-automagik.
IMPORT_BATCH = 1000
MAX_BATCH = 100_000


def _backfill_options(default_batch: int) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    options = [
        click.option(
            "--batch-size",
            type=click.IntRange(1, MAX_BATCH),
            default=default_batch,
            show_default=True,
            help="Rows per batch; each batch is one transaction.",
        ),
        click.option("--dry-run", is_flag=True, help="Write nothing; say what would change."),
        click.option(
            "--report",
            "report_path",
            metavar="FILE",
            type=click.Path(dir_okay=False, writable=True),
            help="Write every skipped row and dropped value to FILE as JSON lines.",
        ),
        click.option("--json", "as_json_output", is_flag=True, help="Print the summary as JSON."),
    ]

    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(options):
            function = option(function)
        return function

    return decorate


@click.command("migrate-agents")
@click.option(
    "--source-url",
    metavar="URL",
    help="The database holding bluesky_profiles and agent_bios (default: agentkeep's own database).",
)
@_backfill_options(MIGRATE_BATCH)
@pass_cli
def migrate_agents(
    cli: CliContext,
    source_url: str | None,
    batch_size: int,
    dry_run: bool,
    report_path: str | None,
    as_json_output: bool,
) -> None:
    """Backfill agents, bios and profile metadata from the social-agent simulation tables."""
    url = cli.settings.database_url

    async def work(container: Container, options: Options) -> list[Tally]:
        source = await open_profile_source(source_url or url)
        try:
            return [await container.migrate_agents()(source, options)]
        finally:
            await source.close()

    def headline(tallies: Sequence[Tally]) -> str:
        verb = "Would migrate" if dry_run else "Migrated"
        return f"{verb} {tallies[0].changed} agents."

    _run(cli, work, headline, batch_size=batch_size, dry_run=dry_run, report_path=report_path, json=as_json_output)


@click.command("import-automagik")
@click.option(
    "--source-url", metavar="URL", required=True, help="The automagik-agents database (SQLite or PostgreSQL)."
)
@_backfill_options(IMPORT_BATCH)
@pass_cli
def import_automagik(
    cli: CliContext, source_url: str, batch_size: int, dry_run: bool, report_path: str | None, as_json_output: bool
) -> None:
    """Copy users, agents, sessions, messages and memories from an automagik-agents database."""
    url = cli.settings.database_url

    async def work(container: Container, options: Options) -> list[Tally]:
        source = await open_automagik_source(source_url, target_url=url)
        try:
            return await container.import_automagik()(source, options)
        finally:
            await source.close()

    def headline(tallies: Sequence[Tally]) -> str:
        verb = "Would import" if dry_run else "Imported"
        return f"{verb} {sum(t.changed for t in tallies)} rows."

    _run(cli, work, headline, batch_size=batch_size, dry_run=dry_run, report_path=report_path, json=as_json_output)


def _run(
    cli: CliContext,
    work: Callable[[Container, Options], Awaitable[list[Tally]]],
    headline: Callable[[Sequence[Tally]], str],
    *,
    batch_size: int,
    dry_run: bool,
    report_path: str | None,
    json: bool,
) -> None:
    ensure_schema(cli.settings.database_url, upgrade=not dry_run)
    progress = progress_for()
    report = ReportFile(report_path) if report_path else None
    stop = _StopFlag()
    options = Options(
        batch_size=batch_size,
        dry_run=dry_run,
        progress=progress,
        stop=stop,
        on_skip=report.write if report else None,
    )

    async def main(container: Container) -> list[Tally]:
        with stop.on_ctrl_c(), _collector_for_batches():
            return await work(container, options)

    try:
        tallies = run_with(cli, lambda container: main(container))
    except Stopped as stopped:
        progress.close()
        click.echo(f"Stopped {stopped}.", err=True)
        raise SystemExit(STOPPED) from None
    except asyncio.CancelledError:
        progress.close()
        click.echo("Aborted: the batch being written was rolled back; run it again to go on.", err=True)
        raise SystemExit(STOPPED) from None
    finally:
        progress.close()
        if report is not None:
            report.close()
    if json:
        click.echo(summary_json(headline(tallies), tallies, dry_run=dry_run))
        return
    click.echo(headline(tallies))
    for line in summary_lines(tallies):
        click.echo(line)


@contextmanager
def _collector_for_batches() -> Iterator[None]:
    """Python's cycle collector tuned for a backfill, then put back.

    A backfill makes tens of thousands of objects per batch and frees them when the batch is
    done (reference counting frees them; they hold no cycles). With the default thresholds the
    collector scanned each live batch many times over, and everything the command had loaded:
    a fifth of the CPU time of migrate-agents. So what exists before the run is frozen (never
    scanned again) and the youngest generation is collected every 20,000 objects, not 700.
    """
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(20_000, thresholds[1], thresholds[2])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


class _StopFlag:
    """Turns true on the first Ctrl-C; the second aborts as usual."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self) -> bool:
        return self.requested

    @contextmanager
    def on_ctrl_c(self) -> Iterator[None]:
        loop = asyncio.get_running_loop()
        main_task = asyncio.current_task()

        def first() -> None:
            self.requested = True
            click.echo("Stopping after the current batch (Ctrl-C again to abort it)...", err=True)
            loop.add_signal_handler(signal.SIGINT, second)

        def second() -> None:
            if main_task is not None:
                main_task.cancel()

        try:
            loop.add_signal_handler(signal.SIGINT, first)
        except (NotImplementedError, RuntimeError):  # no signals here (Windows, a thread): Ctrl-C aborts
            yield
            return
        try:
            yield
        finally:
            loop.remove_signal_handler(signal.SIGINT)
