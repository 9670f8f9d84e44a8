"""What the state machine compares: the outcome of one operation, and every stored row.

Both are read through the ports only, so any two adapters can be compared. `updated_at` is left
out: each adapter stamps it with its own clock.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from pydantic import BaseModel

from agentkeep.domain.errors import Conflict, DomainError
from agentkeep.domain.models import Agent, Session
from agentkeep.domain.paging import MAX_PAGE_SIZE, Paging
from agentkeep.domain.ports import Storage, UnitOfWork

Work = Callable[[UnitOfWork], Awaitable[Any]]


def plain(value: Any) -> Any:
    """A value with every entity turned into a dict of its fields, `updated_at` aside."""
    if isinstance(value, BaseModel):
        return value.model_dump(exclude={"updated_at"})
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


async def outcome(storage: Storage, work: Work) -> tuple[str, Any]:
    """What `work` did in one committed unit of work: its result, or the domain error it raised
    (its class, and for a Conflict the field it names)."""
    try:
        return "ok", plain(await storage.run(work))
    except Conflict as e:
        return "Conflict", e.key
    except DomainError as e:
        # SQLite does not say which foreign key failed, so a NotFound is compared by class only.
        return type(e).__name__, None


async def _every(list_page: Callable[[Paging], Awaitable[tuple[list[Any], int]]]) -> list[Any]:
    items: list[Any] = []
    page = 1
    while True:
        chunk, total = await list_page(Paging(page=page, page_size=MAX_PAGE_SIZE))
        items += chunk
        if len(items) >= total or not chunk:
            return items
        page += 1


async def snapshot(uow: UnitOfWork) -> dict[str, Any]:
    """Every row of every table, in the order the lists give them: `users`, `agents`, `sessions`,
    `memories` as lists; `bios`, `latest_bio`, `profile` by agent id; `messages` and `runs` by
    session id."""
    agents: list[Agent] = await _every(lambda p: uow.agents.list(p))
    sessions: list[Session] = await _every(lambda p: uow.sessions.list(p))
    state: dict[str, Any] = {
        "users": await _every(lambda p: uow.users.list(p)),
        "agents": agents,
        "sessions": sessions,
        "memories": await _every(lambda p: uow.memories.list(p)),
        "bios": {a.id: await _every(partial(uow.bios.list, a.id)) for a in agents},
        "latest_bio": {a.id: await uow.bios.latest(a.id) for a in agents},
        "profile": {a.id: await uow.profile_metadata.get(a.id) for a in agents},
        "messages": {s.id: await _every(partial(uow.messages.list, s.id)) for s in sessions},
        "runs": {s.id: await _every(partial(uow.runs.list, s.id)) for s in sessions},
    }
    return {
        key: {k: plain(v) for k, v in value.items()} if isinstance(value, dict) else plain(value)
        for key, value in state.items()
    }


def row_ids(state: dict[str, Any]) -> dict[str, list[Any]]:
    """The ids of the rows of a snapshot, by kind (profile metadata by agent id), in a stable order."""
    return {
        "users": [u["id"] for u in state["users"]],
        "agents": [a["id"] for a in state["agents"]],
        "sessions": [s["id"] for s in state["sessions"]],
        "memories": [m["id"] for m in state["memories"]],
        "bios": [b["id"] for bios in state["bios"].values() for b in bios],
        "profile_metadata": [agent_id for agent_id, p in state["profile"].items() if p is not None],
        "messages": [m["id"] for messages in state["messages"].values() for m in messages],
        "runs": [r["id"] for runs in state["runs"].values() for r in runs],
        "agents with bios": [agent_id for agent_id, bios in state["bios"].items() if bios],
        "agents with memories": sorted({m["agent_id"] for m in state["memories"]}),
        "sessions with messages": [sid for sid, messages in state["messages"].items() if messages],
    }
