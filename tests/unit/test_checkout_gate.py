"""The PostgreSQL checkout gate: as many places as the pool, a freed one to a waiting reply first."""

from __future__ import annotations

import asyncio

import pytest

from agentkeep.adapters.storage.sql.checkout_gate import CheckoutGate


async def _hold(gate: CheckoutGate, name: str, admitted: list[str], release: asyncio.Event, *, reply: bool) -> None:
    async with gate.place(reply=reply):
        admitted.append(name)
        await release.wait()


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_it_admits_as_many_as_it_has_places_and_no_more() -> None:
    gate, admitted, release = CheckoutGate(2), [], asyncio.Event()
    tasks = [asyncio.create_task(_hold(gate, f"u{i}", admitted, release, reply=False)) for i in range(5)]
    await _settle()
    assert admitted == ["u0", "u1"]
    release.set()
    await asyncio.gather(*tasks)
    assert admitted == ["u0", "u1", "u2", "u3", "u4"]


async def test_a_freed_place_goes_to_a_waiting_reply_before_earlier_units_of_work() -> None:
    gate, admitted = CheckoutGate(1), []
    first, rest = asyncio.Event(), asyncio.Event()
    holder = asyncio.create_task(_hold(gate, "holder", admitted, first, reply=False))
    await _settle()
    waiting = [asyncio.create_task(_hold(gate, f"unit{i}", admitted, rest, reply=False)) for i in range(3)]
    await _settle()
    reply = asyncio.create_task(_hold(gate, "reply", admitted, rest, reply=True))
    await _settle()
    first.set()
    await _settle()
    assert admitted == ["holder", "reply"]
    rest.set()
    await asyncio.gather(holder, reply, *waiting)
    assert admitted == ["holder", "reply", "unit0", "unit1", "unit2"]


async def test_a_waiter_cancelled_gives_its_place_on() -> None:
    gate, admitted, release = CheckoutGate(1), [], asyncio.Event()
    holder = asyncio.create_task(_hold(gate, "holder", admitted, release, reply=False))
    await _settle()
    cancelled = asyncio.create_task(_hold(gate, "cancelled", admitted, release, reply=True))
    after = asyncio.create_task(_hold(gate, "after", admitted, release, reply=False))
    await _settle()
    cancelled.cancel()
    release.set()
    await asyncio.gather(holder, after)
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    assert admitted == ["holder", "after"]
    async with gate.place():  # and the place came back
        pass
