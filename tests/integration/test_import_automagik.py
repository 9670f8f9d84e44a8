"""import-automagik (SPEC §7): automagik-agents databases on SQLite and PostgreSQL
(`tests/support/automagik_source.py`), imported into the memory, SQLite and PostgreSQL storages."""

from __future__ import annotations

import hashlib
import sqlite3
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from agentkeep.adapters.legacy.automagik import open_automagik_source, same_database
from agentkeep.adapters.models.echo import EchoModel
from agentkeep.adapters.storage.sql.database import open_storage
from agentkeep.application.backfill import Options, Stopped, Tally
from agentkeep.application.import_automagik import ImportAutomagik
from agentkeep.application.run_agent import RunAgent, RunRequest
from agentkeep.domain.errors import Invalid, NotFound
from agentkeep.domain.ids import ANONYMOUS_USER_ID, legacy_agent_id, legacy_user_id
from agentkeep.domain.models import Agent, Memory, Message, Session, User
from agentkeep.domain.paging import Paging
from agentkeep.domain.ports import ChatModel, Storage, UnitOfWork
from agentkeep.domain.values import Access, ReadMode, Role
from agentkeep.testing.comparison import snapshot
from tests.support.automagik_source import PROMPTED, ROWS, create_source, sid

SOURCES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def utc(day: int, hour: int = 9, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2024, 1, day, hour, minute, second, tzinfo=UTC)


@pytest.fixture(params=SOURCES)
def source_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def source_url(request: pytest.FixtureRequest, source_kind: str, tmp_path: Path) -> str:
    """Where a new automagik-agents database goes: a SQLite file, or a new PostgreSQL database."""
    if source_kind == "sqlite":
        return f"sqlite:///{tmp_path / 'automagik.db'}"
    return str(request.getfixturevalue("pg_database"))


@pytest.fixture
async def source(source_url: str) -> str:
    """The URL of an automagik-agents database holding the standard data set."""
    await create_source(source_url)
    return source_url


async def run_import(storage: Storage, url: str, **options: Any) -> dict[str, Tally]:
    opened = await open_automagik_source(url, target_url="sqlite:///agentkeep-under-test.db")
    try:
        tallies = await ImportAutomagik(storage)(opened, Options(**options))
    finally:
        await opened.close()
    return {t.table: t for t in tallies}


async def read(storage: Storage) -> dict[str, Any]:
    async def work(uow: UnitOfWork) -> dict[str, Any]:
        return await snapshot(uow)

    return await storage.run(work)


async def get_user(storage: Storage, legacy_id: int) -> User | None:
    return await storage.run(lambda uow: uow.users.get(legacy_user_id(legacy_id)))


async def get_agent(storage: Storage, legacy_id: int) -> Agent | None:
    return await storage.run(lambda uow: uow.agents.get(legacy_agent_id(legacy_id)))


async def get_session(storage: Storage, name: str) -> Session | None:
    return await storage.run(lambda uow: uow.sessions.get(uuid.UUID(sid(name))))


async def get_memory(storage: Storage, name: str) -> Memory | None:
    return await storage.run(lambda uow: uow.memories.get(uuid.UUID(sid(name))))


async def messages_of(storage: Storage, session: str) -> list[Message]:
    page = Paging(page_size=100)
    items, _ = await storage.run(lambda uow: uow.messages.list(uuid.UUID(sid(session)), page))
    return items


def expected(kind: str) -> dict[str, dict[str, Any]]:
    """What importing the standard data set reports, per table: created, skipped and dropped by
    reason. SQLite sources hold the rows only SQLite can (`SQLITE_ONLY`) besides."""
    tallies: dict[str, dict[str, Any]] = {
        # 5 users and the anonymous owner of the sessions that had none.
        "users": {"created": 6, "skipped": {}, "dropped": {"invalid_email": 1, "duplicate_email": 1}},
        "agents": {"created": 3, "skipped": {"invalid_name": 2}, "dropped": {}},
        "sessions": {"created": 5, "skipped": {"missing_agent": 1}, "dropped": {"duplicate_name": 1}},
        "messages": {"created": 7, "skipped": {"missing_session": 3}, "dropped": {"missing_user": 1}},
        "memories": {
            "created": 4,
            "skipped": {"duplicate_memory": 1, "missing_agent": 1, "missing_user": 1},
            "dropped": {"missing_session": 1},
        },
    }
    if kind == "sqlite":
        tallies["users"]["skipped"] = {"bad_json": 1}
        tallies["sessions"]["created"] += 1  # bad-update: its unreadable updated_at is dropped
        tallies["sessions"]["skipped"].update(bad_json=1, bad_timestamp=1, invalid_id=1)
        tallies["sessions"]["dropped"]["bad_timestamp"] = 1
        tallies["messages"]["skipped"].update(bad_json=1, invalid_value=1)
        tallies["memories"]["skipped"]["bad_json"] = 1
    return tallies


