"""The `Idempotency-Key` header of the run and of every create (SPEC §5 "Retries"; the rules live in
`application.idempotency`).

A request without the header goes straight to its use case and never touches the keys. With it,
the answer is rendered here once, kept as JSON text, and sent as kept: the first answer and every
replay are the same bytes. A replay carries `Idempotent-Replayed: true`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from litestar import MediaType, Request, Response
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import HeaderParameter
from pydantic import BaseModel
from pydantic_core import to_json

from agentkeep.application.idempotency import (
    HEADER,
    IN_PROGRESS,
    REUSED,
    Idempotency,
    KeyedCreate,
    KeyedRequest,
    Outcome,
    Replay,
)
from agentkeep.domain.errors import Invalid
from agentkeep.domain.events import RunEvent
from agentkeep.domain.idempotency import Answer
from agentkeep.entrypoints.http.events import answer_of, event_stream, failure_of_record
from agentkeep.entrypoints.http.services import Services

T = TypeVar("T")

REPLAYED = "Idempotent-Replayed"
MAX_KEY = 255

IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name=HEADER,
        required=False,
        # Checked by `keyed`, so that a 400 names the header rather than a Python parameter.
        schema_extra={"minLength": 1, "maxLength": MAX_KEY},
        description=(
            "Makes a retry safe: the same key with the same path and body within "
            "AGENTKEEP_IDEMPOTENCY_TTL (default 24 h) answers the first response again (marked "
            f"`{REPLAYED}: true`) and does nothing; the same key with another path or body, or "
            "while the first request still runs, is 409. Any 1..255 characters, e.g. a UUID."
        ),
    ),
]


class ErrorCode(BaseModel):
    code: str
    key: str | None


class ConflictError(BaseModel):
    """A 409 (SPEC §5): `extra.code` says which conflict, `extra.key` what is to blame."""

    status_code: int
    detail: str
    extra: ErrorCode


def _conflict_example(code: str, detail: str) -> Example:
    value = {"status_code": 409, "detail": detail, "extra": {"code": code, "key": HEADER}}
    return Example(summary=code, value=value)


RESPONSES = {
    409: ResponseSpec(
        data_container=ConflictError,
        generate_examples=False,
        description=(
            "A conflict with the stored state (`duplicate`, `agent_inactive`, `session_busy`, ...), or "
            f"with `{HEADER}`: `{REUSED}` (the key was first sent with another request) or "
            f"`{IN_PROGRESS}` (the first request with it still runs)"
        ),
        examples=[
            _conflict_example(REUSED, f"this {HEADER} was first sent with another request (path or body)"),
            _conflict_example(IN_PROGRESS, f"the first request with this {HEADER} is still running"),
        ],
    )
}
"""The extra responses of a route that takes the header (for `responses=` on the route)."""


async def respond(
    request: Request[Any, Any, Any],
    key: str | None,
    idempotency: Idempotency,
    work: Callable[[KeyedCreate[T] | None], Awaitable[T]],
    *,
    status: int = 201,
    body: Callable[[T], Any] | None = None,
) -> Response[Any]:
    """A create's response: `body(work(None))` (the result itself without `body`), or with a key,
    its answer replayed, or `work(keyed)`'s, which the create's use case keeps in its own unit
    of work (`KeyedCreate.keep`)."""
    shape: Callable[[T], Any] = body or (lambda result: result)
    if key is None:
        return Response(shape(await work(None)), status_code=status)
    outcome = await idempotency.create(await keyed(request, key), work, lambda result: _answer(status, shape(result)))
    return _response(outcome)


async def replay_run(
    request: Request[Any, Any, Any], begun: Replay, services: Services, *, streamed: bool, background: bool
) -> Response[Any]:
    """A keyed run's retry (SPEC §9.7), marked replayed: the answer kept for its key, or the
    answer of the run its key names, from the run's record: its events from the first when
    streamed, the run itself (202) in the background, else the answer it gave (or will give: the
    retry of a run still going waits for its end)."""
    if isinstance(begun, Answer):
        return _response(Outcome(begun, replayed=True))
    headers = {REPLAYED: "true"}
    if background:
        return Response(await services.runs.get(begun), status_code=202, headers=headers)
    events = await services.runs.events(begun, 0, failure_of_record)
    if streamed:
        return event_stream(events, headers)
    terminal: RunEvent | None = None
    async for batch in events:
        terminal = batch[-1] if batch else terminal
    assert terminal is not None and terminal.event.terminal  # the events of a run end with one
    answer = answer_of(request, terminal)
    answer.headers[REPLAYED] = "true"
    return answer


async def keyed(request: Request[Any, Any, Any], key: str) -> KeyedRequest:
    """The keyed request `request` is, with `key`."""
    if not 1 <= len(key) <= MAX_KEY:
        raise Invalid(f"must be 1 to {MAX_KEY} characters", key=HEADER)
    # The route template scopes the key; the path as sent and the body (read already, and
    # cached, for `data`) are the request a retry must repeat.
    route = f"{request.method} {request.scope.get('path_template') or request.url.path}"
    return KeyedRequest.of(route, key, request.url.path, await request.body())


def _answer(status: int, result: Any) -> Answer:
    return Answer(status, to_json(result).decode())


def _response(outcome: Outcome) -> Response[Any]:
    headers = {REPLAYED: "true"} if outcome.replayed else None
    return Response(
        outcome.answer.body.encode(),
        status_code=outcome.answer.status,
        media_type=MediaType.JSON,
        headers=headers,
    )
