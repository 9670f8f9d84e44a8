"""The run route: send a message to an agent, get the reply (SPEC §3)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter

from application.run_agent import RunAgent, RunRequest, RunResult


class RunRoutes(Controller):
    path = "/agents"
    tags = ["run"]

    @post(
        "/{agent_id_or_name:str}/run",
        status_code=200,
        summary="Run an agent on a message",
        description="Creates the user and the session when needed; the user message is kept even when the model fails.",
    )
    async def run(
        self,
        agent_id_or_name: Annotated[str, PathParameter(description="The agent's id, or its name.")],
        data: JSONBody[RunRequest],
        run_agent: NamedDependency[RunAgent],
    ) -> RunResult:
        return await run_agent(agent_id_or_name, data)