def summary(tallies: dict[str, Tally]) -> dict[str, dict[str, Any]]:
    return {
        t.table: {"created": t.created, "skipped": dict(t.skipped), "dropped": dict(t.dropped)}
        for t in tallies.values()
    }


# Ids and foreign keys.


async def test_integer_ids_map_to_uuids_and_every_foreign_key_follows(storage: Storage, source: str) -> None:
    await run_import(storage, source)
    ada = await get_user(storage, 2)
    assert ada is not None
    assert ada.id == uuid.uuid5(uuid.UUID("0db7fb7e-fae8-403d-90d7-4b0db851fa23"), "user:2")
    simple = await get_agent(storage, 1)
    assert simple is not None
    assert simple.id == uuid.uuid5(uuid.UUID("0db7fb7e-fae8-403d-90d7-4b0db851fa23"), "agent:1").hex
    chat = await get_session(storage, "chat")
    assert chat is not None
    assert (chat.id, chat.user_id, chat.agent_id) == (uuid.UUID(sid("chat")), ada.id, simple.id)
    hello = next(m for m in await messages_of(storage, "chat") if m.id == uuid.UUID(sid("m-hello")))
    assert (hello.session_id, hello.user_id, hello.agent_id) == (chat.id, ada.id, simple.id)
    prefs = await get_memory(storage, "mem-prefs")
    assert prefs is not None
    assert (prefs.agent_id, prefs.user_id, prefs.session_id) == (simple.id, ada.id, chat.id)


async def test_a_session_without_user_gets_the_anonymous_user_made_once(
    storage: Storage, source: str, source_kind: str
) -> None:
    tallies = await run_import(storage, source, batch_size=1)
    anonymous = await storage.run(lambda uow: uow.users.get(ANONYMOUS_USER_ID))
    assert anonymous is not None
    assert uuid.uuid5(uuid.UUID("0db7fb7e-fae8-403d-90d7-4b0db851fa23"), "user:anonymous") == ANONYMOUS_USER_ID
    for name in ("anonymous", "anonymous-2"):
        session = await get_session(storage, name)
        assert session is not None
        assert session.user_id == ANONYMOUS_USER_ID
    [message] = await messages_of(storage, "anonymous")
    assert message.user_id == ANONYMOUS_USER_ID
    assert message.agent_id == legacy_agent_id(1)  # it had none: its session's
    assert tallies["users"].created == expected(source_kind)["users"]["created"]  # one anonymous user


async def test_a_message_without_user_or_with_one_gone_gets_its_sessions_user(storage: Storage, source: str) -> None:
    await run_import(storage, source)
    by_id = {m.id: m for m in await messages_of(storage, "chat")}
    for name in ("m-no-user", "m-gone-user"):
        assert by_id[uuid.UUID(sid(name))].user_id == legacy_user_id(2)


# Values.


async def test_users_keep_their_fields_and_lose_only_bad_or_repeated_emails(storage: Storage, source: str) -> None:
    await run_import(storage, source)
    admin, ada, ada_again, nobody, bob = [await get_user(storage, i) for i in range(1, 6)]
    assert admin is not None and ada is not None and ada_again is not None and nobody is not None
    assert bob is not None
    assert (admin.email, admin.user_data) == (None, {"role": "admin"})  # admin@automagik is no email
    assert (ada.email, ada.phone_number, ada.user_data) == ("ada@example.com", "+44 20", {"lang": "en"})
    assert ada_again.email is None  # a lower id has it, case ignored
    assert (nobody.email, nobody.user_data) == (None, {})
    assert bob.email == "bob@example.com"
    # Naive source times are UTC.
    assert ada.created_at == utc(2)
    assert (bob.created_at, bob.updated_at) == (utc(2, 13), utc(3))


