"""The machine both migrations run on (SPEC §4, §7): read a legacy source in batches, turn each
batch into writes in one unit of work, commit per batch, count what happened, report progress.

It gives every backfill the same guarantees:

* **Streamed.** At most two batches of rows are in memory: the one being written, and the next
  one, read while the current one commits.
* **Crash-safe.** A batch is one transaction: a run killed at any moment leaves whole batches.
  Steps are idempotent (deterministic ids; a row already there is left as it is), so a re-run
  from the start ends in the state of one clean run, re-reading but not re-writing what was done.
* **Dry run.** Each batch is planned the same way in a unit of work that is rolled back, with
  every write left out, so the counts are those a real run would report.
* **Stoppable.** `stop()` is asked after each committed batch (Ctrl-C in the CLI).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from agentkeep.domain.ports.backfill import BackfillStorage, BackfillUnitOfWork

R = TypeVar("R")
R_contra = TypeVar("R_contra", contravariant=True)

#: How many skipped rows of each reason a tally keeps as examples (the rest are only counted, so
#: a source full of bad rows cannot fill memory).
EXAMPLES_PER_REASON = 10


@dataclass(frozen=True, slots=True)
class Skip:
    """A row left out, or a value dropped from a row that was kept, and why: `reason` is a SPEC
    code (`missing_handle`, `duplicate_did`, `invalid_email`, ...); `row` says how to find the row
    in the source (`handle='alice' did='did:plc:x'`)."""

    table: str
    reason: str
    row: str
    kept: bool = False


@dataclass(slots=True)
class Tally:
    """What one phase of a backfill did to the rows it read."""

    table: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    read: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    #: Values dropped from rows that were kept (an invalid email of a kept user), by reason.
    dropped: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[Skip]] = field(default_factory=dict)
    #: Told of every skipped row and dropped value (the CLI's `--report` file); `examples` keeps
    #: only a few of each reason.
    on_skip: Callable[[Skip], None] | None = None

    def skip(self, reason: str, row: str) -> None:
        """Leave a row out for `reason`."""
        self.skipped[reason] += 1
        self._note(Skip(self.table, reason, row))

    def drop(self, reason: str, row: str) -> None:
        """Say that a value of a kept row was dropped for `reason`."""
        self.dropped[reason] += 1
        self._note(Skip(self.table, reason, row, kept=True))

    def _note(self, skip: Skip) -> None:
        kept = self.examples.setdefault(skip.reason, [])
        if len(kept) < EXAMPLES_PER_REASON:
            kept.append(skip)
        if self.on_skip is not None:
            self.on_skip(skip)

    @property
    def total_skipped(self) -> int:
        return sum(self.skipped.values())

    @property
    def changed(self) -> int:
        """Rows created or updated: the N of `Migrated N agents.`"""
        return self.created + self.updated


class Step(Protocol[R_contra]):
    """Plan and write one batch: count each row in `tally` as created, updated, unchanged or
    skipped, and write the created and updated ones unless `dry_run`."""

    async def __call__(
        self, uow: BackfillUnitOfWork, rows: Sequence[R_contra], tally: Tally, *, dry_run: bool
    ) -> None: ...


class Progress(Protocol):
    """Where a backfill reports how far it got (a progress bar, log lines, nothing)."""

    def start(self, table: str, total: int | None) -> None: ...

    def advance(self, tally: Tally, rows: int) -> None: ...

    def finish(self, tally: Tally) -> None: ...


class NoProgress:
    """Reports nothing."""

    def start(self, table: str, total: int | None) -> None:
        pass

    def advance(self, tally: Tally, rows: int) -> None:
        pass

    def finish(self, tally: Tally) -> None:
        pass


@dataclass(frozen=True, slots=True)
class Options:
    """How to run a backfill: rows per batch (and per transaction), dry run, when to stop."""

    batch_size: int = 1000
    dry_run: bool = False
    progress: Progress = field(default_factory=NoProgress)
    stop: Callable[[], bool] = lambda: False
    on_skip: Callable[[Skip], None] | None = None


class Stopped(Exception):
    """`stop()` said to stop; the batches before it are committed (a re-run resumes)."""


async def backfill(
    storage: BackfillStorage,
    table: str,
    batches: AsyncIterator[list[R]],
    step: Step[R],
    options: Options,
    *,
    total: int | None = None,
) -> Tally:
    """Run `step` over every batch of `batches`, one unit of work each; the tally of `table`.

    Raises `Stopped` (after committing the current batch) when `options.stop()` turns true.
    """
    tally = Tally(table, on_skip=options.on_skip)
    options.progress.start(table, total)
    ahead = _ReadAhead(batches)
    try:
        while (rows := await ahead.next()) is not None:
            async with storage.unit_of_work() as uow:
                await step(uow, rows, tally, dry_run=options.dry_run)
                ahead.start()  # the next batch is read while this one commits
                if not options.dry_run:
                    await uow.commit()
            tally.read += len(rows)
            options.progress.advance(tally, len(rows))
            if options.stop():
                raise Stopped(f"after {tally.read} {table} rows; run it again to go on")
    finally:
        await ahead.close()
    options.progress.finish(tally)
    return tally


class _ReadAhead(Generic[R]):
    """The batches of a source, the next one read while the current one is committed.

    A SQLite source is read (and its rows made into values) in a worker thread. Started while
    the storage commits, which holds no interpreter lock (SQLite writes its log, checkpoints,
    syncs), the read runs beside it; started any earlier, it would contend for the lock with the
    batch's own inserts and slow them as much as it saved. A read fails where it would have
    without reading ahead: when its batch is asked for, after the batches before it were written.
    """

    def __init__(self, batches: AsyncIterator[list[R]]) -> None:
        self._batches = batches
        self._pending: asyncio.Future[list[R] | None] | None = None

    def start(self) -> None:
        """Begin reading the next batch (at the event loop's next turn), unless it is begun."""
        if self._pending is None:
            self._pending = asyncio.ensure_future(anext(self._batches, None))

    async def next(self) -> list[R] | None:
        """The next batch; None after the last."""
        self.start()
        assert self._pending is not None
        # Shielded, and forgotten only once it is done: when the run is cancelled meanwhile, a
        # read in its worker thread cannot be stopped, and `close()` must wait for it before the
        # source's connection is closed under it (else its cursor fails, and is logged).
        batch = await asyncio.shield(self._pending)
        self._pending = None
        return batch

    async def close(self) -> None:
        """Wait for a read still running (its connection must be idle before the source is
        closed); what it read, or how it failed, no longer matters."""
        pending, self._pending = self._pending, None
        if pending is not None:
            await asyncio.wait([pending])
            if not pending.cancelled():
                pending.exception()  # retrieved, so asyncio does not log it as lost


class WriteBehind:
    """The writes of one unit of work, run in order, one at a time, while the step goes on
    planning the next ones: a storage that writes off the event loop (SQLite's large inserts run
    in a worker thread, PostgreSQL's on the server) then works beside the step's Python.

    The step hands over each write as it is planned (`submit`), lets the writes move on now and
    then (`pause`: a write is started, or the next one is, only when the event loop turns), and
    leaves the `async with` block once all of them are done (raising the first that failed: it
    fails the writes after it too). When the block fails, the writes still to come are cancelled
    and the one running is waited for, so the unit of work is rolled back on an idle connection.
    """

    #: How many planned rows between two turns of the event loop (`pause`).
    PAUSE_EVERY = 64

    def __init__(self) -> None:
        self._last: asyncio.Future[None] | None = None
        self._planned = 0

    def submit(self, write: Callable[[], Awaitable[None]]) -> None:
        """Run `write()` after the writes submitted before it."""
        previous = self._last

        async def after_previous() -> None:
            if previous is not None:
                await previous
            await write()

        self._last = asyncio.ensure_future(after_previous())

    async def pause(self) -> None:
        """Count one planned row; every `PAUSE_EVERY`, let the writes move on."""
        self._planned += 1
        if self._planned % self.PAUSE_EVERY == 0 and self._last is not None:
            await asyncio.sleep(0)

    async def __aenter__(self) -> WriteBehind:
        return self

    async def __aexit__(self, kind: object, error: object, trace: object) -> None:
        last, self._last = self._last, None
        if last is None:
            return
        if error is None:
            await last
            return
        last.cancel()
        await asyncio.wait([last])
        if not last.cancelled():
            last.exception()  # retrieved: the step's own error is the one reported
