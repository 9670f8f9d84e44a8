"""`GET /health`: is the database reachable, and is its schema the one this code expects?"""

from __future__ import annotations

from litestar import Response

from agentkeep.adapters.storage.sql import migrator
from agentkeep.domain.errors import StorageUnavailable
from agentkeep.entrypoints.container import Container
from agentkeep.entrypoints.version import VERSION


async def health_response(container: Container) -> Response[dict[str, object]]:
    storage = container.storage()
    probe = getattr(storage, "schema_revision", None)
    head = migrator.head()
    if probe is None:  # the in-memory storage has no schema to be behind
        revision: str | None = head
        database = "ok"
    else:
        try:
            revision = await probe()
            database = "ok"
        except StorageUnavailable:
            revision, database = None, "unreachable"
    healthy = database == "ok" and revision == head
    status = "ok" if healthy else ("unavailable" if database != "ok" else "schema_behind")
    body: dict[str, object] = {"status": status, "database": database, "schema_revision": revision, "version": VERSION}
    return Response(body, status_code=200 if healthy else 503)