async def test_agents_get_handles_runnable_models_and_their_legacy_values(storage: Storage, source: str) -> None:
    await run_import(storage, source)
    simple, sofia, clash, hidden, inactive = [await get_agent(storage, i) for i in range(1, 6)]
    assert clash is None and hidden is None  # 'sofia agent' is sofia-agent too; '_hidden' is no handle
    assert simple is not None and sofia is not None and inactive is not None
    assert (simple.name, simple.display_name, simple.model) == ("simple_agent", None, "openai:gpt-4o-mini")
    assert (simple.type, simple.version, simple.description) == ("pydanticai", "1.0", "the simple one")
    assert simple.config == {"temperature": 0.2, "legacy": {"run_id": 3}}
    assert simple.created_at == utc(1)
    assert (sofia.name, sofia.display_name, sofia.model) == ("sofia-agent", "Sofia Agent", "echo")
    assert sofia.config == {"legacy": {"model": "anthropic:claude-3-5-sonnet", "run_id": 0}}
    assert (inactive.active, inactive.model, inactive.config) == (False, "echo", {})


@pytest.mark.parametrize(
    ("schema", "simple_prompt", "sofia_prompt"),
    [
        ("old", "You are Simple. Name: {{user_name}}.", None),
        ("new", PROMPTED, "Sofia, from prompts."),
        ("both", "You are Simple. Name: {{user_name}}.", "Sofia, from prompts."),
    ],
)
async def test_the_system_prompt_is_the_agents_own_else_its_active_default_prompt(
    storage: Storage, source_url: str, schema: str, simple_prompt: str, sofia_prompt: str | None
) -> None:
    await create_source(source_url, schema=schema)
    await run_import(storage, source_url)
    simple, sofia = await get_agent(storage, 1), await get_agent(storage, 2)
    assert simple is not None and sofia is not None
    assert (simple.system_prompt, sofia.system_prompt) == (simple_prompt, sofia_prompt)


async def test_sessions_parse_metadata_strings_and_keep_the_earliest_name(storage: Storage, source: str) -> None:
    await run_import(storage, source)
    chat, later, finished, bobs = [await get_session(storage, n) for n in ("chat", "anonymous", "finished", "bobs")]
    assert chat is not None and later is not None and finished is not None and bobs is not None
    assert (chat.name, chat.platform, chat.metadata) == ("chat", "web", {"channel": "web"})
    assert chat.finished_at is None
    assert later.name is None  # an earlier session has 'chat'
    assert (finished.platform, finished.metadata, finished.finished_at) == ("api", {"k": 1}, utc(5, 12))
    assert (finished.created_at, finished.updated_at) == (utc(5), utc(5, 12))
    assert bobs.metadata == {}


async def test_tool_calls_and_outputs_become_lists_and_old_columns_go_under_legacy(
    storage: Storage, source: str
) -> None:
    await run_import(storage, source)
    by_id = {m.id: m for m in await messages_of(storage, "chat")}
    tools = by_id[uuid.UUID(sid("m-tools"))]
    assert tools.role is Role.ASSISTANT
    assert [c.model_dump() for c in tools.tool_calls] == [
        {"id": "call-1", "name": "search", "arguments": {"q": "tea"}},
        {"id": "call-2", "name": "clock", "arguments": {}},
    ]
    assert [o.model_dump() for o in tools.tool_outputs] == [
        {"tool_call_id": "call-1", "name": "search", "content": "green tea"}
    ]
    legacy = {"raw_payload": {"raw": True}, "channel_payload": {"chat": 42}, "user_feedback": "thumbs up"}
    assert tools.context == {"lang": "en", "legacy": {**legacy, "flagged": "no"}}
    assert tools.system_prompt == "You are Simple."
    assert tools.created_at == utc(3, 9, 0, 2)
    none = by_id[uuid.UUID(sid("m-no-tools"))]
    assert (none.tool_calls, none.tool_outputs, none.context) == ([], [], {})


