"""`Idempotency-Key` (SPEC §5 "Retries") through the real server, on SQLite and PostgreSQL: a retry
answers the first response and writes nothing; another request with the key, or one while the
first still runs, is 409; keys expire; a crashed request's claim does not hold the key forever."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import httpx
import pytest

from agentkeep.application.idempotency import HEADER, KeyedRequest
from agentkeep.domain.errors import StorageUnavailable
from agentkeep.domain.idempotency import Answer, IdempotencyRecord
from agentkeep.domain.models import Message, Run
from agentkeep.domain.patches import RunPatch
from agentkeep.domain.ports import Storage
from agentkeep.domain.values import utcnow
from agentkeep.entrypoints.container import Container
from tests.e2e.conftest import API_KEYS, Database, client, closed_port, running
from tests.e2e.http_api import API, agent, bad_fields, error, listed, read_session, run, unchanged, user
from tests.support.openai_server import FakeOpenAIServer, Scripted, completion

pytestmark = pytest.mark.asyncio(loop_scope="session")

RUN_ROUTE = "POST /api/v1/agents/{agent_id_or_name}/run"
USERS_ROUTE = "POST /api/v1/users"
REPLAYED = "idempotent-replayed"
JSON = "application/json"


def keyed(key: str) -> dict[str, str]:
    return {HEADER: key}


async def record(container: Container, route: str, key: str) -> IdempotencyRecord | None:
    storage: Storage = container.storage()
    return await storage.run(lambda uow: uow.idempotency_keys.get(route, key))


async def put_record(container: Container, held: IdempotencyRecord) -> None:
    """A record as another process would have left it (a claim it holds, or its answer)."""
    # Claimed as if far in the future: whatever the key held before has expired by then.
    await container.storage().run(lambda uow: uow.idempotency_keys.claim(held, utcnow() + timedelta(days=365)))


def replay_of(again: httpx.Response, first: httpx.Response) -> None:
    """`again` is `first` replayed: the same status and the very same body."""
    assert again.status_code == first.status_code, again.text
    assert again.content == first.content
    assert again.headers.get(REPLAYED) == "true"


async def test_each_create_answers_a_retry_with_its_first_response_and_creates_nothing_more(
    api: httpx.AsyncClient,
) -> None:
    assistant, owner = await agent(api), await user(api)
    memory = {"content": "warm", "agent_id": "assistant"}
    # Bodies that could be created twice (a retry done again would add a row, not fail), and
    # for each another body for the same key.
    creates: dict[str, tuple[Any, Any]] = {
        "/agents": ({"name": "helper"}, {"name": "other"}),
        "/agents/assistant/bios": (
            {"persona_bio": "Helps.", "persona_bio_source": "user_provided"},
            {"persona_bio": "Helps more.", "persona_bio_source": "user_provided"},
        ),
        "/users": ({"user_data": {"plan": "pro"}}, {"user_data": {"plan": "free"}}),
        "/sessions": (
            {"user_id": owner["id"], "agent_id": assistant["id"]},
            {"user_id": owner["id"], "agent_id": assistant["id"], "platform": "cli"},
        ),
        "/memories": ({"name": "tone", **memory}, {"name": "mood", **memory}),
        "/memories/batch": ([{"name": "a", **memory}, {"name": "b", **memory}], [{"name": "c", **memory}]),
    }
    for path, (body, other_body) in creates.items():
        key = keyed(f"create {path}")
        first = await api.post(f"{API}{path}", json=body, headers=key)
        assert first.status_code == 201, (path, first.text)
        assert REPLAYED not in first.headers

        async with unchanged(api):
            again = await api.post(f"{API}{path}", json=body, headers=key)
            other = await api.post(f"{API}{path}", json=other_body, headers=key)

        replay_of(again, first)
        error(other, 409, "idempotency_key_reused", HEADER)


async def test_a_keyed_create_answers_what_a_read_of_it_answers(api: httpx.AsyncClient) -> None:
    created = await api.post(f"{API}/agents", json={"name": "helper", "config": {"t": 0.5}}, headers=keyed("a"))

    read = await api.get(f"{API}/agents/{created.json()['id']}")

    assert created.status_code == 201
    assert created.headers["content-type"] == "application/json"
    assert created.json() == read.json()


async def test_a_retried_run_answers_the_first_reply_and_stores_no_message(api: httpx.AsyncClient) -> None:
    assistant = await agent(api)
    first = await run(api, "assistant", "hello", headers=keyed("run-1"), session_name="talk")
    assert first.status_code == 200, first.text

    async with unchanged(api):
        again = await run(api, "assistant", "hello", headers=keyed("run-1"), session_name="talk")
        other_body = await run(api, "assistant", "bye", headers=keyed("run-1"), session_name="talk")
        # The same route and body, another path: another request.
        other_path = await run(api, assistant["id"], "hello", headers=keyed("run-1"), session_name="talk")

    replay_of(again, first)
    error(other_body, 409, "idempotency_key_reused", HEADER)
    error(other_path, 409, "idempotency_key_reused", HEADER)
    assert [m["text_content"] for m in (await read_session(api, "talk"))["messages"]["items"]] == ["hello"] * 2
    # The same key on another route is another key.
    assert (await api.post(f"{API}/users", json={}, headers=keyed("run-1"))).status_code == 201


async def test_concurrent_runs_with_one_key_run_once(api: httpx.AsyncClient) -> None:
    await agent(api)

    responses = await asyncio.gather(*(run(api, "assistant", "once", headers=keyed("crowd")) for _ in range(10)))

    answered = [r for r in responses if r.status_code == 200]
    assert {r.status_code for r in responses} <= {200, 409}, [r.text for r in responses]
    assert len([r for r in answered if REPLAYED not in r.headers]) == 1
    assert len({r.content for r in answered}) == 1
    for refused in (r for r in responses if r.status_code == 409):
        error(refused, 409, "idempotency_key_in_progress", HEADER)
    # One run: one user, one session, its two messages.
    assert (await listed(api, "/users"))["total"] == 1
    sessions = (await listed(api, "/sessions"))["items"]
    assert len(sessions) == 1
    assert (await read_session(api, sessions[0]["id"]))["messages"]["total"] == 2
    replay_of(await run(api, "assistant", "once", headers=keyed("crowd")), answered[0])


async def test_a_retry_while_the_first_run_is_at_the_model_waits_for_its_answer(
    api: httpx.AsyncClient, openai: FakeOpenAIServer
) -> None:
    # The run is on its key from its first unit of work on: a retry finds it and answers what it
    # answers once it ends (SPEC §9.7), without a second model call.
    await agent(api, "slow", model="openai:small")
    openai.script(Scripted(completion("slowly"), delay=0.6))
    first = asyncio.create_task(run(api, "slow", "wait", headers=keyed("slow"), session_name="s"))
    while not openai.received:  # noqa: ASYNC110 - the fake server records from its own thread
        await asyncio.sleep(0.01)

    during = await run(api, "slow", "wait", headers=keyed("slow"), session_name="s")

    answered = await first
    assert answered.status_code == 200, answered.text
    replay_of(during, answered)
    replay_of(await run(api, "slow", "wait", headers=keyed("slow"), session_name="s"), answered)
    assert len(openai.received) == 1
    assert (await read_session(api, "s"))["messages"]["total"] == 2


@pytest.mark.settings(openai_base_url=f"http://127.0.0.1:{closed_port()}/v1")
async def test_a_run_whose_model_failed_is_replayed_and_keeps_one_user_message(api: httpx.AsyncClient) -> None:
    await agent(api, "remote", model="openai:x")
    first = await run(api, "remote", "there?", headers=keyed("down"), session_name="down")
    error(first, 502, "model_error")

    again = await run(api, "remote", "there?", headers=keyed("down"), session_name="down")

    replay_of(again, first)
    assert (await read_session(api, "down"))["messages"]["total"] == 1  # the first run's user message
    # A new key runs again (and keeps its own user message).
    error(await run(api, "remote", "there?", headers=keyed("down 2"), session_name="down"), 502, "model_error")
    assert (await read_session(api, "down"))["messages"]["total"] == 2


class _RepliesFail:
    """The test's storage, but storing a reply fails with `error`."""

    def __init__(self, storage: Storage, error: Exception) -> None:
        self._storage = storage
        self._error = error

    def __getattr__(self, name: str) -> Any:
        return getattr(self._storage, name)

    async def finish_run(self, run: Run, patch: RunPatch, token: str, reply: Message | None = None) -> bool:
        if reply is not None:
            raise self._error
        return await self._storage.finish_run(run, patch, token)


