"""The security walk (issue 7, item 5), on the routes of the app itself, not on a list written here:

* every method of every `/api/v1` route answers 401 without the key, with a wrong one, with a wrong
  `Bearer` and with a prefix of the right one, and writes nothing; `/health` and `/schema*` need none;
* the key is compared with `hmac.compare_digest` against every configured key, whichever matches;
* no key, password or URL credential in a response body or a log line, when the database, the model
  or the caller fails; the CLI prints database URLs without their password;
* a body over `AGENTKEEP_MAX_BODY` is 413 on every route that takes one, a `page_size` over 100 is
  400 on every list;
* filter values that look like SQL are data: no match (or 400, or 404 for a filter naming a row),
  and every table keeps its rows;
* `serve` refuses a non-loopback address when no key is configured.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import re
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import click
import httpx
import pytest
from click.testing import CliRunner
from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.spec import Parameter
from litestar.routes import HTTPRoute
from sqlalchemy.engine import make_url

from agentkeep.entrypoints.cli import cli
from agentkeep.entrypoints.http.app import build_litestar
from tests.e2e.conftest import API_KEYS, Seed, Server, client, closed_port, make_container, serving
from tests.e2e.http_api import API, bad_fields, error, unchanged
from tests.support.openai_server import FakeOpenAIServer, Scripted

session_loop = pytest.mark.asyncio(loop_scope="session")
"""The loop the shared servers run on (tests/e2e/conftest.py); on each async test."""


def the_app() -> Litestar:
    # No database is opened to build it (only a request would).
    return build_litestar(make_container("sqlite:///never-opened.db"))


ROUTES: list[HTTPRoute] = [route for route in the_app().routes if isinstance(route, HTTPRoute)]
API_ROUTES = [route for route in ROUTES if route.path.startswith(API)]
OPEN_ROUTES = [route for route in ROUTES if not route.path.startswith(API)]
WITH_A_BODY = {"POST", "PUT", "PATCH"}


def concrete(route: HTTPRoute, seed: Seed | None = None) -> str:
    """The route's path with its parameters filled in (with the seeded rows, when given)."""
    values = {"agent_id_or_name": "assistant", "user_id": "1", "session_id_or_name": "seeded"}
    if seed is not None:
        values |= {"session_id": seed.session, "memory_id": seed.memory}
    return re.sub(r"\{(\w+):\w+\}", lambda m: values.get(m.group(1), "x"), route.path)


def handler_of(route: HTTPRoute, method: str) -> HTTPRouteHandler:
    handler, _ = route.route_handler_map[method]
    return handler


def api_requests(seed: Seed | None = None) -> list[tuple[str, str]]:
    """Every (method, path) of /api/v1, OPTIONS included."""
    return [(method, concrete(route, seed)) for route in API_ROUTES for method in sorted(route.methods)]


# --- the key -----------------------------------------------------------------------------------

WITHOUT_A_VALID_KEY: list[dict[str, str]] = [
    {},
    {"X-API-Key": "not-a-key"},
    {"Authorization": "Bearer not-a-key"},
    {"X-API-Key": API_KEYS[0][:-1]},  # a prefix of a key
    {"Authorization": f"Bearer {API_KEYS[1][:-1]}"},
    {"X-API-Key": API_KEYS[0] + API_KEYS[1]},  # a key with another after it
    {"Authorization": f"Basic {API_KEYS[0]}"},
]


def test_the_walk_sees_every_route_of_the_spec() -> None:
    # 14 paths of SPEC §5 (the session read and delete are two routes) and 4 of §9 (a run, its
    # events, its cancel, a session's runs), each with OPTIONS.
    assert len(API_ROUTES) == 18
    assert len(api_requests()) == 32 + len(API_ROUTES)
    assert {route.path for route in OPEN_ROUTES} >= {"/health", "/schema", "/schema/openapi.json"}


@session_loop
async def test_every_api_route_and_method_refuses_a_request_without_a_valid_key(
    server: Server, api: httpx.AsyncClient, everything_logged: Callable[[], str]
) -> None:
    requests = api_requests()
    async with unchanged(api), client(server.url) as anonymous:
        for headers in WITHOUT_A_VALID_KEY:
            for method, path in requests:
                response = await anonymous.request(method, path, json={"name": "intruder"}, headers=headers)
                error(response, 401, "unauthorized")
                assert "not-a-key" not in response.text
    assert "not-a-key" not in everything_logged()
    # The same requests with a key are let in (the walk above can fail).
    for method, path in requests:
        response = await api.request(method, path, json={"name": "intruder"})
        assert response.status_code != 401, (method, path)