async def test_messages_keep_the_conversation_order(storage: Storage, source: str, source_kind: str) -> None:
    await run_import(storage, source, batch_size=2)
    chat = [m.id for m in await messages_of(storage, "chat")]
    same_second = sorted([sid("m-no-user"), sid("m-gone-user")])  # the source's (created_at, id) order
    order = ["m-hello", "m-tools", *same_second, "m-no-tools"]
    kept = [uuid.UUID(s if s in same_second else sid(s)) for s in order]
    assert [i for i in chat if i in kept] == kept
    [timeless] = await messages_of(storage, "finished")
    assert timeless.created_at == utc(5)  # no time of its own: its session's


async def test_memories_map_read_mode_and_access_and_the_latest_duplicate_wins(storage: Storage, source: str) -> None:
    await run_import(storage, source)
    name, older, own = [await get_memory(storage, n) for n in ("mem-name", "mem-name-older", "mem-ada-name")]
    prefs, tool = await get_memory(storage, "mem-prefs"), await get_memory(storage, "mem-tool")
    assert older is None  # the more recently updated one of (user_name, agent 1, no user) wins
    assert name is not None and own is not None and prefs is not None and tool is not None
    assert (name.content, name.read_mode, name.access) == ("Ada", ReadMode.SYSTEM_PROMPT, Access.WRITE)
    assert name.user_id is None
    assert (own.content, own.user_id) == ("Ada Lovelace", legacy_user_id(2))
    assert (prefs.read_mode, prefs.access, prefs.metadata) == (ReadMode.TOOL_CALL, Access.READ, {"m": 1})
    assert prefs.content == '{"tea": "green"}'  # automagik's content is text, kept as such
    assert (tool.read_mode, tool.access, tool.session_id) == (ReadMode.TOOL_CALL, Access.WRITE, None)
    assert await get_memory(storage, "mem-skipped-agent") is None
    assert await get_memory(storage, "mem-gone-user") is None


# Reports.


async def test_every_skipped_row_and_dropped_value_is_counted_with_its_reason(
    storage: Storage, source: str, source_kind: str
) -> None:
    tallies = await run_import(storage, source)
    assert list(tallies) == ["users", "agents", "sessions", "messages", "memories"]
    assert summary(tallies) == expected(source_kind)
    for tally in tallies.values():
        assert tally.read == tally.created + tally.total_skipped - (1 if tally.table == "users" else 0)
    [example] = tallies["memories"].examples["duplicate_memory"]
    assert example.row.startswith(f"id={sid('mem-name-older')}: a more recently updated one")


async def test_names_and_emails_agentkeep_already_holds_are_not_taken_twice(storage: Storage, source: str) -> None:
    async def seed(uow: UnitOfWork) -> None:
        user = await uow.users.add(User(email="BOB@example.com"))
        agent = await uow.agents.add(Agent(name="inactive"))
        await uow.sessions.add(Session(user_id=user.id, agent_id=agent.id, name="finished"))

    await storage.run(seed)
    tallies = await run_import(storage, source)
    bob, finished = await get_user(storage, 5), await get_session(storage, "finished")
    assert bob is not None and finished is not None
    assert bob.email is None and tallies["users"].dropped["email_taken"] == 1
    assert await get_agent(storage, 5) is None and tallies["agents"].skipped["invalid_name"] == 3
    assert finished.name is None and tallies["sessions"].dropped["duplicate_name"] == 2
    assert await get_session(storage, "bobs") is None  # its agent was not imported


async def test_a_memory_whose_name_agentkeep_already_holds_for_its_agent_and_user_is_skipped(
    storage: Storage, source: str
) -> None:
    held = Memory(name="prefs", content="mine", agent_id=legacy_agent_id(1), user_id=legacy_user_id(2))

    async def seed(uow: UnitOfWork) -> None:
        await uow.agents.add(Agent(id=legacy_agent_id(1), name="held"))
        await uow.users.add(User(id=legacy_user_id(2)))
        await uow.memories.add(held)

    await storage.run(seed)
    tallies = await run_import(storage, source, batch_size=3)

    assert await get_memory(storage, "mem-prefs") is None
    examples = [e.row for e in tallies["memories"].examples["duplicate_memory"]]
    assert f"id={sid('mem-prefs')}: agentkeep has a memory 'prefs' of this agent and user" in examples
    assert await storage.run(lambda uow: uow.memories.get(held.id)) == held
    assert await get_memory(storage, "mem-tool") is not None  # another name, same agent and user