@pytest.mark.parametrize(
    ("failure", "status", "code"),
    [(StorageUnavailable("the database failed"), 503, "storage_unavailable"), (RuntimeError("a bug"), 500, "internal")],
)
async def test_a_run_whose_reply_was_not_stored_is_replayed_and_keeps_one_user_message(
    api: httpx.AsyncClient, container: Container, failure: Exception, status: int, code: str
) -> None:
    await agent(api)
    container.storage.override(_RepliesFail(container.storage(), failure))
    try:
        first = await run(api, "assistant", "there?", headers=keyed("lost"), session_name="lost")
        again = await run(api, "assistant", "there?", headers=keyed("lost"), session_name="lost")
    finally:
        container.storage.reset_last_overriding()

    error(first, status, code)
    replay_of(again, first)
    assert (await read_session(api, "lost"))["messages"]["total"] == 1  # the first run's user message
    # The session was given back: a new key runs.
    assert (await run(api, "assistant", "there?", headers=keyed("lost 2"), session_name="lost")).status_code == 200


async def test_a_request_answered_4xx_leaves_its_key_free(api: httpx.AsyncClient) -> None:
    memory = {"name": "m", "content": 1, "agent_id": "later"}
    error(await run(api, "later", "hi", headers=keyed("early")), 404, "not_found")
    error(await api.post(f"{API}/memories", json=memory, headers=keyed("m")), 404)

    await agent(api, "later")

    assert (await run(api, "later", "hi", headers=keyed("early"))).status_code == 200
    created = await api.post(f"{API}/memories", json=memory, headers=keyed("m"))
    assert created.status_code == 201
    assert REPLAYED not in created.headers


