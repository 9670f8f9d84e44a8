"""The use cases the routes call, handed to each handler as one Litestar dependency."""

from __future__ import annotations

from dataclasses import dataclass

from application.agents import AgentService
from application.idempotency import Idempotency
from application.memories import MemoryService
from application.run_agent import RunAgent
from application.sessions import SessionService
from application.users import UserService


@dataclass(frozen=True, slots=True)
class Services:
    """Every use case of the API. One dependency, not one per use case: Litestar resolves two
    dependencies of one handler (a create and its Idempotency-Key records) in a task group of
    their own per request, which cost 5% of a run's CPU (measured); one it awaits inline."""

    run_agent: RunAgent
    agents: AgentService
    users: UserService
    sessions: SessionService
    memories: MemoryService
    idempotency: Idempotency