# Idempotency, dry run, stopping.


async def test_a_rerun_changes_nothing_and_finds_every_row_unchanged(storage: Storage, source: str) -> None:
    first = await run_import(storage, source, batch_size=3)
    before = await read(storage)
    second = await run_import(storage, source, batch_size=3)
    assert await read(storage) == before
    for table, tally in second.items():
        assert tally.created == tally.updated == 0
        assert tally.unchanged == first[table].read - first[table].total_skipped
        assert tally.skipped == first[table].skipped


async def test_the_batch_size_changes_nothing_but_the_batches(source: str, tmp_path: Path) -> None:
    states = []
    for size in (1, 1000):
        storage = open_storage(f"sqlite:///{tmp_path / f'size-{size}.db'}")
        await storage.create_schema()
        try:
            tallies = await run_import(storage, source, batch_size=size)
            state = await read(storage)
        finally:
            await storage.close()
        states.append((summary(tallies), _timeless(state)))
    assert states[0] == states[1]


async def test_a_dry_run_writes_nothing_and_counts_what_a_real_run_would(storage: Storage, source: str) -> None:
    empty = await read(storage)
    planned = await run_import(storage, source, batch_size=2, dry_run=True)
    assert await read(storage) == empty
    done = await run_import(storage, source, batch_size=2)
    assert summary(planned) == summary(done)


async def test_a_stopped_import_resumes_where_it_stopped(storage: Storage, source: str, tmp_path: Path) -> None:
    batches = iter(range(100))
    with pytest.raises(Stopped):
        await run_import(storage, source, batch_size=2, stop=lambda: next(batches) == 4)
    await run_import(storage, source, batch_size=2)
    resumed = await read(storage)
    clean = open_storage(f"sqlite:///{tmp_path / 'clean.db'}")
    await clean.create_schema()
    try:
        await run_import(clean, source, batch_size=2)
        assert _timeless(resumed) == _timeless(await read(clean))
    finally:
        await clean.close()


def _timeless(state: dict[str, Any]) -> dict[str, Any]:
    """A snapshot without the anonymous user's creation time (made at import time)."""
    for user in state["users"]:
        if user["id"] == ANONYMOUS_USER_ID:
            user["created_at"] = None
    return state


async def test_the_source_is_never_written(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'automagik.db'}"
    await create_source(url)
    before = _source_files(tmp_path)
    storage = open_storage(f"sqlite:///{tmp_path / 'agentkeep.db'}")
    await storage.create_schema()
    try:
        await run_import(storage, url)
    finally:
        await storage.close()
    assert _source_files(tmp_path) == before


def _source_files(directory: Path) -> dict[str, str]:
    """The automagik database's files (a journal or WAL file included) and their digests."""
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in directory.iterdir()
        if p.name.startswith("automagik")
    }


# What is refused.


async def test_agentkeeps_own_database_is_refused_by_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    target = f"sqlite:///{tmp_path / 'agentkeep.db'}"
    for url in (target, "sqlite:///agentkeep.db", f"sqlite+aiosqlite:///{tmp_path}/./agentkeep.db"):
        with pytest.raises(Invalid) as refused:
            await open_automagik_source(url, target_url=target)
        assert refused.value.key == "source_url"
    assert same_database("postgres://a:secret@db/app", "postgresql+asyncpg://b@db:5432/app")
    assert not same_database("postgresql://db/app", "postgresql://db/other")


async def test_a_source_holding_agentkeeps_schema_is_refused(source_url: str, tmp_path: Path) -> None:
    agentkeep = open_storage(source_url)
    await agentkeep.create_schema()
    await agentkeep.close()
    with pytest.raises(Invalid) as refused:
        await open_automagik_source(source_url, target_url=f"sqlite:///{tmp_path / 'elsewhere.db'}")
    assert refused.value.key == "source_url"