#: What an open route answers to GET without a key, where it is not 200: the health of the shared
#: database (made without Alembic) is 503 `schema_behind`, told to anyone, and a documentation page
#: that does not exist (`/schema/x`) is 404. Every OPTIONS is 204.
OPEN_ANSWERS = {"/health": 503, "/schema/{path:str}": 404}


@session_loop
async def test_health_and_the_documentation_need_no_key(shared_server: Server) -> None:
    async with client(shared_server.url) as anonymous:
        for route in OPEN_ROUTES:
            for method in sorted(route.methods):
                response = await anonymous.request(method, concrete(route))
                expected = 204 if method == "OPTIONS" else OPEN_ANSWERS.get(route.path, 200)
                assert response.status_code == expected, (method, route.path, response.status_code)
                if (method, route.path) == ("GET", "/health"):
                    assert response.json()["status"] == "schema_behind"


@pytest.fixture
def compared(monkeypatch: pytest.MonkeyPatch) -> list[tuple[bytes, bytes]]:
    """Every comparison `hmac.compare_digest` makes from now on (it still makes them)."""
    seen: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        seen.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    return seen


@session_loop
@pytest.mark.settings(api_key="the-third-key")
async def test_the_key_is_compared_in_constant_time_with_every_configured_key(
    server: Server, compared: list[tuple[bytes, bytes]]
) -> None:
    configured = {b"the-third-key", *(key.encode() for key in API_KEYS)}
    for presented, status in [("the-third-key", 200), (API_KEYS[0], 200), (API_KEYS[1], 200), ("nope", 401)]:
        compared.clear()
        async with client(server.url, **{"X-API-Key": presented}) as http:
            assert (await http.get(f"{API}/agents")).status_code == status
        # Each configured key once, whichever matched first: no early exit to time.
        assert sorted(key for _, key in compared) == sorted(configured), presented
        assert {given for given, _ in compared} == {presented.encode()}


# --- secrets in bodies and logs ----------------------------------------------------------------

PASSWORD = "s3cret-pw"
OPENAI_KEY = "sk-test-0123456789abcdef"


@pytest.fixture
def everything_logged(caplog: pytest.LogCaptureFixture) -> Iterator[Callable[[], str]]:
    """Every log record from now on, at any level, with its traceback."""
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        yield lambda: "\n".join(caplog.text.splitlines() + [r.getMessage() for r in caplog.records])


@pytest.fixture(params=["closed-port", pytest.param("missing-database", marks=pytest.mark.postgres)])
def failing_database_url(request: pytest.FixtureRequest) -> str:
    """A PostgreSQL URL with a password that fails: nothing listens on its port, or the server
    there has no such database."""
    if request.param == "closed-port":
        return f"postgresql://ada:{PASSWORD}@127.0.0.1:{closed_port()}/agentkeep"
    server = make_url(request.getfixturevalue("postgres_url"))
    missing = server.set(username=server.username or "postgres", password=PASSWORD, database="no_such_database")
    return missing.render_as_string(hide_password=False)


@session_loop
async def test_a_failing_database_shows_its_url_without_the_password(
    failing_database_url: str, everything_logged: Callable[[], str]
) -> None:
    bodies = []
    async with serving(make_container(failing_database_url)) as url, client(url) as anonymous:
        keyed = {"X-API-Key": API_KEYS[0]}
        for method, path, body, headers, status in [
            ("GET", "/health", None, {}, 503),
            ("GET", f"{API}/agents", None, keyed, 503),
            ("POST", f"{API}/agents/assistant/run", {"message_content": "hi"}, keyed, 503),
            ("POST", f"{API}/users", {"email": "a@example.com"}, keyed, 503),
            ("GET", f"{API}/agents", None, {}, 401),  # the key is checked before the database is asked
        ]:
            response = await anonymous.request(method, path, json=body, headers=headers)
            bodies.append(response.text)
            assert response.status_code == status, (path, response.text)
    assert sum('"storage_unavailable"' in body for body in bodies) == 3
    assert "unavailable" in bodies[0]
    everything = "\n".join([*bodies, everything_logged()])
    assert PASSWORD not in everything
    assert all(key not in everything for key in API_KEYS)