async def test_a_bad_key_is_400_naming_the_header_and_writes_nothing(api: httpx.AsyncClient) -> None:
    await agent(api)
    async with unchanged(api):
        for bad in ("", "k" * 256):
            bad_fields(await run(api, "assistant", headers=keyed(bad)), HEADER)
            bad_fields(await api.post(f"{API}/users", json={}, headers=keyed(bad)), HEADER)
    assert (await api.post(f"{API}/users", json={}, headers=keyed("k" * 255))).status_code == 201


async def test_a_claim_left_by_a_crashed_request_holds_the_key_only_until_it_expires(
    api: httpx.AsyncClient, container: Container
) -> None:
    body = json.dumps({"email": "after@example.com"}).encode()
    fingerprint = KeyedRequest.of(USERS_ROUTE, "k", f"{API}/users", body).fingerprint
    headers = {**keyed("k"), "Content-Type": JSON}
    now = utcnow()
    await put_record(container, IdempotencyRecord(USERS_ROUTE, "k", fingerprint, now + timedelta(minutes=2), "t" * 32))

    async with unchanged(api):
        error(await api.post(f"{API}/users", content=body, headers=headers), 409, "idempotency_key_in_progress")

    await put_record(container, IdempotencyRecord(USERS_ROUTE, "k", fingerprint, now - timedelta(seconds=1), "t" * 32))
    created = await api.post(f"{API}/users", content=body, headers=headers)
    assert created.status_code == 201, created.text
    assert (await listed(api, "/users"))["total"] == 1


