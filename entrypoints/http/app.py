"""The Litestar application: every route of SPEC §5 under `/api/v1`, behind the API key guard, plus
`GET /health` and the OpenAPI document at `/schema/openapi.json`.

`create_app()` is the factory uvicorn imports (each worker builds its own container from the
environment): a server's app, which tunes the collector for the process, logs through the root
logger and closes the storage when it stops. `create_test_app(container)` is the same routes for a
test: it leaves the collector, the logging set-up and the storage as it found them, so that a suite
may start a thousand of them and look at the storage after each.
"""

from __future__ import annotations

import gc
from typing import Any

from litestar import Litestar, Router, get
from litestar.di import Provide
from litestar.logging.config import LoggingConfig
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.plugins import ScalarRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.types import ASGIApp

from agentkeep.entrypoints.container import Container
from agentkeep.entrypoints.http.agents import AgentRoutes
from agentkeep.entrypoints.http.auth import api_key_guard
from agentkeep.entrypoints.http.errors import EXCEPTION_HANDLERS, document_errors
from agentkeep.entrypoints.http.logs import configure_logging, logs_flushed
from agentkeep.entrypoints.http.memories import MemoryRoutes
from agentkeep.entrypoints.http.middleware import request_id_and_log
from agentkeep.entrypoints.http.runs import RunRecordRoutes, RunRoutes
from agentkeep.entrypoints.http.schemas import Health, overlapping_unions_as_any_of
from agentkeep.entrypoints.http.services import Services
from agentkeep.entrypoints.http.sessions import SessionRoutes
from agentkeep.entrypoints.http.users import UserRoutes
from agentkeep.entrypoints.version import VERSION

YOUNG_GC_THRESHOLD = 50_000
"""Container objects allocated (net) before the collector's youngest generation is collected."""


def build_litestar(container: Container, *, serving: bool = True) -> Litestar:
    """The Litestar app on `container` (without the outer request-id/log middleware); with
    `serving`, a server's: the collector tuned, logs flushed, the storage closed at shutdown."""
    settings = container.settings()

    def services() -> Services:
        # Asked of the container per request, so that a provider it overrides takes effect.
        return Services(
            run_agent=container.run_agent(),
            runs=container.runs(),
            agents=container.agents(),
            users=container.users(),
            sessions=container.sessions(),
            memories=container.memories(),
            idempotency=container.idempotency(),
        )

    api = Router(
        path="/api/v1",
        route_handlers=[RunRoutes, RunRecordRoutes, AgentRoutes, UserRoutes, SessionRoutes, MemoryRoutes],
        guards=[api_key_guard([key.get_secret_value() for key in settings.api_keys])],
        dependencies={"services": Provide(services, sync_to_thread=False)},
        security=[{"apiKey": []}, {"bearer": []}],
    )

    @get(
        "/health",
        summary="Liveness and schema check",
        tags=["health"],
        responses={
            200: ResponseSpec(
                Health, description="The database answers; its schema is the code's.", generate_examples=False
            ),
            503: ResponseSpec(Health, description="The database is unreachable, or behind.", generate_examples=False),
        },
    )
    async def health() -> Any:
        from agentkeep.entrypoints.http.health import health_response

        return await health_response(container)

    def complete_the_document(app: Litestar) -> None:
        # Built here, not on the first request for it: the document is then frozen with the rest.
        document_errors(app.openapi_schema)
        overlapping_unions_as_any_of(app.openapi_schema)

    def freeze_startup_objects() -> None:
        # Everything built so far (modules, schemas, routes) lives as long as the process: keep
        # it out of the collector's reach, or each full collection walks it all (100+ ms pauses
        # under load, measured).
        gc.collect()
        gc.freeze()
        # The young generation collected after 50,000 more container objects, not 700: under load
        # the objects of the requests in flight (a history page is some 300) reached 700 every
        # millisecond or so, and each collection walked them and moved them on to be walked again
        # (SQLite session runs, wrk -c32: 6,500 young and 600 middle collections in 14 s, 1.8 s of
        # the process; with 50,000: 4 and none, 0.07 s; 520-600 -> 680-700 requests/s, p99
        # 124-165 -> 96-104 ms). A request's objects are freed by their counts when it ends; only
        # cycles wait for a collection, and 50,000 of them still start one.
        gc.set_threshold(YOUNG_GC_THRESHOLD, *gc.get_threshold()[1:])

    async def close_storage() -> None:
        await container.storage().close()
        await container.models().aclose()

    return Litestar(
        route_handlers=[api, health],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        request_max_body_size=settings.max_body,
        on_startup=[complete_the_document, freeze_startup_objects] if serving else [complete_the_document],
        on_shutdown=[close_storage] if serving else [],
        lifespan=[logs_flushed] if serving else [],
        # The root logger is ours (`configure_logging`): Litestar keeps its own logger only. A
        # test app configures none: Litestar's would start a queue listener thread per app.
        logging_config=LoggingConfig(configure_root_logger=False) if serving else None,
        openapi_config=OpenAPIConfig(
            title="agentkeep",
            version=VERSION,
            description="Keep and run AI agents' state. Every /api/v1 route needs the API key.",
            path="/schema",
            render_plugins=[ScalarRenderPlugin(), SwaggerRenderPlugin(path="/swagger")],
            components=Components(
                security_schemes={
                    "apiKey": SecurityScheme(type="apiKey", name="X-API-Key", security_scheme_in="header"),
                    "bearer": SecurityScheme(type="http", scheme="bearer"),
                }
            ),
        ),
        debug=False,
    )


def create_app(container: Container | None = None) -> ASGIApp:
    """The ASGI app: Litestar wrapped in the request-id and access-log middleware."""
    container = container or Container()
    settings = container.settings()
    configure_logging()
    return request_id_and_log(build_litestar(container), json_logs=settings.log_format == "json")


def create_test_app(container: Container | None = None) -> ASGIApp:
    """The same app for a test, on `container` (by default `Container.for_tests()`: in memory):
    no `gc.freeze()`, no threshold change, the root logger untouched, and the storage left open
    (whoever made it closes it) so that a test can read what a request stored."""
    container = container or Container.for_tests()
    settings = container.settings()
    return request_id_and_log(build_litestar(container, serving=False), json_logs=settings.log_format == "json")
