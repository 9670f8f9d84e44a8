"""The one map from domain errors to HTTP answers, in Litestar's shape `{status_code, detail, extra}`:
a 400 names each bad field in `extra` (`[{key, message}]`); every other error gives `extra: {code, key}`.

`document_errors` writes the same answers into the OpenAPI document, so that a client (or a fuzzer)
knows every status code an operation can answer and the body that comes with it.
"""

from __future__ import annotations

import logging
from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.spec import OpenAPI, OpenAPIMediaType, OpenAPIResponse, OpenAPIType, Operation, Reference, Schema

from agentkeep.domain.errors import (
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
        extra = {"code": error.code, "key": error.key, **error.details}
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


#: The body of a 500: it leaks nothing.
INTERNAL_ERROR = error_body(500, "internal error", {"code": "internal", "key": None})


def internal_error_handler(request: Request[Any, Any, Any], error: Exception) -> Response[dict[str, object]]:
    """A bug: log it with its traceback, answer a plain 500 that leaks nothing."""
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=error)
    return Response(INTERNAL_ERROR, status_code=500, media_type=MediaType.JSON)


EXCEPTION_HANDLERS = {
    DomainError: domain_error_handler,
    ValidationException: validation_error_handler,
    HTTPException: http_error_handler,
    Exception: internal_error_handler,
}


_STRING, _INTEGER = Schema(type=OpenAPIType.STRING), Schema(type=OpenAPIType.INTEGER)
ERROR_SCHEMAS = {
    "FieldErrors": Schema(
        type=OpenAPIType.OBJECT,
        description="A 400: `extra` names each bad field (`key` is a dotted path, empty for the whole body).",
        properties={
            "status_code": _INTEGER,
            "detail": _STRING,
            "extra": Schema(
                type=OpenAPIType.ARRAY,
                items=Schema(
                    type=OpenAPIType.OBJECT,
                    properties={"key": _STRING, "message": _STRING},
                    required=["key", "message"],
                    additional_properties=False,
                ),
            ),
        },
        required=["status_code", "detail", "extra"],
        additional_properties=False,
    ),
    "Error": Schema(
        type=OpenAPIType.OBJECT,
        description="Any error but a 400: `extra.code` says which, `extra.key` what is to blame (or null).",
        properties={
            "status_code": _INTEGER,
            "detail": _STRING,
            "extra": Schema(
                type=OpenAPIType.OBJECT,
                properties={"code": _STRING, "key": Schema(one_of=[_STRING, Schema(type=OpenAPIType.NULL)])},
                required=["code", "key"],
                additional_properties=False,
            ),
        },
        required=["status_code", "detail", "extra"],
        additional_properties=False,
    ),
}
_ROW_PARAMETERS = {"agent_id", "user_id", "session_id"}
"""Query parameters that name a row: one that names nothing is a 404."""


def _error(description: str, schema: str = "Error") -> OpenAPIResponse:
    content = {MediaType.JSON.value: OpenAPIMediaType(schema=Reference(f"#/components/schemas/{schema}"))}
    return OpenAPIResponse(description=description, content=content)


def errors_of(path: str, method: str, operation: Operation) -> dict[str, OpenAPIResponse]:
    """The error answers an operation can give, by the rules of `EXCEPTION_HANDLERS` and SPEC §5."""
    parameters = [p for p in operation.parameters or [] if not isinstance(p, Reference)]
    in_path = any(p.param_in == "path" for p in parameters)
    names_a_row = any(p.param_in == "query" and p.name in _ROW_PARAMETERS for p in parameters)
    body = operation.request_body is not None
    errors: dict[str, OpenAPIResponse] = {}
    if parameters or body:
        errors["400"] = _error("Invalid input: `extra` lists each bad field.", "FieldErrors")
    if not path.startswith("/api/"):
        return errors
    errors["401"] = _error("No valid API key (`X-API-Key` or `Authorization: Bearer`): `unauthorized`.")
    if in_path or names_a_row or body:
        errors["404"] = _error("What the path, the query or the body names does not exist: `not_found`.")
    if method in {"post", "put", "patch"}:
        errors["409"] = _error(
            "A conflict: `duplicate`, `agent_inactive`, `session_owner_mismatch`, `session_finished`, `session_busy`."
        )
    if body:
        errors["413"] = _error("The body is over `AGENTKEEP_MAX_BODY`: `body_too_large`.")
    if path.endswith("/run"):
        errors["502"] = _error("The model failed (the user message is kept): `model_error`.")
        errors["504"] = _error("The model did not answer in time (the user message is kept): `model_timeout`.")
    errors["503"] = _error("The database is unreachable: `storage_unavailable`.")
    return errors


def document_errors(openapi: OpenAPI) -> None:
    """Add to each operation of `openapi` the errors it can answer (see `errors_of`), with their
    body schemas. Called once the app has built its document (`app.complete_the_document`)."""
    if openapi.components.schemas is None:
        openapi.components.schemas = {}
    openapi.components.schemas.update(ERROR_SCHEMAS)
    for path, item in (openapi.paths or {}).items():
        for method in ("get", "put", "post", "delete", "patch"):
            operation: Operation | None = getattr(item, method)
            if operation is None:
                continue
            # A route's own answers are kept, but for the 400: that is Litestar's, whose `extra` is
            # any object; `validation_error_handler` makes it the list that `FieldErrors` says.
            own = {status: answer for status, answer in (operation.responses or {}).items() if status != "400"}
            operation.responses = dict(sorted({**errors_of(path, method, operation), **own}.items()))
