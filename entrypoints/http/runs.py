"""The run route: send a message to an agent, get the reply (SPEC §3); and the run records: read
one, cancel one (SPEC §9)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import HeaderParameter, JSONBody, PathParameter, QueryParameter
from litestar.response import Stream

from agentkeep.application.idempotency import RunKey
from agentkeep.application.run_agent import RunRequest, RunResult, StartedRun
from agentkeep.domain.errors import Invalid
from agentkeep.domain.models import Run
from agentkeep.entrypoints.http.events import EVENT_STREAM, event_stream, failure_of, failure_of_record, wants_events
from agentkeep.entrypoints.http.idempotency import RESPONSES, IdempotencyKey, keyed, replay_run
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
            "With `stream: true` (or `Accept: text/event-stream`), a 200 is a `text/event-stream` of the run's events "
            "(`run.created`, `message.delta`, ..., one terminal event), once the user message is kept. With "
            "`background: true`, a 202 with the run, at once: follow it with `GET /runs/{id}` or its `/events`. "
            "With an Idempotency-Key, a retry is answered from the run the first request started: its answer (a model "
            "failure included: send a new key to try again), its events from the first when streamed."
        ),
        responses={
            **RESPONSES,
            202: ResponseSpec(Run, description="`background: true`: the run, started", generate_examples=False),
        },
    )
    async def run(
        self,
        request: Request[Any, Any, Any],
        agent_id_or_name: Annotated[str, PathParameter(description="The agent's id, or its name.")],
        data: JSONBody[RunRequest],
        services: NamedDependency[Services],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[RunResult]:
        if data.background and data.stream:
            raise Invalid("a run is streamed or in the background, not both", key="background")
        streamed = not data.background and wants_events(request, data.stream)
        # Refused (4xx) before its user message is kept: answered as JSON, never a stream.
        with_events = streamed or data.background

        async def start(key: RunKey | None) -> StartedRun:
            return await services.run_agent.start(agent_id_or_name, data, streamed=with_events, key=key)

        if idempotency_key is None:
            started = await start(None)
        else:
            begun = await services.idempotency.run(await keyed(request, idempotency_key), start)
            if not isinstance(begun, StartedRun):
                return await replay_run(request, begun, services, streamed=streamed, background=data.background)
            started = begun
        answer: Response[Any] | Stream
        if data.background:
            services.run_agent.background(started, failure_of(request, str(started.run.id)))
            answer = Response(started.run, status_code=202)
        elif streamed:
            # The 200 documented is the JSON one; the description tells of the stream.
            answer = event_stream(services.run_agent.stream(started, failure_of(request, str(started.run.id))))
        else:
            answer = Response(await services.run_agent.finish(started), status_code=200)
        return answer  # type: ignore[return-value]  # the 200 documented is the JSON one


class RunRecordRoutes(Controller):
    path = "/runs"
    tags = ["run"]

    @get("/{run_id:str}", summary="Read a run")
    async def read(self, run_id: RunId, services: NamedDependency[Services]) -> Run:
        return await services.runs.get(uuid_ref(run_id, "run_id"))

    @get(
        "/{run_id:str}/events",
        media_type=EVENT_STREAM,
        summary="Follow or replay a run's events",
        description=(
            "The run's events as `text/event-stream`, the same ids as its live stream: from the first, or after the id "
            "in `Last-Event-ID` (or `?after=`); for a run still going, then live up to its terminal event."
        ),
    )
    async def events(
        self,
        run_id: RunId,
        services: NamedDependency[Services],
        after: Annotated[int | None, QueryParameter(ge=0, le=2**31, description="Replay after this id.")] = None,
        last_event_id: Annotated[
            str | None, HeaderParameter(name="Last-Event-ID", required=False, description="Resume after this id.")
        ] = None,
    ) -> Stream:
        since = after if after is not None else _event_id(last_event_id)
        return event_stream(await services.runs.events(uuid_ref(run_id, "run_id"), since, failure_of_record))

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


def _event_id(value: str | None) -> int:
    """The event id of a `Last-Event-ID` header (0: from the first)."""
    if value is None or not value.strip():
        return 0
    if not value.strip().isdigit() or int(value) > 2**31:
        raise Invalid("must be an event id (a whole number)", key="Last-Event-ID")
    return int(value)