ESCAPED_KEY = "".join(f"\\u{ord(c):04x}" for c in OPENAI_KEY)
"""The key as a JSON string may spell it: each character escaped."""
LEAKY_REPLIES = [  # an upstream that echoes the key back, in every shape a server might
    Scripted({"error": {"message": f"Incorrect API key provided: {OPENAI_KEY}."}}, status=401),
    Scripted(f"<html>bad key {OPENAI_KEY}</html>".encode(), status=502),
    Scripted({"error": f"rate limited for {OPENAI_KEY}"}, status=429),
    Scripted(f'{{"error": {{"message": "key {ESCAPED_KEY}"}}}}'.encode(), status=403),
    Scripted({"choices": f"not a list, {OPENAI_KEY}"}),
    Scripted(("{" + OPENAI_KEY * 50).encode(), status=500),  # cut short: no prefix of it either
]


@session_loop
@pytest.mark.settings(openai_api_key=OPENAI_KEY)
async def test_a_model_failure_never_shows_the_model_key(
    api: httpx.AsyncClient, openai: FakeOpenAIServer, everything_logged: Callable[[], str]
) -> None:
    await api.post(f"{API}/agents", json={"name": "remote", "model": "openai:small"})
    openai.script(*LEAKY_REPLIES)
    bodies = []
    for _ in LEAKY_REPLIES:
        response = await api.post(f"{API}/agents/remote/run", json={"message_content": "hi", "session_name": "s"})
        error(response, 502, "model_error")
        bodies.append(response.text)
    assert [r.headers["authorization"] for r in openai.received] == [f"Bearer {OPENAI_KEY}"] * len(LEAKY_REPLIES)
    everything = "\n".join([*bodies, everything_logged()])
    assert "HTTP 401" in everything  # the reason is told, without the key
    assert OPENAI_KEY[:12] not in everything


