"""The run route: send a message to an agent, get the reply (SPEC §3)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter

from agentkeep.application.run_agent import RunRequest, RunResult
from agentkeep.entrypoints.http.idempotency import RESPONSES, IdempotencyKey, respond_run
from agentkeep.entrypoints.http.services import Services


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
