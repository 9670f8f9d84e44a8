"""`agentkeep migrate-agents` (SPEC §4) and `agentkeep import-automagik` (SPEC §7): open the
legacy source, run the use case with a progress display, print the summary.

Both upgrade agentkeep's schema first (as `serve` does), except in a dry run, which writes nothing
and so needs the schema in place. Ctrl-C stops after the batch being written; a second one aborts
that batch (its transaction is rolled back). Either way the command says so in one line and exits
130, and a re-run resumes.
"""

from __future__ import annotations

import gc
import os
import signal
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import click

from agentkeep.adapters.legacy.automagik import open_automagik_source
from agentkeep.adapters.legacy.social import open_profile_source
from agentkeep.application.backfill import Options, Stopped, Tally
from agentkeep.entrypoints.cli.context import CliContext, pass_cli
from agentkeep.entrypoints.cli.progress import (
    BarProgress,
    LineProgress,
    ReportFile,
    progress_for,
    summary_json,
    summary_lines,
)
from agentkeep.entrypoints.cli.schema import ensure_schema
from agentkeep.entrypoints.cli.services import run_with
from agentkeep.entrypoints.container import Container

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
    progress = progress_for()
    report = ReportFile(report_path) if report_path else None
    ctrl_c = _CtrlC(progress)
    options = Options(
        batch_size=batch_size,
        dry_run=dry_run,
        progress=progress,
        stop=ctrl_c.requested,
        on_skip=report.write if report else None,
    )

    async def main(container: Container) -> list[Tally]:
        with _collector_for_batches():
            return await work(container, options)

    with ctrl_c.handled():
        try:
            ensure_schema(cli.settings.database_url, upgrade=not dry_run)
            tallies = run_with(cli, main)
        except Stopped as stopped:
            progress.close()
            click.echo(f"Stopped {stopped}.", err=True)
            raise SystemExit(STOPPED) from None
        finally:
            ctrl_c.over = True  # nothing left to stop or abort: the command is ending
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


class _CtrlC:
    """Ctrl-C during a run. The first asks it to stop after the batch being written (`requested`
    turns true; the run asks after each batch). The second aborts at once: the process exits,
    and the database rolls back the batch's open transaction, as after a kill (which the crash
    tests show a re-run recovers from).

    Exiting is the one abort that is both quick and sure. A cancelled task is neither: on SQLite
    the batch's writes hold the event loop, so a cancellation waits for the whole batch, and
    asyncpg 0.32 cannot cancel an `executemany` in mid-send (the task then waits for its answer
    forever). So this is a plain signal handler, run between two bytecodes of the main thread
    even while the loop is busy; it writes to the file descriptor, not through Python's buffered
    stderr, which the code it interrupts may be in the middle of.
    """

    def __init__(self, progress: BarProgress | LineProgress) -> None:
        self._progress = progress
        self._requested = False
        #: Set once the run has ended: a Ctrl-C is then ignored while the command says how.
        self.over = False

    def requested(self) -> bool:
        return self._requested

    @contextmanager
    def handled(self) -> Iterator[None]:
        """Ctrl-C handled as above inside the block (in the main thread; elsewhere, as it was)."""
        try:
            previous = signal.signal(signal.SIGINT, self._on_ctrl_c)
        except ValueError:  # not the main thread (an embedding): Ctrl-C is left as it is
            yield
            return
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    def _on_ctrl_c(self, _signal: int, _frame: Any) -> None:
        if self.over:
            return
        if self._requested:
            self._progress.abandon()
            _say("Aborted: the batch being written was rolled back; run it again to go on.")
            os._exit(STOPPED)
        self._requested = True
        _say("Stopping after the current batch (Ctrl-C again to abort it)...")


def _say(line: str) -> None:
    os.write(2, (line + "\n").encode())
