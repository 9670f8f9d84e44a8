"""The one map from domain errors to HTTP answers, in Litestar's shape `{status_code, detail, extra}`:
a 400 names each bad field in `extra` (`[{key, message}]`); every other error gives `extra: {code, key}`."""

from __future__ import annotations

import logging
from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException

from domain.errors import (
    Conflict,
    DomainError,
    Invalid,
    ModelTimeout,
    ModelUnavailable,
    NotFound,
    StorageUnavailable,
)

log = logging.getLogger("agentkeep.http")

STATUS: dict[type[DomainError], int] = {
    Invalid: 400,
    NotFound: 404,
    Conflict: 409,
    ModelUnavailable: 502,
    StorageUnavailable: 503,
    ModelTimeout: 504,
}


def status_of(error: DomainError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def error_body(status: int, detail: str, extra: object) -> dict[str, object]:
    return {"status_code": status, "detail": detail, "extra": extra}


def domain_error_handler(_: Request[Any, Any, Any], error: DomainError) -> Response[dict[str, object]]:
    status = status_of(error)
    if isinstance(error, Invalid):
        extra: object = [{"key": e.key, "message": e.message} for e in error.errors]
    else:
        extra = {"code": error.code, "key": error.key}
    return Response(error_body(status, error.message, extra), status_code=status, media_type=MediaType.JSON)


def validation_error_handler(_: Request[Any, Any, Any], error: ValidationException) -> Response[dict[str, object]]:
    """Litestar's own 400s, with each bad field as `{key, message}` (as our domain's are)."""
    extra = error.extra if isinstance(error.extra, list) else []
    fields = [
        {"key": str(item.get("key") or ""), "message": str(item.get("message") or "").removeprefix("Value error, ")}
        for item in extra
        if isinstance(item, dict)
    ]
    return Response(error_body(400, str(error.detail), fields), status_code=400, media_type=MediaType.JSON)


def http_error_handler(_: Request[Any, Any, Any], error: HTTPException) -> Response[dict[str, object]]:
    if error.status_code == 400:  # malformed JSON and the like: a 400 always lists bad fields
        extra: object = [{"key": "", "message": str(error.detail)}]
        return Response(error_body(400, str(error.detail), extra), status_code=400, media_type=MediaType.JSON)
    code = {401: "unauthorized", 404: "not_found", 405: "method_not_allowed", 413: "body_too_large"}.get(
        error.status_code, "http_error"
    )
    return Response(
        error_body(error.status_code, str(error.detail), {"code": code, "key": None}),
        status_code=error.status_code,
        media_type=MediaType.JSON,
        headers=error.headers,
    )


def internal_error_handler(request: Request[Any, Any, Any], error: Exception) -> Response[dict[str, object]]:
    """A bug: log it with its traceback, answer a plain 500 that leaks nothing."""
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=error)
    return Response(
        error_body(500, "internal error", {"code": "internal", "key": None}),
        status_code=500,
        media_type=MediaType.JSON,
    )


EXCEPTION_HANDLERS = {
    DomainError: domain_error_handler,
    ValidationException: validation_error_handler,
    HTTPException: http_error_handler,
    Exception: internal_error_handler,
}
