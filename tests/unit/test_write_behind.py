"""`WriteBehind`: a step's writes run in order, one at a time, beside its planning; the block
ends when they are done, and a failure on either side leaves no write running."""

from __future__ import annotations

import asyncio

import pytest

from agentkeep.application.backfill import WriteBehind


class Log:
    """Writes that record when they start and end, each taking a few turns of the event loop."""

    def __init__(self) -> None:
        self.events: list[str] = []

    def write(self, name: str, turns: int = 3, fail: bool = False):  # type: ignore[no-untyped-def]
        async def run() -> None:
            self.events.append(f"start {name}")
            for _ in range(turns):
                await asyncio.sleep(0)
            if fail:
                raise RuntimeError(f"{name} failed")
            self.events.append(f"end {name}")

        return run


async def test_writes_run_in_order_one_at_a_time() -> None:
    log = Log()
    async with WriteBehind() as writes:
        for name in "abc":
            writes.submit(log.write(name))

    assert log.events == ["start a", "end a", "start b", "end b", "start c", "end c"]


async def test_writes_move_on_while_rows_are_planned() -> None:
    log = Log()
    async with WriteBehind() as writes:
        writes.submit(log.write("a", turns=1))
        for _ in range(4 * WriteBehind.PAUSE_EVERY):  # planning, with a pause per row
            await writes.pause()
        log.events.append("planned")

    assert log.events == ["start a", "end a", "planned"]


async def test_without_pauses_nothing_is_written_before_the_block_ends() -> None:
    log = Log()
    async with WriteBehind() as writes:
        writes.submit(log.write("a"))
        log.events.append("planned")

    assert log.events == ["planned", "start a", "end a"]


async def test_a_failed_write_fails_the_block_and_the_writes_after_it() -> None:
    log = Log()

    async def step() -> None:
        async with WriteBehind() as writes:
            for name in "abc":
                writes.submit(log.write(name, fail=name == "b"))

    with pytest.raises(RuntimeError, match="b failed"):
        await step()

    assert log.events == ["start a", "end a", "start b"]


async def test_a_failed_block_cancels_the_writes_to_come_and_waits_for_the_running_one() -> None:
    log = Log()
    running = asyncio.Event()
    finished = asyncio.Event()

    async def slow() -> None:
        running.set()
        try:
            await asyncio.sleep(10)
        finally:
            await asyncio.sleep(0)  # it takes a turn to stop, as a write in a thread waits for it
            finished.set()

    async def step() -> None:
        async with WriteBehind() as writes:
            writes.submit(slow)
            writes.submit(log.write("after"))
            await running.wait()
            raise ValueError("planning failed")

    with pytest.raises(ValueError, match="planning failed"):
        await step()

    assert finished.is_set()  # over before the block was left
    assert log.events == []  # the next write never started