def test_every_cli_command_prints_a_failing_database_url_without_its_password(
    failing_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = failing_database_url
    source = f"postgresql://bob:{PASSWORD}@127.0.0.1:{closed_port()}/legacy"
    arguments = {
        "serve": [],
        "db upgrade": [],
        "db downgrade": ["base"],
        "db current": [],
        "run": ["assistant", "hello"],
        "chat": ["assistant"],
        "agents list": [],
        "agents show": ["assistant"],
        "agents create": ["helper"],
        "agents delete": ["assistant"],
        "users list": [],
        "users show": ["1"],
        "users create": ["--email", "a@example.com"],
        "users delete": ["1"],
        "sessions list": [],
        "sessions show": ["talk"],
        "sessions create": ["--user-id", "1", "--agent", "assistant"],
        "sessions delete": ["5e55e55e-0000-4000-8000-000000000001"],
        "memories list": [],
        "memories show": ["3e3e3e3e-0000-4000-8000-000000000001"],
        "memories create": ["--agent", "assistant", "--name", "mood", "--content", "calm"],
        "memories delete": ["3e3e3e3e-0000-4000-8000-000000000001"],
        "runs list": ["talk"],
        "runs show": ["7e7e7e7e-0000-4000-8000-000000000001"],
        "runs cancel": ["7e7e7e7e-0000-4000-8000-000000000001"],
        "migrate-agents": ["--source-url", source],
        "import-automagik": ["--source-url", source],
        "demo legacy": ["--profiles", "1", "--url", url],
        "demo automagik": ["--users", "1", "--url", url],
    }
    assert set(arguments) == set(leaf_commands(cli))  # a new command must join the walk
    monkeypatch.setattr("uvicorn.run", lambda *a, **k: pytest.fail("serve started on an unreachable database"))
    runner = CliRunner(env={name: None for name in os.environ if name.startswith("AGENTKEEP_")})
    for command, args in arguments.items():
        result = runner.invoke(cli, ["--database-url", url, *command.split(), *args], input="")
        assert result.exit_code != 0, (command, result.output)
        assert "Traceback" not in result.output, command
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, (command, result.stderr)
        assert lines[0].startswith("Error: "), (command, lines)
        assert ":***@127.0.0.1" in lines[0], (command, lines)  # the URL is named...
        assert PASSWORD not in result.output, (command, result.output)  # ...without its password


def leaf_commands(group: click.Group, prefix: str = "") -> Iterator[str]:
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from leaf_commands(command, f"{prefix}{name} ")
        else:
            yield f"{prefix}{name}"


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "example.com", "127.0.0.1.nip.io"])
def test_serve_refuses_a_non_loopback_address_without_a_key(
    host: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("uvicorn.run", lambda *a, **k: pytest.fail("serve started"))
    runner = CliRunner(env={name: None for name in os.environ if name.startswith("AGENTKEEP_")})
    result = runner.invoke(cli, ["serve", "--host", host, "--port", "1"])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("Error: ") and host in result.stderr
    assert list(tmp_path.iterdir()) == []


# --- limits ------------------------------------------------------------------------------------

BODY_LIMIT = 2048
JSON = {"Content-Type": "application/json"}


@session_loop
@pytest.mark.settings(max_body=BODY_LIMIT)
async def test_a_body_over_the_limit_is_413_on_every_route_that_takes_one(api: httpx.AsyncClient) -> None:
    assert (await api.post(f"{API}/agents", json={"name": "assistant"})).status_code == 201
    body = json.dumps({"name": "x" * BODY_LIMIT}).encode()

    async def chunked() -> AsyncIterator[bytes]:  # no Content-Length: the server must count
        for start in range(0, len(body), 512):
            yield body[start : start + 512]

    routes = [
        (method, concrete(route))
        for route in API_ROUTES
        for method in sorted(route.methods & WITH_A_BODY)
        if "data" in handler_of(route, method).parsed_fn_signature.parameters
    ]
    assert len(routes) == 13  # every POST, PUT and PATCH but finishing a session, which reads no body
    async with unchanged(api):
        for method, path in routes:
            for content in (body, chunked()):
                error(await api.request(method, path, content=content, headers=JSON), 413, "body_too_large")


@session_loop
async def test_a_page_size_over_100_is_400_on_every_list(shared_api: httpx.AsyncClient, shared: Seed) -> None:
    lists = [
        concrete(route, shared)
        for route in API_ROUTES
        if "GET" in route.methods and "page_size" in handler_of(route, "GET").parsed_fn_signature.parameters
    ]
    assert len(lists) == 7  # agents, bios, users, sessions, memories, a session's messages, its runs
    for path in lists:
        for size in (101, 10**6, 0, -1):
            bad_fields(await shared_api.get(path, params={"page_size": size}), "page_size")
        assert (await shared_api.get(path, params={"page_size": 100})).status_code == 200


SQL_LOOKING = [
    "' OR 1=1 --",
    "' OR '1'='1",
    "%'; DROP TABLE agents; --",
    "x'); DELETE FROM users; --",
    '" OR ""="',
    "1; SELECT pg_sleep(0)",
    "%",
    "_",
    "*",
    "\\",
    "seed%",
]


def list_filters() -> list[tuple[str, str]]:
    """(path, query parameter) of every filter of every list: the query parameters the app documents
    for its GET routes, but paging and display options."""
    not_filters = {"page", "page_size", "sort_desc", "hide_tools", "show_system_prompt", "after"}  # `after`: a cursor
    return [
        (path, parameter.name)
        for path, item in (the_app().openapi_schema.paths or {}).items()
        if path.startswith(API) and item.get is not None
        for parameter in item.get.parameters or []
        if isinstance(parameter, Parameter) and parameter.param_in == "query" and parameter.name not in not_filters
    ]


#: What a list filter answers to a value that looks like SQL, where it is not 200 with no items (SPEC
#: §2, §5): a typed filter refuses it (400 naming it); the memories' agent filter, an id or a name,
#: names the agent it cannot find (404), where the sessions' one lists nothing.
FILTER_ANSWERS = {
    (f"{API}/agents", "active_only"): 400,
    (f"{API}/sessions", "user_id"): 400,
    (f"{API}/memories", "user_id"): 400,
    (f"{API}/memories", "session_id"): 400,
    (f"{API}/memories", "read_mode"): 400,
    (f"{API}/memories", "agent_id"): 404,
}


@session_loop
async def test_filters_that_look_like_sql_stay_data(shared_api: httpx.AsyncClient, shared: Seed) -> None:
    filters = [(re.sub(r"\{\w+\}", "assistant", path), name) for path, name in list_filters()]
    assert {name for _, name in filters} == {
        "active_only",
        "email",
        "user_id",
        "agent_id",
        "session_id",
        "read_mode",
        "name",
    }
    async with unchanged(shared_api):
        for path, name in filters:
            for value in SQL_LOOKING:
                response = await shared_api.get(path, params={name: value})
                expected = FILTER_ANSWERS.get((path, name), 200)
                assert response.status_code == expected, (path, name, value, response.text)
                if response.status_code == 200:
                    assert response.json()["items"] == [], (path, name, value)  # matched nothing
                elif response.status_code == 400:
                    bad_fields(response, name)
                else:
                    error(response, 404, "not_found", name)
    # The rows are all there, found by the very filters.
    for path, params in [
        (f"{API}/users", {"email": "seed@example.com"}),
        (f"{API}/memories", {"name": "seeded", "agent_id": shared.agent}),
        (f"{API}/sessions", {"agent_id": "assistant", "user_id": shared.user}),
    ]:
        assert (await shared_api.get(path, params=params)).json()["total"] == 1, (path, params)
