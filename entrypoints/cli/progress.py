"""How a backfill shows its progress and its result: a rich progress bar on a terminal, plain
lines otherwise (a log, a CI job), and a summary at the end, as text or JSON. Progress goes to
stderr, so stdout holds only the summary (`--json` output stays parseable)."""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any, TextIO

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from agentkeep.application.backfill import Skip, Tally

#: Example rows printed per skip reason (`--report FILE` lists every one).
EXAMPLES_SHOWN = 3


def progress_for(stream: TextIO | None = None) -> BarProgress | LineProgress:
    """A progress bar when `stream` (default stderr) is a terminal, else plain lines."""
    stream = stream or sys.stderr
    return BarProgress(stream) if stream.isatty() else LineProgress(stream)


class BarProgress:
    """One rich progress bar per table."""

    def __init__(self, stream: TextIO) -> None:
        self._progress = Progress(
            TextColumn("{task.description:<9}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[counts]}"),
            TimeElapsedColumn(),
            console=Console(file=stream),
        )
        self._tasks: dict[str, TaskID] = {}
        self._fd = stream.fileno()

    def start(self, table: str, total: int | None) -> None:
        if not self._tasks:
            self._progress.start()
        self._tasks[table] = self._progress.add_task(table, total=total, counts="")

    def advance(self, tally: Tally, rows: int) -> None:
        self._progress.update(self._tasks[tally.table], advance=rows, counts=_counts(tally))

    def finish(self, tally: Tally) -> None:
        self._progress.update(self._tasks[tally.table], counts=_counts(tally))

    def close(self) -> None:
        self._progress.stop()

    def abandon(self) -> None:
        """Leave the terminal usable for a process that exits at once (a second Ctrl-C): show
        the cursor the bar hid, below the bar. Safe in a signal handler (one write to the file
        descriptor)."""
        os.write(self._fd, b"\x1b[?25h\n")


class LineProgress:
    """A line per table at most every `every` seconds, and one when the table is done."""

    def __init__(self, stream: TextIO, every: float = 1.0) -> None:
        self._stream = stream
        self._every = every
        self._totals: dict[str, int | None] = {}
        self._last = 0.0

    def start(self, table: str, total: int | None) -> None:
        self._totals[table] = total
        self._last = time.monotonic()

    def advance(self, tally: Tally, rows: int) -> None:
        now = time.monotonic()
        if now - self._last >= self._every:
            self._last = now
            self._line(tally)

    def finish(self, tally: Tally) -> None:
        self._line(tally, done=True)

    def close(self) -> None:
        pass

    def abandon(self) -> None:
        pass

    def _line(self, tally: Tally, *, done: bool = False) -> None:
        total = self._totals.get(tally.table)
        of = f"/{total}" if total is not None else ""
        state = "done" if done else "read"
        click.echo(f"{tally.table}: {state} {tally.read}{of} rows ({_counts(tally)})", file=self._stream)


class ReportFile:
    """Every skipped row and dropped value as a JSON line (`--report FILE`), written out line by
    line, so that a run that is aborted (or killed) leaves every line of what it read."""

    def __init__(self, path: str) -> None:
        self._file = open(path, "w", encoding="utf-8", buffering=1)  # noqa: SIM115 - closed by close()

    def write(self, skip: Skip) -> None:
        record = {"table": skip.table, "reason": skip.reason, "row": skip.row, "kept": skip.kept}
        self._file.write(json.dumps(record, ensure_ascii=False) + "\n")

    def close(self) -> None:
        self._file.close()


def _counts(tally: Tally) -> str:
    text = (
        f"created {tally.created}, updated {tally.updated}, unchanged {tally.unchanged}, skipped {tally.total_skipped}"
    )
    if tally.dropped:
        text += f", values dropped {sum(tally.dropped.values())}"
    return text


def summary_lines(tallies: Sequence[Tally]) -> list[str]:
    """The counts of each table, the reasons rows were skipped or values dropped, and a few
    example rows of each reason."""
    lines: list[str] = []
    for tally in tallies:
        prefix = f"{tally.table}: " if len(tallies) > 1 else ""
        lines.append(prefix + _counts(tally))
        for label, reasons, kept in (("skipped", tally.skipped, False), ("dropped", tally.dropped, True)):
            if reasons:
                lines.append(f"  {label}: {_reasons(reasons)}")
                for reason in sorted(reasons):
                    examples = [skip for skip in tally.examples.get(reason, []) if skip.kept == kept]
                    shown = examples[:EXAMPLES_SHOWN]
                    lines.extend(f"    {reason}: {skip.row}" for skip in shown)
                    more = reasons[reason] - len(shown)
                    if more > 0:
                        lines.append(f"    {reason}: ... and {more} more (--report FILE lists them all)")
    return lines


def summary_json(headline: str, tallies: Sequence[Tally], *, dry_run: bool) -> str:
    data: dict[str, Any] = {"summary": headline, "dry_run": dry_run, "tables": {}}
    for tally in tallies:
        data["tables"][tally.table] = {
            "read": tally.read,
            "created": tally.created,
            "updated": tally.updated,
            "unchanged": tally.unchanged,
            "skipped": dict(sorted(tally.skipped.items())),
            "dropped": dict(sorted(tally.dropped.items())),
        }
    return json.dumps(data, indent=2)


def _reasons(reasons: Counter[str]) -> str:
    return ", ".join(f"{reason} {count}" for reason, count in sorted(reasons.items()))
