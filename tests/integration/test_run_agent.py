"""run-agent (SPEC §3) through the use case, on the memory, SQLite and PostgreSQL storages."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any

import pytest

from agentkeep.adapters.models.echo import EchoModel
from agentkeep.adapters.storage.sql.database import PostgresStorage
from agentkeep.application.run_agent import RunAgent, RunRequest
from agentkeep.domain import (
    Agent,
    AgentBio,
    Conflict,
    Memory,
    Message,
    ModelUnavailable,
    NotFound,
    Paging,
    PersonaBioSource,
    Role,
    Session,
    User,
    legacy_user_id,
    utcnow,
)
from agentkeep.domain.chat import ModelReply
from agentkeep.domain.ports import ChatModel, Storage, UnitOfWork


class Models:
    """A registry of fakes: every agent talks to `model`."""

    def __init__(self, model: ChatModel) -> None:
        self.model = model

    def get(self, model: str) -> ChatModel:
        return self.model


class Failing:
    async def reply(self, system_prompt: str, messages: Sequence[Message]) -> ModelReply:
        raise ModelUnavailable("the model fell over")


class Slow:
    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.release = asyncio.Event()

    async def reply(self, system_prompt: str, messages: Sequence[Message]) -> ModelReply:
        self.started.set()
        await self.release.wait()
        return await EchoModel().reply(system_prompt, messages)


class Recording(EchoModel):
    def __init__(self) -> None:
        self.calls: list[tuple[str, list[Message]]] = []

    async def reply(self, system_prompt: str, messages: Sequence[Message]) -> ModelReply:
        self.calls.append((system_prompt, list(messages)))
        return await super().reply(system_prompt, messages)


async def add(storage: Storage, *entities: Any) -> None:
    async def work(uow: UnitOfWork) -> None:
        for e in entities:
            repo = {
                Agent: uow.agents,
                User: uow.users,
                Session: uow.sessions,
                Memory: uow.memories,
                AgentBio: uow.bios,
            }[type(e)]
            await repo.add(e)

    await storage.run(work)


async def counts(storage: Storage) -> tuple[int, int, int]:
    """(users, sessions, messages) in the whole storage."""

    async def work(uow: UnitOfWork) -> tuple[int, int, int]:
        _, users = await uow.users.list(Paging(page_size=1))
        sessions, n_sessions = await uow.sessions.list(Paging(page_size=100))
        n_messages = 0
        for s in sessions:
            n_messages += (await uow.messages.list(s.id, Paging(page_size=1)))[1]
        return users, n_sessions, n_messages

    return await storage.run(work)


async def history(storage: Storage, session_id: uuid.UUID) -> list[Message]:
    return await storage.run(lambda uow: uow.messages.last(session_id, 1000))


def request(text: str = "hello", **fields: Any) -> RunRequest:
    return RunRequest.model_validate({"message_content": text, **fields})


@pytest.fixture
async def agent(storage: Storage) -> Agent:
    agent = Agent(name="assistant", display_name="Assistant")
    await add(storage, agent)
    return agent


async def test_a_first_run_creates_user_and_session_and_keeps_both_messages(storage: Storage, agent: Agent) -> None:
    result = await RunAgent(storage, Models(EchoModel()))("assistant", request("hello there"))
    assert result.message == "hello there"
    assert result.usage.model == "echo" and result.usage.response_tokens == 2
    kept = await history(storage, result.session_id)
    assert [(m.role, m.text_content) for m in kept] == [(Role.USER, "hello there"), (Role.ASSISTANT, "hello there")]
    assert [m.id for m in kept] == [result.user_message_id, result.assistant_message_id]
    assert kept[1].system_prompt == "You are Assistant."
    assert await counts(storage) == (1, 1, 2)


async def test_a_second_run_in_the_session_sees_the_first_exchange(storage: Storage, agent: Agent) -> None:
    model = Recording()
    run = RunAgent(storage, Models(model))
    first = await run(agent.id, request("one"))
    await run("assistant", request("two", session_id=str(first.session_id)))
    _, seen = model.calls[1]
    assert [m.text_content for m in seen] == ["one", "one", "two"]


async def test_message_limit_bounds_the_history_keeping_the_newest(storage: Storage, agent: Agent) -> None:
    model = Recording()
    run = RunAgent(storage, Models(model))
    for text in ["a", "b", "c"]:
        await run("assistant", request(text, session_name="s"))
    await run("assistant", request("d", session_name="s", message_limit=3))
    assert [m.text_content for m in model.calls[-1][1]] == ["b", "c", "c", "d"]


async def test_an_unknown_user_id_is_created_with_that_id(storage: Storage, agent: Agent) -> None:
    given = uuid.uuid4()
    result = await RunAgent(storage, Models(EchoModel()))(
        "assistant", request(user_id=str(given), user={"email": "Ann@Example.com", "user_data": {"a": 1}})
    )
    assert result.user_id == given
    user = await storage.run(lambda uow: uow.users.get(given))
    assert user is not None and user.email == "ann@example.com" and user.user_data == {"a": 1}


async def test_an_integer_user_id_is_served_as_its_mapped_uuid(storage: Storage, agent: Agent) -> None:
    result = await RunAgent(storage, Models(EchoModel()))("assistant", request(user_id=42))
    assert result.user_id == legacy_user_id(42)


async def test_a_known_email_finds_its_user_and_merges_user_data(storage: Storage, agent: Agent) -> None:
    user = User(email="bob@example.com", user_data={"keep": 1, "change": 1})
    await add(storage, user)
    result = await RunAgent(storage, Models(EchoModel()))(
        "assistant", request(user={"email": "BOB@example.com", "user_data": {"change": 2, "new": 3}})
    )
    assert result.user_id == user.id
    stored = await storage.run(lambda uow: uow.users.get(user.id))
    assert stored is not None and stored.user_data == {"keep": 1, "change": 2, "new": 3}


async def test_an_email_of_another_user_is_a_conflict_that_writes_nothing(storage: Storage, agent: Agent) -> None:
    await add(storage, User(email="taken@example.com"))
    with pytest.raises(Conflict) as caught:
        await RunAgent(storage, Models(EchoModel()))(
            "assistant", request(user_id=str(uuid.uuid4()), user={"email": "taken@example.com"})
        )
    assert caught.value.key == "email"
    assert await counts(storage) == (1, 0, 0)


async def test_a_named_session_without_user_runs_as_its_owner(storage: Storage, agent: Agent) -> None:
    run = RunAgent(storage, Models(EchoModel()))
    first = await run("assistant", request(session_name="chat-1"))
    second = await run("assistant", request(session_name="chat-1"))
    assert second.user_id == first.user_id and second.session_id == first.session_id
    assert await counts(storage) == (1, 1, 4)


@pytest.mark.parametrize(
    ("fields", "error", "code"),
    [
        ({"session_id": str(uuid.uuid4())}, NotFound, "not_found"),
        ({"session_name": "theirs", "user_id": str(uuid.uuid4())}, Conflict, "session_owner_mismatch"),
        ({"session_name": "done"}, Conflict, "session_finished"),
    ],
)
async def test_a_bad_session_is_refused_and_nothing_is_written(
    storage: Storage, agent: Agent, fields: dict[str, Any], error: type[Exception], code: str
) -> None:
    owner = User()
    await add(storage, owner, Session(user_id=owner.id, agent_id=agent.id, name="theirs"))
    await add(storage, Session(user_id=owner.id, agent_id=agent.id, name="done", finished_at=utcnow()))
    before = await counts(storage)
    with pytest.raises(error) as caught:
        await RunAgent(storage, Models(EchoModel()))("assistant", request(**fields))
    assert getattr(caught.value, "code", None) == code
    assert await counts(storage) == before


async def test_an_unknown_agent_is_not_found_and_an_inactive_one_a_conflict(storage: Storage, agent: Agent) -> None:
    run = RunAgent(storage, Models(EchoModel()))
    with pytest.raises(NotFound):
        await run("nobody", request())
    await add(storage, Agent(name="sleepy", active=False))
    with pytest.raises(Conflict) as caught:
        await run("sleepy", request())
    assert caught.value.code == "agent_inactive"
    assert await counts(storage) == (0, 0, 0)


async def test_the_prompt_override_is_used_and_stored_with_the_reply(storage: Storage, agent: Agent) -> None:
    model = Recording()
    result = await RunAgent(storage, Models(model))("assistant", request(system_prompt="Be brief."))
    assert model.calls[0][0] == "Be brief."
    assert (await history(storage, result.session_id))[1].system_prompt == "Be brief."


async def test_the_built_prompt_uses_the_latest_bio_and_fills_memories(storage: Storage, agent: Agent) -> None:
    user = User()
    await add(
        storage,
        user,
        AgentBio(agent_id=agent.id, persona_bio="Likes {{topic}}.", persona_bio_source=PersonaBioSource.AI_GENERATED),
        Memory(name="topic", content="tea", agent_id=agent.id),
        Memory(name="topic", content="coffee", agent_id=agent.id, user_id=user.id),
    )
    model = Recording()
    await RunAgent(storage, Models(model))("assistant", request(user_id=str(user.id)))
    assert model.calls[0][0] == "You are Assistant.\n\nLikes coffee."


async def test_a_model_failure_keeps_the_user_message_and_frees_the_session(storage: Storage, agent: Agent) -> None:
    with pytest.raises(ModelUnavailable):
        await RunAgent(storage, Models(Failing()))("assistant", request("kept", session_name="s"))
    session = await storage.run(lambda uow: uow.sessions.get_by_name("s"))
    assert session is not None
    assert [m.text_content for m in await history(storage, session.id)] == ["kept"]
    again = await RunAgent(storage, Models(EchoModel()), session_wait=0.5)(
        "assistant", request("next", session_name="s")
    )
    assert again.session_id == session.id


class NulReply:
    """A model that answers with a NUL character, which PostgreSQL cannot store."""

    async def reply(self, system_prompt: str, messages: Sequence[Message]) -> ModelReply:
        reply = await EchoModel().reply(system_prompt, messages)
        return reply.model_copy(update={"text": "a\u0000b"})


async def test_a_reply_the_storage_cannot_keep_is_a_model_error_and_frees_the_session(
    storage: Storage, agent: Agent
) -> None:
    """PostgreSQL cannot store a NUL character: the run is a model error (502) that keeps the user
    message alone. Memory and SQLite keep any text: the run answers the reply and stores it."""
    run = RunAgent(storage, Models(NulReply()))
    postgres = isinstance(storage, PostgresStorage)
    if postgres:
        with pytest.raises(ModelUnavailable, match="cannot be stored"):
            await run("assistant", request("kept", session_name="s"))
    else:
        assert (await run("assistant", request("kept", session_name="s"))).message == "a\u0000b"
    session = await storage.run(lambda uow: uow.sessions.get_by_name("s"))
    assert session is not None
    stored = ["kept"] if postgres else ["kept", "a\u0000b"]
    assert [m.text_content for m in await history(storage, session.id)] == stored
    again = await RunAgent(storage, Models(EchoModel()), session_wait=0.5)(
        "assistant", request("next", session_name="s")
    )
    assert again.session_id == session.id


async def test_a_run_on_a_busy_session_waits_then_answers_session_busy(storage: Storage, agent: Agent) -> None:
    slow = Slow()
    first = asyncio.create_task(RunAgent(storage, Models(slow))("assistant", request("one", session_name="s")))
    await slow.started.wait()
    with pytest.raises(Conflict) as caught:
        await RunAgent(storage, Models(EchoModel()), session_wait=0.2)("assistant", request("two", session_name="s"))
    assert caught.value.code == "session_busy"
    slow.release.set()
    await first
    assert await counts(storage) == (1, 1, 2)


async def test_concurrent_first_runs_make_one_user_one_session_and_alternate(storage: Storage, agent: Agent) -> None:
    user_id = str(uuid.uuid4())
    run = RunAgent(storage, Models(EchoModel()))
    results = await asyncio.gather(
        *(run("assistant", request(f"m{i}", user_id=user_id, session_name="shared")) for i in range(64))
    )
    assert {r.session_id for r in results} == {results[0].session_id}
    assert await counts(storage) == (1, 1, 128)
    kept = await history(storage, results[0].session_id)
    assert [m.role for m in kept] == [Role.USER, Role.ASSISTANT] * 64
    assert all(kept[i].text_content == kept[i + 1].text_content for i in range(0, 128, 2))
