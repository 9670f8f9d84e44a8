"""Schema-driven fuzzing (SPEC §8 "bad input"): schemathesis reads the OpenAPI document of a live
server on loopback and sends what it generates from it — valid requests, boundary values and
requests that break the schema — to every operation, with the API key, on SQLite and PostgreSQL.

Each case must answer no 5xx, a status code the document lists, and a body of the documented
schema; a case answered 4xx must leave every table with the rows it had (counted in the database
itself, not through the API under test). The database lives for the whole fuzz and holds one
agent (with a bio and profile metadata), user, session (with two messages) and memory, under ids
that the generated paths and bodies use half of the time, so that requests reach real rows and not
only 404s. A case that deletes one of them is followed by putting it back.

Each operation gets schemathesis's examples, coverage (boundaries, missing and wrong-typed fields)
and fuzzing phases; `AGENTKEEP_FUZZ_EXAMPLES` sets the fuzzing phase's examples per operation
(default 20: ~2,400 cases per database, about a minute). The count is shown and must reach
`MIN_CASES`.

The schemathesis pytest plugin's lazy loader (`schemathesis.pytest.from_fixture`) does not work
with pytest 9.2 (it reads `Node._nodeid`, gone): the document is loaded when the module is, from the
app through ASGI, and the cases are sent to the live server with `case.call(base_url=...)`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis import checks

from agentkeep.adapters.storage.sql import migrator
from agentkeep.adapters.storage.sql.tables import metadata
from agentkeep.domain.ids import LEGACY_NAMESPACE
from agentkeep.entrypoints.http.app import create_app
from tests.e2e.conftest import API_KEYS, make_container, serving

EXAMPLES = int(os.environ.get("AGENTKEEP_FUZZ_EXAMPLES", "20"))
MIN_CASES = 1000
TABLES = tuple(table.name for table in metadata.sorted_tables)
"""Every table of the schema: users, agents, bios, profile metadata, sessions, messages, memories,
system prompts, idempotency keys."""

KEY = {"X-API-Key": API_KEYS[0]}
AGENT = "0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f"
USER = str(uuid.uuid5(LEGACY_NAMESPACE, "user:1"))
SESSION = "5e55e55e-0000-4000-8000-000000000001"
MEMORY = "3e3e3e3e-0000-4000-8000-000000000001"
SEEDED = {
    "agent_id_or_name": [AGENT, "assistant"],
    "user_id": [USER, "1"],
    "session_id_or_name": [SESSION, "seeded"],
    "session_id": [SESSION],
    "memory_id": [MEMORY],
}
"""The seeded rows by each path parameter that names one (ids and names)."""
IN_BODIES = {"agent_id": [AGENT, "assistant"], "user_id": [USER, 1], "session_id": [SESSION]}


@dataclass
class FuzzServer:
    """A server of the fuzz's own on a thread (with its own event loop: the schemathesis calls
    block), and a way to count the rows of its database."""

    url: str
    kind: str
    count_rows: Callable[[], dict[str, int]]
    cases: int = 0
    operations: set[str] = field(default_factory=set)
    statuses: Counter[int] = field(default_factory=Counter)

    def record(self, case: Any, status: int) -> None:
        self.cases += 1
        self.operations.add(case.operation.label)
        self.statuses[status] += 1

    def reseed(self) -> None:
        """Put back what a DELETE took of the seeded rows."""
        asyncio.run(_seed_at(self.url))

    def summary(self) -> str:
        answers = ", ".join(f"{status}: {n}" for status, n in sorted(self.statuses.items()))
        return f"{self.kind}: {self.cases} cases over {len(self.operations)} operations ({answers})"


async def seed(http: httpx.AsyncClient) -> None:
    """Create whatever of the seeded rows is missing (a 409 says it is there)."""
    for path, body in (
        ("/agents", {"id": AGENT, "name": "assistant", "system_prompt": "You are {{seeded}}."}),
        ("/users", {"id": 1, "email": "seed@example.com"}),
        ("/sessions", {"id": SESSION, "user_id": USER, "agent_id": AGENT, "name": "seeded"}),
        ("/memories", {"id": MEMORY, "name": "seeded", "content": "kind", "agent_id": AGENT}),
        (f"/agents/{AGENT}/bios", {"persona_bio": "A seeded agent."}),
    ):
        response = await http.post(f"/api/v1{path}", json=body)
        assert response.status_code in (201, 404, 409), response.text
    await http.put(f"/api/v1/agents/{AGENT}/profile-metadata", json={"followers_count": 1})
    await http.post(f"/api/v1/agents/{AGENT}/run", json={"message_content": "hi", "session_id": SESSION})


async def _seed_at(url: str) -> None:
    async with httpx.AsyncClient(base_url=url, headers=KEY) as http:
        await seed(http)


@contextlib.contextmanager
def server_thread(kind: str, database_url: str, count_rows: Callable[[], dict[str, int]]) -> Iterator[FuzzServer]:
    """The app on `database_url`, migrated as `agentkeep serve` does, served by uvicorn on a loop of
    its own thread (schemathesis's calls block), seeded."""
    migrator.upgrade(database_url)
    started: Future[tuple[str, Callable[[], None]]] = Future()

    async def serve() -> None:
        stopped = asyncio.Event()
        async with serving(make_container(database_url)) as url:
            await _seed_at(url)
            loop = asyncio.get_running_loop()
            started.set_result((url, lambda: loop.call_soon_threadsafe(stopped.set)))
            await stopped.wait()

    def main() -> None:
        try:
            asyncio.run(serve())
        except BaseException as e:
            if not started.done():
                started.set_exception(e)
            raise

    thread = threading.Thread(target=main, name="fuzz-server", daemon=True)
    thread.start()
    url, stop = started.result(timeout=60)
    try:
        yield FuzzServer(url, kind, count_rows)
    finally:
        stop()
        thread.join(timeout=30)


def sqlite_counter(path: Path) -> Callable[[], dict[str, int]]:
    def count() -> dict[str, int]:
        with contextlib.closing(sqlite3.connect(path)) as db:
            return {table: db.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] for table in TABLES}

    return count


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fuzz_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzServer]:
    """A server of the fuzz's own, on a new SQLite file or a new PostgreSQL database."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("fuzz") / "agentkeep.db"
        with server_thread("sqlite", f"sqlite:///{path}", sqlite_counter(path)) as server:
            yield server
        return
    postgres_url: str = request.getfixturevalue("postgres_url")
    name = f"fuzz_{uuid.uuid4().hex[:12]}"
    dsn = postgres_url.replace("postgresql+asyncpg://", "postgresql://").replace("postgres://", "postgresql://")
    loop = asyncio.new_event_loop()
    admin = loop.run_until_complete(asyncpg.connect(dsn))
    loop.run_until_complete(admin.execute(f'CREATE DATABASE "{name}"'))
    database_url = f"{postgres_url.rpartition('/')[0]}/{name}"
    connection = loop.run_until_complete(asyncpg.connect(f"{dsn.rpartition('/')[0]}/{name}"))
    query = " UNION ALL ".join(f"SELECT '{table}', count(*) FROM \"{table}\"" for table in TABLES)

    def count() -> dict[str, int]:
        return {table: n for table, n in loop.run_until_complete(connection.fetch(query))}

    try:
        with server_thread("postgres", database_url, count) as server:
            yield server
    finally:
        loop.run_until_complete(connection.close())
        loop.run_until_complete(admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        loop.run_until_complete(admin.close())
        loop.close()


# The document the app serves, read through ASGI: the cases are generated when pytest collects
# them, before any server runs (`test_the_live_servers_serve_the_fuzzed_document` checks that the
# live servers serve this very document).
_served = schemathesis.openapi.from_asgi("/schema/openapi.json", create_app(make_container("sqlite:///:memory:")))
schema = schemathesis.openapi.from_dict(_served.raw_schema)  # not bound to that app: the cases go to a live server


@schema.hook
def before_generate_path_parameters(context: Any, strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(strategy, strategy.flatmap(_with_seeded(SEEDED)))


@schema.hook
def before_generate_body(context: Any, strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(strategy, strategy.flatmap(_with_seeded(IN_BODIES)))


def _with_seeded(values: dict[str, list[Any]]) -> Callable[[Any], st.SearchStrategy[Any]]:
    """Replace, in a generated object, each field that names a seeded row by one of its ids."""

    def replace(generated: Any) -> st.SearchStrategy[Any]:
        if not isinstance(generated, dict) or not values.keys() & generated.keys():
            return st.just(generated)
        return st.fixed_dictionaries(
            {k: st.sampled_from(values[k]) if k in values else st.just(v) for k, v in generated.items()}
        )

    return replace


CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_fuzz(case: Any, fuzz_server: FuzzServer) -> None:
    before = fuzz_server.count_rows()
    response = case.call(base_url=fuzz_server.url, headers=KEY)
    fuzz_server.record(case, response.status_code)
    case.validate_response(response, checks=CHECKS)
    if 400 <= response.status_code < 500:
        assert fuzz_server.count_rows() == before, f"{case.method} {case.formatted_path} wrote rows and answered 4xx"
    elif case.method == "DELETE":
        fuzz_server.reseed()


def test_the_fuzz_sent_enough_cases(fuzz_server: FuzzServer, capsys: pytest.CaptureFixture[str]) -> None:
    """Runs after every operation's fuzz on this database (pytest keeps the tests of a module
    fixture's parameter together, in file order), and shows the count even when output is captured."""
    if len(fuzz_server.operations) < len(list(schema.get_all_operations())):
        pytest.skip("only some operations were fuzzed (-k)")
    with capsys.disabled():
        print(f"\nfuzzed {fuzz_server.summary()}")
    assert fuzz_server.cases >= MIN_CASES, fuzz_server.summary()


def test_the_live_servers_serve_the_fuzzed_document(fuzz_server: FuzzServer) -> None:
    assert httpx.get(f"{fuzz_server.url}/schema/openapi.json").json() == schema.raw_schema
