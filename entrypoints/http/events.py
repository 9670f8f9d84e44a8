"""Runs as event streams (SPEC §9.1, §9.2): `text/event-stream` framed by Litestar's own
`ServerSentEventMessage`, each event's `data` one JSON object, `: keep-alive` comments in the
silences; and the `run.failed` data, which is the error body the run would have answered.

The response is a `Stream` of those frames, not Litestar's `ServerSentEvent`: that one runs a
thread hop (`sync_to_thread`) per response for its header lines, which cost a streamed echo run
more than half its requests/s (measured), and sends each event in a write of its own, where the
events there are at once go in one (the echo model's five deltas, in one write)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from litestar import Request, Response
from litestar.response import Stream
from litestar.response.sse import ServerSentEventMessage

from agentkeep.application.runs import run_cancelled
from agentkeep.domain.errors import DomainError, ModelTimeout, ModelUnavailable, StorageUnavailable
from agentkeep.domain.events import EventType, RunEvent
from agentkeep.domain.models import Run
from agentkeep.entrypoints.http.errors import INTERNAL_ERROR, domain_error_handler, status_of

EVENT_STREAM = "text/event-stream"

#: The status of a failed run's error code, for a run whose `run.failed` was not kept.
_STATUS_OF_CODE = {
    ModelUnavailable.default_code: status_of(ModelUnavailable("")),
    ModelTimeout.default_code: status_of(ModelTimeout("")),
    StorageUnavailable.default_code: status_of(StorageUnavailable("")),
}


def wants_events(request: Request[Any, Any, Any], stream: bool) -> bool:
    """Whether a run is to be streamed: `stream: true`, or an `Accept` of `text/event-stream`."""
    return stream or EVENT_STREAM in request.headers.get("accept", "")


def event_stream(events: AsyncIterator[list[RunEvent] | None], headers: dict[str, str] | None = None) -> Stream:
    """The response that sends `events`, each batch in one write (a None is a keep-alive comment)."""

    async def frames() -> AsyncIterator[bytes]:
        async for batch in events:
            if batch is None:
                yield _KEEP_ALIVE
            else:
                yield b"".join(map(_frame, batch))

    return Stream(frames(), media_type=EVENT_STREAM, headers={"Cache-Control": "no-store", **(headers or {})})


def _frame(event: RunEvent) -> bytes:
    data = json.dumps(event.data, ensure_ascii=False, separators=(",", ":"))
    return ServerSentEventMessage(data=data, event=event.event.value, id=event.seq, sep="\n").encode()


_KEEP_ALIVE = ServerSentEventMessage(data=None, comment="keep-alive", sep="\n").encode()


def failure_of(request: Request[Any, Any, Any], run_id: str) -> Any:
    """The `run.failed` data of a live run's error: `{run_id, status_code, detail, extra}`."""

    def data(error: Exception) -> dict[str, Any]:
        if isinstance(error, DomainError):
            body: dict[str, Any] = dict(domain_error_handler(request, error).content)
        else:
            body = dict(INTERNAL_ERROR)
        return {"run_id": run_id, **body}

    return data


def failure_of_record(run: Run) -> dict[str, Any]:
    """The `run.failed` data of a failed run, from its record."""
    code = run.error.code if run.error is not None else "internal"
    if code == "internal":  # a bug: its answer says no more than that
        return {"run_id": str(run.id), **INTERNAL_ERROR}
    detail = run.error.detail if run.error is not None else "internal error"
    status = _STATUS_OF_CODE.get(code, 500)
    return {
        "run_id": str(run.id),
        "status_code": status,
        "detail": detail,
        "extra": {"code": code, "key": None, "run_id": str(run.id)},
    }


def answer_of(request: Request[Any, Any, Any], terminal: RunEvent) -> Response[Any]:
    """What a run not streamed answers, from its terminal event: the 200 body of
    `run.completed`, the error of `run.failed`, 409 `run_cancelled` for `run.cancelled`."""
    if terminal.event is EventType.RUN_FAILED:
        body = {name: terminal.data[name] for name in ("status_code", "detail", "extra")}
        return Response(body, status_code=int(str(body["status_code"])))
    if terminal.event is EventType.RUN_CANCELLED:
        return domain_error_handler(request, run_cancelled(terminal.run_id))
    return Response(terminal.data, status_code=200)
