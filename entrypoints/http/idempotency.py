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
)
from agentkeep.domain.errors import DomainError, Invalid
from agentkeep.domain.idempotency import Answer
from agentkeep.entrypoints.http.errors import INTERNAL_ERROR, domain_error_handler, status_of

T = TypeVar("T")

REPLAYED = "Idempotent-Replayed"
MAX_KEY = 255

IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name=HEADER,
        required=False,
        # Checked by `_keyed`, so that a 400 names the header rather than a Python parameter.
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
    outcome = await idempotency.create(await _keyed(request, key), work, lambda result: _answer(status, shape(result)))
    return _response(outcome)


async def respond_run(
    request: Request[Any, Any, Any],
    key: str | None,
    idempotency: Idempotency,
    work: Callable[[Callable[[], None]], Awaitable[T]],
) -> Response[Any]:
    """The run's response (200), as `respond`; the answer of a run that failed once its user
    message was kept is kept too (`work(kept)`: see `Idempotency.run`)."""
    if key is None:
        return Response(await work(lambda: None), status_code=200)

    def failure(error: Exception) -> Answer:
        # The very body the error handlers send for it, so that a replay is the same.
        if isinstance(error, DomainError):
            return Answer(status_of(error), to_json(domain_error_handler(request, error).content).decode())
        return Answer(500, to_json(INTERNAL_ERROR).decode())

    outcome = await idempotency.run(await _keyed(request, key), work, lambda result: _answer(200, result), failure)
    return _response(outcome)


async def _keyed(request: Request[Any, Any, Any], key: str) -> KeyedRequest:
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
