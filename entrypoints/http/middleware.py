"""Request ids and the one log line per request, as plain ASGI middleware (cheap on the hot path)."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("agentkeep.access")
_ACCEPTED_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def request_id_and_log(app: ASGIApp, *, json_logs: bool) -> ASGIApp:
    """Wrap the whole app, so that unmatched paths get an id too. Every response carries
    `X-Request-ID` (the caller's when it is sane, else a new one); each request logs method,
    route, status, duration and request id — never a key, a body or a message text."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        started = time.perf_counter()
        given = _header(scope, b"x-request-id")
        request_id = given if given and _ACCEPTED_ID.match(given) else uuid.uuid4().hex
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await app(scope, receive, send_with_id)
        finally:
            _log(scope, status, (time.perf_counter() - started) * 1000, request_id, json_logs)

    return wrapped


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _log(scope: Scope, status: int, duration_ms: float, request_id: str, json_logs: bool) -> None:
    if not log.isEnabledFor(logging.INFO):
        return
    # The router writes the matched template into the (shared) scope; an unmatched path has none.
    route = scope.get("path_template") or "(no route)"
    method = scope.get("method")
    if json_logs:
        fields = {"method": method, "route": route, "status": status, "duration_ms": round(duration_ms, 2)}
        log.info(json.dumps({**fields, "request_id": request_id}))
    else:
        log.info("%s %s %s %.1fms request_id=%s", method, route, status, duration_ms, request_id)
