"""The run route: send a message to an agent, get the reply (SPEC §3); and the run records: read
one, cancel one (SPEC §9)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter

from agentkeep.application.run_agent import RunRequest, RunResult
from agentkeep.domain.models import Run
from agentkeep.entrypoints.http.idempotency import RESPONSES, IdempotencyKey, respond_run
from agentkeep.entrypoints.http.services import Services
from agentkeep.entrypoints.references import uuid_ref

RunId = Annotated[str, PathParameter(description="The run's id.")]


class RunRoutes(Controller):
    path = "/agents"
    tags = ["run"]

    @post(
        "/{agent_id_or_name:str}/run",
        status_code=200,
        summary="Run an agent on a message",
        description=(
            "Creates the user and the session when needed; the user message is kept even when the model fails. "
            "With an Idempotency-Key, a model failure (502/504) is replayed like any answer: send a new key to retry."
        ),
        responses=RESPONSES,
    )
    async def run(
        self,
        request: Request[Any, Any, Any],
        agent_id_or_name: Annotated[str, PathParameter(description="The agent's id, or its name.")],
        data: JSONBody[RunRequest],
        services: NamedDependency[Services],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[RunResult]:
        return await respond_run(
            request,
            idempotency_key,
            services.idempotency,
            lambda on_kept: services.run_agent(agent_id_or_name, data, on_user_message_kept=on_kept),
        )


class RunRecordRoutes(Controller):
    path = "/runs"
    tags = ["run"]

    @get("/{run_id:str}", summary="Read a run")
    async def read(self, run_id: RunId, services: NamedDependency[Services]) -> Run:
        return await services.runs.get(uuid_ref(run_id, "run_id"))

    @post(
        "/{run_id:str}/cancel",
        status_code=200,
        summary="Cancel a run (idempotent)",
        description=(
            "A queued, running or requires_action run becomes cancelled at once: its model call is abandoned, its "
            "user message stays, its session is free. A finished run is answered unchanged."
        ),
    )
    async def cancel(self, run_id: RunId, services: NamedDependency[Services]) -> Run:
        return await services.runs.cancel(uuid_ref(run_id, "run_id"))