async def test_a_missing_file_or_a_database_without_automagik_tables_is_refused(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        await open_automagik_source(f"sqlite:///{tmp_path / 'nothing.db'}", target_url="sqlite:///x.db")
    assert not (tmp_path / "nothing.db").exists()
    with sqlite3.connect(tmp_path / "other.db") as other:
        other.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY)")
    with pytest.raises(Invalid, match="no users, agents, sessions, messages, memories table"):
        await open_automagik_source(f"sqlite:///{tmp_path / 'other.db'}", target_url="sqlite:///x.db")


# The integer user id, served afterwards.


class _Echo:
    """Every agent answers with the echo model (agent 1 names an OpenAI model)."""

    def __init__(self) -> None:
        self.prompts: list[str] = []

    def get(self, model: str) -> ChatModel:
        return _RecordingEcho(self.prompts)


class _RecordingEcho(EchoModel):
    def __init__(self, prompts: list[str]) -> None:
        super().__init__()
        self._prompts = prompts

    async def reply(self, system_prompt: str, messages: Any) -> Any:
        self._prompts.append(system_prompt)
        return await super().reply(system_prompt, messages)


async def test_run_agent_with_an_integer_user_id_joins_the_imported_user_and_session(
    storage: Storage, source: str
) -> None:
    await run_import(storage, source)
    models = _Echo()
    run = RunAgent(storage, models)
    result = await run("simple_agent", RunRequest(message_content="again", user_id=2, session_name="chat"))
    assert (result.user_id, result.session_id) == (legacy_user_id(2), uuid.UUID(sid("chat")))
    # Its prompt from `prompts`, {{user_name}} filled from the user's own memory (not the agent-wide one).
    assert models.prompts == [PROMPTED.replace("{{user_name}}", "Ada Lovelace")]
    history = await messages_of(storage, "chat")
    assert [m.text_content for m in history[-2:]] == ["again", "again"]
    assert len(history) == ROWS_IN_CHAT + 2


#: The messages of the session `chat` that are imported (SQLite's bad rows in it are skipped).
ROWS_IN_CHAT = sum(1 for m in ROWS["messages"] if m["session_id"] == sid("chat"))


# The source.


async def test_the_source_counts_its_tables_and_streams_each_row_once_in_its_order(source: str) -> None:
    opened = await open_automagik_source(source, target_url="sqlite:///agentkeep-under-test.db")
    try:
        counts = await opened.counts()
        streams = {
            "users": opened.users(2),
            "agents": opened.agents(2),
            "sessions": opened.sessions(2),
            "messages": opened.messages(2),
            "memories": opened.memories(2),
        }
        rows: dict[str, list[Any]] = {}
        for table, batches in streams.items():
            rows[table] = [row async for batch in batches for row in batch]
    finally:
        await opened.close()
    assert counts == {table: len(items) for table, items in rows.items()}
    for table, items in rows.items():
        assert len({row.id for row in items}) == len(items), table
    assert [u.id for u in rows["users"]] == sorted(u.id for u in rows["users"])
    # Rows without a session or a time first (they cannot be placed), then conversation order.
    placed = [m for m in rows["messages"] if m.session_id is not None and m.created_at is not None]
    assert rows["messages"][-len(placed) :] == placed
    assert [(m.session_id, _time(m.created_at), m.id) for m in placed] == sorted(
        (m.session_id, _time(m.created_at), m.id) for m in placed
    )
    chat = [m for m in placed if m.session_id == sid("chat")]
    assert {m.session_user_id for m in chat} == {2}
    flags = {
        "email_repeated": [u.id for u in rows["users"] if u.email_repeated],
        "name_repeated": [s.id for s in rows["sessions"] if s.name_repeated],
        "duplicate": [m.id for m in rows["memories"] if m.duplicate],
    }
    assert flags == {"email_repeated": [3], "name_repeated": [sid("anonymous")], "duplicate": [sid("mem-name-older")]}


def _time(value: Any) -> str:
    return value if isinstance(value, str) else value.isoformat()