async def test_an_answer_kept_by_another_worker_is_replayed(api: httpx.AsyncClient, container: Container) -> None:
    body = b'{"user_data": {}}'
    fingerprint = KeyedRequest.of(USERS_ROUTE, "k", f"{API}/users", body).fingerprint
    kept = IdempotencyRecord(USERS_ROUTE, "k", fingerprint, utcnow() + timedelta(hours=1), None, Answer(201, "[1]"))
    await put_record(container, kept)

    async with unchanged(api):
        replayed = await api.post(f"{API}/users", content=body, headers={**keyed("k"), "Content-Type": JSON})

    assert (replayed.status_code, replayed.json()) == (201, [1])
    assert replayed.headers.get(REPLAYED) == "true"


@pytest.mark.settings(idempotency_ttl=0.2)
async def test_a_key_is_new_again_once_its_ttl_has_passed(api: httpx.AsyncClient, container: Container) -> None:
    before = utcnow()
    first = await api.post(f"{API}/users", json={}, headers=keyed("short"))
    after = utcnow()
    kept = await record(container, USERS_ROUTE, "short")
    assert kept is not None
    assert before + timedelta(seconds=0.2) <= kept.expires_at <= after + timedelta(seconds=0.2)
    while utcnow() <= kept.expires_at:  # noqa: ASYNC110 - waiting for the clock, not for a task
        await asyncio.sleep(0.05)

    again = await api.post(f"{API}/users", json={}, headers=keyed("short"))

    assert again.status_code == 201
    assert REPLAYED not in again.headers
    assert again.json()["id"] != first.json()["id"]
    assert (await listed(api, "/users"))["total"] == 2


async def test_expired_keys_are_deleted_by_a_later_claim_and_never_by_a_request_without_a_key(
    api: httpx.AsyncClient, container: Container
) -> None:
    await agent(api)
    expired = IdempotencyRecord(USERS_ROUTE, "old", "f" * 64, utcnow() - timedelta(seconds=1), None, Answer(201, "{}"))
    await put_record(container, expired)

    assert (await api.post(f"{API}/users", json={})).status_code == 201
    assert (await run(api, "assistant")).status_code == 200
    assert await record(container, USERS_ROUTE, "old") == expired  # untouched: no key, no keys table

    assert (await run(api, "assistant", headers=keyed("new"))).status_code == 200
    assert await record(container, USERS_ROUTE, "old") is None


async def test_keys_hold_across_servers_sharing_the_database(api: httpx.AsyncClient, database: Database) -> None:
    await agent(api)
    async with running(database) as other_server, client(other_server.url, **{"X-API-Key": API_KEYS[1]}) as other:
        first = await api.post(f"{API}/users", json={}, headers=keyed("u"))
        replay_of(await other.post(f"{API}/users", json={}, headers=keyed("u")), first)

        both = [api, other] * 5
        responses = await asyncio.gather(*(run(http, "assistant", "x", headers=keyed("r")) for http in both))

    assert {r.status_code for r in responses} <= {200, 409}, [r.text for r in responses]
    assert len([r for r in responses if r.status_code == 200 and REPLAYED not in r.headers]) == 1
    assert (await listed(api, "/sessions"))["total"] == 1
    assert (await listed(api, "/users"))["total"] == 2  # the keyed create's, and the run's


async def test_the_openapi_document_gives_the_header_and_the_409_on_the_keyed_routes(
    shared_api: httpx.AsyncClient,
) -> None:
    document = (await shared_api.get("/schema/openapi.json")).json()
    keyed_routes = {
        "/api/v1/agents/{agent_id_or_name}/run",
        "/api/v1/agents",
        "/api/v1/agents/{agent_id_or_name}/bios",
        "/api/v1/users",
        "/api/v1/sessions",
        "/api/v1/memories",
        "/api/v1/memories/batch",
    }
    for path, item in document["paths"].items():
        for method, operation in item.items():
            headers = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
            if method == "post" and path in keyed_routes:
                assert HEADER in headers, path
                conflict = operation["responses"]["409"]
                assert "idempotency_key_reused" in conflict["description"]
                assert "idempotency_key_in_progress" in conflict["description"]
            else:
                assert HEADER not in headers, (method, path)
