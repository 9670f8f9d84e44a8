"""The API key guard: `X-API-Key: <key>` or `Authorization: Bearer <key>`, any of the configured
keys (several, for rotation), compared in constant time. It answers 401 before the body is read."""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.handlers.base import BaseRouteHandler


def presented_key(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    key = connection.headers.get("x-api-key")
    if key:
        return key
    scheme, _, token = (connection.headers.get("authorization") or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def key_matches(presented: str, keys: Sequence[str]) -> bool:
    """Whether `presented` is one of `keys`, looking at every key whatever matches (no early exit)."""
    given = presented.encode()
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(given, key.encode())
    return matched


def api_key_guard(keys: Sequence[str]):  # type: ignore[no-untyped-def]
    """A Litestar guard accepting any of `keys` (a coroutine: Litestar runs a plain function in a
    thread, a hop per request for a few microseconds of work)."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        presented = presented_key(connection)
        if presented is None or not key_matches(presented, keys):
            raise NotAuthorizedException("a valid API key is required (X-API-Key or Authorization: Bearer)")

    return guard
