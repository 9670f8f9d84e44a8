"""Event streams as the tests read them (SPEC §9.1): parsed into events, and the shape every
run's events have."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx

from tests.e2e.http_api import API


@dataclass(frozen=True)
class Event:
    event: str
    id: int
    data: dict[str, Any]


def parse(text: str) -> list[Event]:
    """The events of an event stream's text (comments left out)."""
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.split("\n"):
            if line and not line.startswith(":"):
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")
        if "event" in fields:
            events.append(Event(fields["event"], int(fields["id"]), json.loads(fields["data"])))
    return events


async def streamed(
    api: httpx.AsyncClient, agent_ref: str, message: str, headers: dict[str, str] | None = None, **fields: Any
) -> list[Event]:
    body = {"message_content": message, "stream": True, **fields}
    async with api.stream("POST", f"{API}/agents/{agent_ref}/run", json=body, headers=headers) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        return parse((await response.aread()).decode())


async def replayed(api: httpx.AsyncClient, run_id: str, **kwargs: Any) -> list[Event]:
    response = await api.get(f"{API}/runs/{run_id}/events", **kwargs)
    assert response.status_code == 200, response.text
    return parse(response.text)


def check_shape(events: list[Event]) -> None:
    """Ids 1, 2, 3, ...; `run.created` first; exactly one terminal event, last."""
    assert [e.id for e in events] == list(range(1, len(events) + 1))
    assert events[0].event == "run.created"
    terminal = {"run.completed", "run.requires_action", "run.failed", "run.cancelled"}
    assert [e.event in terminal for e in events] == [False] * (len(events) - 1) + [True]
