"""`agentkeep migrate-agents` and `agentkeep import-automagik` killed and interrupted, as real
processes, on SQLite and PostgreSQL (SPEC §4, §6, §7; §8 crash safety).

* SIGKILL at 10 random points of a run, each after the process has committed rows of its own and
  before it ends, then one more run: every agentkeep table holds the rows of one clean run.
* Ctrl-C (SIGINT) stops after the batch being written, says so in one line and exits 130, without
  a traceback; a second Ctrl-C aborts that batch, likewise. The next run resumes and ends in the
  state of one clean run.

`AGENTKEEP_TEST_KILLS` sets the number of kills per run (10), for a longer form; the sources grow
with it.
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest

from agentkeep.adapters.legacy.demo import write_automagik, write_profiles
from agentkeep.domain.ids import ANONYMOUS_USER_ID
from tests.e2e.backfills import (
    Databases,
    Ended,
    Process,
    RowCounter,
    Rows,
    agentkeep,
    databases,
    dump,
    row_counter,
    wait_for,
)

KILLS = int(os.environ.get("AGENTKEEP_TEST_KILLS", "10"))
#: Sources with some 16,000 rows to write (migrate-agents) and 3,300 (import-automagik) for 10
#: kills: 12 batches of 50 source rows or more per kill. A kill lands some 10 to 40 ms after its
#: threshold (polling, the drawn delay, the signal): on SQLite that is a few hundred rows, which a
#: smaller source did not always leave room for (a 10th kill once came after the last row).
PROFILES = 600 * KILLS
AUTOMAGIK_USERS = 30 * KILLS
STOPPED = 130
STOPPING = "Stopping after the current batch (Ctrl-C again to abort it)..."
ABORTED = "Aborted: the batch being written was rolled back; run it again to go on."

NotCompared = Mapping[str, Callable[[dict[str, Any]], Collection[str]]]
STAMPS = ("created_at", "updated_at")

#: migrate-agents stamps agents and their profile metadata with the time of the run that writes
#: them, and a bio taken from the profile (`user_provided`) too; a generated bio keeps its time
#: from the source, so it is compared (SPEC §4: "timestamps aside, the rows are equal").
MIGRATE_NOT_COMPARED: NotCompared = {
    "agent": lambda row: STAMPS,
    "user_agent_profile_metadata": lambda row: STAMPS,
    "agent_persona_bios": lambda row: STAMPS if row["persona_bio_source"] == "user_provided" else (),
}
#: import-automagik takes every time from the source, except where the source has none: a system
#: prompt is stamped when it is first stored, the anonymous owner of the sessions that had no user
#: when it is made (on demand). Every other time is compared.
IMPORT_NOT_COMPARED: NotCompared = {
    "system_prompts": lambda row: ("created_at",),
    "users": lambda row: STAMPS if str(row["id"]).replace("-", "") == ANONYMOUS_USER_ID.hex else (),
}


@dataclass(frozen=True)
class Backfill:
    """A command under test and the target it writes to."""

    target: str
    args: tuple[str, ...]
    #: The agentkeep tables it writes: their row count tells how far a run got.
    tables: tuple[str, ...]
    not_compared: NotCompared
    logs: Path

    def run(self, batch_size: int) -> None:
        """A run to the end, in this process."""
        result = agentkeep(self.target, *self.args, "--batch-size", str(batch_size))
        assert result.exit_code == 0, result.output

    def start(self, batch_size: int) -> Process:
        self.logs.mkdir(exist_ok=True)
        stderr = self.logs / f"{time.monotonic_ns()}.stderr"
        return Process(self.target, *self.args, "--batch-size", str(batch_size), stderr=stderr)

    def dump(self) -> Rows:
        return dump(self.target, self.not_compared)

    def counter(self) -> AbstractContextManager[RowCounter]:
        return row_counter(self.target, self.tables)


class Setup:
    """Targets for one command on one kind of database, all on the same source, and what one
    clean run leaves (made once for every test of the module)."""

    def __init__(self, command: str, make: Databases, folder: Path) -> None:
        self.command = command
        self._make = make
        self._folder = folder
        self._source: str | None = None

    def fresh(self) -> Backfill:
        """A target the command has not run on yet."""
        logs = self._folder / "logs"
        if self.command == "migrate-agents":
            # The legacy tables beside agentkeep's, in the target itself (the default source).
            target = self._make()
            write_profiles(target, PROFILES, seed=5)
            return Backfill(target, ("migrate-agents",), MIGRATE_TABLES, MIGRATE_NOT_COMPARED, logs)
        if self._source is None:
            self._source = self._make()
            write_automagik(self._source, AUTOMAGIK_USERS, seed=3)
        args = ("import-automagik", "--source-url", self._source)
        return Backfill(self._make(), args, IMPORT_TABLES, IMPORT_NOT_COMPARED, logs)

    @cached_property
    def expected(self) -> Rows:
        """The tables after one clean run (in batches of a size the runs under test do not use)."""
        backfill = self.fresh()
        backfill.run(batch_size=100)
        return backfill.dump()

    def total(self, tables: Collection[str]) -> int:
        return sum(len(self.expected[t]) for t in tables)

    @property
    def long_batches_from(self) -> int:
        """How many rows the target holds when a run gets to its longest table, where each batch
        is a full one: messages for an import (after users, agents and sessions); from the start
        for migrate-agents, which writes its three tables together."""
        return 0 if self.command == "migrate-agents" else self.total(("users", "agent", "sessions"))


MIGRATE_TABLES = ("agent", "agent_persona_bios", "user_agent_profile_metadata")
IMPORT_TABLES = ("users", "agent", "sessions", "messages", "memories")


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module", params=["migrate-agents", "import-automagik"])
def setup(request: pytest.FixtureRequest, kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    postgres_url = request.getfixturevalue("postgres_url") if kind == "postgres" else None
    folder = tmp_path_factory.mktemp("backfill")
    with databases(folder, postgres_url) as make:
        yield Setup(str(request.param), make, folder)


@dataclass(frozen=True)
class Kill:
    """One SIGKILL: the rows committed when its run started and at the kill, and how it ended."""

    before: int
    after: int
    ended: Ended

    def landed_mid_run(self, total: int) -> bool:
        """Killed (not ended) without a summary, after committing rows of its own and before the
        last ones."""
        ended = self.ended
        return ended.returncode == -signal.SIGKILL and ended.stdout == "" and self.before < self.after < total


def kill_at_random_points(backfill: Backfill, counter: RowCounter, total: int, rng: random.Random) -> list[Kill]:
    """Start the command `KILLS` times and kill each run at a point drawn at random: once it has
    committed rows of its own and the target holds a drawn number of rows, after a drawn delay
    (which lands anywhere in the batch or two that follow: a batch of 50 takes some 5 ms on
    SQLite). Each number is drawn between the rows there and an even share of what is left of the
    first 80% of the rows, so that every run has batches to write when it is killed."""
    last = int(total * 0.8)
    kills: list[Kill] = []
    for left in range(KILLS, 0, -1):
        before = counter()
        threshold = rng.randint(before + 1, before + max(1, (last - before) // left))
        process = backfill.start(batch_size=50)  # small batches: many commits to land between
        wait_for(lambda: (now := counter()) > before and now >= threshold, process)  # noqa: B023
        time.sleep(rng.uniform(0, 0.01))
        ended = process.finish(signal.SIGKILL)
        kills.append(Kill(before, counter(), ended))
    return kills


def test_killed_at_10_random_points_a_backfill_ends_as_one_clean_run(setup: Setup) -> None:
    backfill = setup.fresh()
    total = setup.total(backfill.tables)
    with backfill.counter() as counter:
        kills = kill_at_random_points(backfill, counter, total, random.Random())
    mid_run = [k for k in kills if k.landed_mid_run(total)]
    summary = [(k.before, k.after, k.ended.returncode) for k in kills]  # rows before, at the kill; exit
    assert len(mid_run) == KILLS, f"{len(mid_run)} of {KILLS} kills landed mid-run: {summary}"

    backfill.run(batch_size=50)
    assert backfill.dump() == setup.expected


def interrupt_twice(backfill: Backfill, counter: RowCounter, long_batches_from: int) -> tuple[Ended, int]:
    """Runs interrupted twice, the second Ctrl-C once the first is taken, until one aborts a batch
    (at most 3 runs); that run and the rows it left.

    The second Ctrl-C aborts only while the run lasts: the first one may come at the very end of
    a batch, and the run then stops before the second comes. So the runs are interrupted in long
    batches (full ones, from `long_batches_from` rows on), which makes that rare; a run that
    stopped anyway must say so cleanly.
    """
    for _ in range(3):
        before = max(counter(), long_batches_from)
        process = backfill.start(batch_size=200)
        assert wait_for(lambda: counter() > before, process), "the run ended before it wrote a batch"  # noqa: B023
        process.signal(signal.SIGINT)
        assert wait_for(lambda: STOPPING in process.stderr(), process), process.finish().stderr  # noqa: B023
        ended = process.finish(signal.SIGINT)
        assert "Traceback" not in ended.stderr
        assert ended.stdout == ""
        if ended.stderr.splitlines()[-1] == ABORTED:
            return ended, counter()
        # Stopped before the second Ctrl-C came: it may then land while the process exits, which
        # still exits 130 (never killed by SIGINT).
        assert ended.stderr.splitlines()[-1].startswith("Stopped after "), ended.stderr
        assert ended.returncode == STOPPED, (ended.returncode, ended.stderr)
    pytest.fail("no second Ctrl-C of 3 landed while a batch was written")


def test_ctrl_c_stops_after_the_batch_a_second_aborts_and_the_next_run_resumes(setup: Setup) -> None:
    backfill = setup.fresh()
    total = setup.total(backfill.tables)
    with backfill.counter() as counter:
        process = backfill.start(batch_size=50)
        assert wait_for(lambda: counter() > 0, process), "the run ended before it wrote a batch"
        stopped = process.finish(signal.SIGINT)
        stopped_at = counter()
        # The next runs go on from there (each writes rows), and Ctrl-C twice aborts one.
        aborted, aborted_at = interrupt_twice(backfill, counter, setup.long_batches_from)

    assert stopped.returncode == STOPPED, stopped.stderr
    lines = stopped.stderr.splitlines()
    assert STOPPING in lines
    assert lines[-1].startswith("Stopped after "), stopped.stderr
    assert lines[-1].endswith(" rows; run it again to go on."), stopped.stderr
    assert "Traceback" not in stopped.stderr
    assert stopped.stdout == ""
    assert 0 < stopped_at < total

    assert aborted.returncode == STOPPED, aborted.stderr
    assert stopped_at < aborted_at < total

    backfill.run(batch_size=50)
    assert backfill.dump() == setup.expected
