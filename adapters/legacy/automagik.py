"""An automagik-agents database as a legacy source (SPEC §7; the shapes in shared/LEGACY-SCHEMAS.md).

Read through one `SourceDatabase` connection, never written to. What needs a whole table to decide
is computed once, by the source's own database, into temporary tables of that connection when the
source is opened (emails a lower user id already has, session names an earlier session already
has, the memories that lose to a more recently updated one of the same name, agent and user), and
joined to each batch. Every table streams in keyset-paginated batches on indexed keys (never
OFFSET): users and agents by id, sessions and memories by id, messages by (session_id, created_at,
id), so a session's messages arrive in conversation order.

The columns are looked up first: databases of different automagik versions hold different ones
(`agents.system_prompt` was dropped for `prompts` and `agents.active_default_prompt_id`;
`messages.channel_payload` came later). A column that is absent reads as NULL. JSON columns are
read as their text, on both databases, so an unparseable value (SQLite stores any text) is a bad
row for the use case to report, not a crash here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import (
    Table,
    Text,
    and_,
    cast,
    column,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    table,
    text,
    tuple_,
)
from sqlalchemy.dialects.postgresql.base import PGDialect
from sqlalchemy.dialects.sqlite.base import SQLiteDialect
from sqlalchemy.engine import URL
from sqlalchemy.sql import ColumnElement, Select

from agentkeep.adapters.legacy import tables as legacy
from agentkeep.adapters.legacy.connection import SourceDatabase, open_source
from agentkeep.adapters.storage.sql.dialect import SQLITE, normalize_url
from agentkeep.domain.errors import Invalid
from agentkeep.domain.legacy import LegacyAgent, LegacyMemory, LegacyMessage, LegacySession, LegacyUser

T = TypeVar("T")

#: The tables an automagik-agents database must hold (`prompts` is optional).
TABLES = ("users", "agents", "sessions", "messages", "memories")
#: Tables only agentkeep's own schema has: a source holding one is agentkeep's database.
AGENTKEEP_TABLES = frozenset({"agent_persona_bios", "system_prompts"})

# The temporary tables of the reading connection (one id column each).
_EMAIL_REPEATED = "agentkeep_email_repeated"
_NAME_REPEATED = "agentkeep_session_name_repeated"
_MEMORY_DUPLICATE = "agentkeep_memory_duplicate"


class _Columns:
    """The columns of one source table that this database really has; an absent one reads NULL."""

    def __init__(self, source: Table, present: set[str]) -> None:
        self.table = source
        self.present = present

    def __getitem__(self, name: str) -> ColumnElement[Any]:
        if name in self.present:
            return self.table.c[name]
        return null().label(name)

    def has(self, name: str) -> bool:
        return name in self.present

    def json(self, name: str) -> ColumnElement[Any]:
        """A JSON column as its text: parsed by the use case, so bad JSON is a bad row."""
        if name in self.present:
            return cast(self.table.c[name], Text).label(name)
        return null().label(name)


class SqlAutomagikSource:
    """`AutomagikSource` over a SQLite or PostgreSQL automagik-agents database. Use
    `open_automagik_source`, which checks the database and makes the temporary tables."""

    def __init__(self, db: SourceDatabase, columns: Mapping[str, set[str]]) -> None:
        self._db = db
        self._users = _Columns(legacy.users, columns["users"])
        self._agents = _Columns(legacy.agents, columns["agents"])
        self._prompts = _Columns(legacy.prompts, columns.get("prompts", set()))
        self._sessions = _Columns(legacy.sessions, columns["sessions"])
        self._messages = _Columns(legacy.messages, columns["messages"])
        self._memories = _Columns(legacy.memories, columns["memories"])

    async def prepare(self) -> None:
        """Compute the whole-table flags into temporary tables, each keyed by the flagged id."""
        u, s, m = self._users, self._sessions, self._memories
        # A lower id has this email, case ignored.
        email = u["email"]
        by_email = func.row_number().over(partition_by=func.lower(email), order_by=u["id"])
        await self._flag(_EMAIL_REPEATED, select(u["id"], by_email.label("n")).where(email.is_not(None)))
        # An earlier session (created_at, then id; no time counts as the latest) has this name.
        name, created = s["name"], s["created_at"]
        by_name = func.row_number().over(partition_by=name, order_by=(created.is_(None), created, s["id"]))
        await self._flag(_NAME_REPEATED, select(s["id"], by_name.label("n")).where(name.is_not(None)))
        # The most recently updated memory of a (name, agent, user) wins; NULL users are one group,
        # as they are in agentkeep's unique rule.
        updated, created = m["updated_at"], m["created_at"]
        by_key = func.row_number().over(
            partition_by=(m["name"], m["agent_id"], m["user_id"]),
            order_by=(updated.is_(None), updated.desc(), created.is_(None), created.desc(), m["id"].desc()),
        )
        await self._flag(_MEMORY_DUPLICATE, select(m["id"], by_key.label("n")))

    async def _flag(self, name: str, ranked: Select[Any]) -> None:
        """A temporary table `name(id)`, indexed, of the rows ranked after the first of their
        group (its column takes the type of the source's id column)."""
        ranks = ranked.subquery("ranked")
        chosen = select(ranks.c.id).where(ranks.c.n > literal_column("1"))
        dialect = SQLiteDialect() if self._db.dialect == SQLITE else PGDialect()  # type: ignore[no-untyped-call]
        await self._db.execute(f"CREATE TEMPORARY TABLE {name} AS {chosen.compile(dialect=dialect)}")
        await self._db.execute(f"CREATE UNIQUE INDEX {name}_id ON {name} (id)")

    async def counts(self) -> dict[str, int]:
        result: dict[str, int] = {}
        for name in TABLES:
            rows = await self._db.fetch(select(func.count()).select_from(table(name)))
            result[name] = int(rows[0][0])
        return result

    def users(self, size: int) -> AsyncIterator[list[LegacyUser]]:
        u = self._users
        flag = _temp(_EMAIL_REPEATED)
        query = select(
            u["id"],
            u["email"],
            u["phone_number"],
            u.json("user_data"),
            u["created_at"],
            u["updated_at"],
            flag.c.id.is_not(None).label("email_repeated"),
        ).select_from(u.table.outerjoin(flag, flag.c.id == u.table.c.id))
        return self._pages(query, [u.table.c.id], size, lambda r: LegacyUser(**r))

    def agents(self, size: int) -> AsyncIterator[list[LegacyAgent]]:
        a, p = self._agents, self._prompts
        source: Any = a.table
        prompt: ColumnElement[Any] = null()
        if p.present and p.has("prompt_text") and a.has("active_default_prompt_id"):
            source = source.outerjoin(p.table, p.table.c.id == a.table.c.active_default_prompt_id)
            prompt = p.table.c.prompt_text
        system_prompt = func.coalesce(a.table.c.system_prompt, prompt) if a.has("system_prompt") else prompt
        query = select(
            a["id"],
            a["name"],
            a["type"],
            a["model"],
            a["description"],
            a["version"],
            a.json("config"),
            a["active"],
            a["run_id"],
            system_prompt.label("system_prompt"),
            a["created_at"],
            a["updated_at"],
        ).select_from(source)
        return self._pages(query, [a.table.c.id], size, lambda r: LegacyAgent(**r))

    def sessions(self, size: int) -> AsyncIterator[list[LegacySession]]:
        s = self._sessions
        flag = _temp(_NAME_REPEATED)
        query = select(
            s["id"],
            s["user_id"],
            s["agent_id"],
            s["name"],
            s["platform"],
            s.json("metadata"),
            s["created_at"],
            s["updated_at"],
            s["run_finished_at"],
            flag.c.id.is_not(None).label("name_repeated"),
        ).select_from(s.table.outerjoin(flag, flag.c.id == s.table.c.id))
        return self._pages(query, [s.table.c.id], size, lambda r: LegacySession(**r))

    async def messages(self, size: int) -> AsyncIterator[list[LegacyMessage]]:
        m = self._messages
        owner = legacy.sessions.alias("owner")
        query = select(
            *(m[name] for name in ("id", "session_id", "user_id", "agent_id", "role", "text_content")),
            *(m[name] for name in ("media_url", "mime_type", "message_type")),
            m.json("raw_payload"),
            m.json("tool_calls"),
            m.json("tool_outputs"),
            *(m[name] for name in ("system_prompt", "user_feedback", "flagged")),
            m.json("context"),
            m.json("channel_payload"),
            m["created_at"],
            m["updated_at"],
            owner.c.user_id.label("session_user_id"),
        ).select_from(m.table.outerjoin(owner, owner.c.id == m.table.c.session_id))
        session_id, created_at = m.table.c.session_id, m.table.c.created_at

        def row(r: Mapping[str, Any]) -> LegacyMessage:
            return LegacyMessage(**r)

        # Row values never compare with NULL, so the rows without a session or a time (orphans, to
        # be reported) come first, by id; then the rest in conversation order.
        odd = query.where(or_(session_id.is_(None), created_at.is_(None)))
        async for batch in self._pages(odd, [m.table.c.id], size, row):
            yield batch
        ordered = query.where(and_(session_id.is_not(None), created_at.is_not(None)))
        async for batch in self._pages(ordered, [session_id, created_at, m.table.c.id], size, row):
            yield batch

    def memories(self, size: int) -> AsyncIterator[list[LegacyMemory]]:
        m = self._memories
        flag = _temp(_MEMORY_DUPLICATE)
        query = select(
            *(m[name] for name in ("id", "name", "description", "content", "session_id", "user_id", "agent_id")),
            m["read_mode"],
            m["access"],
            m.json("metadata"),
            m["created_at"],
            m["updated_at"],
            flag.c.id.is_not(None).label("duplicate"),
        ).select_from(m.table.outerjoin(flag, flag.c.id == m.table.c.id))
        return self._pages(query, [m.table.c.id], size, lambda r: LegacyMemory(**r))

    async def _pages(
        self, query: Select[Any], keys: Sequence[ColumnElement[Any]], size: int, build: Callable[[Mapping[str, Any]], T]
    ) -> AsyncIterator[list[T]]:
        """`query` in batches of `size`, ordered by `keys` and resumed after the last row's keys
        (a row-value comparison, so each batch is an index range scan, never OFFSET)."""
        if size < 1:
            raise ValueError("the batch size must be at least 1")
        labels = [f"_key{i}" for i in range(len(keys))]
        keyed = query.add_columns(*(key.label(label) for key, label in zip(keys, labels, strict=True)))
        after: list[Any] | None = None
        while True:
            page = keyed
            if after is not None:
                bounds = [literal(value, key.type) for key, value in zip(keys, after, strict=True)]
                page = page.where(keys[0] > bounds[0] if len(keys) == 1 else tuple_(*keys) > tuple_(*bounds))
            rows = await self._db.fetch(page.order_by(*keys).limit(size))
            if not rows:
                return
            yield [build({k: v for k, v in row._mapping.items() if k not in labels}) for row in rows]
            if len(rows) < size:
                return
            after = [rows[-1]._mapping[label] for label in labels]

    async def close(self) -> None:
        await self._db.close()


def _temp(name: str) -> Any:
    return table(name, column("id"))


async def _columns(db: SourceDatabase, name: str) -> set[str]:
    if db.dialect == SQLITE:
        query = text("SELECT name FROM pragma_table_info(:name)")
    else:
        query = text(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = :name"
        )
    return {str(row[0]) for row in await db.fetch(query, {"name": name})}


def same_database(a: str | URL, b: str | URL) -> bool:
    """Whether two URLs name one database (any accepted form; a password or user aside; a SQLite
    path compared resolved)."""
    left, right = normalize_url(a), normalize_url(b)
    if left.get_backend_name() != right.get_backend_name():
        return False
    if left.get_backend_name() == SQLITE:
        return _sqlite_path(left) == _sqlite_path(right)
    return (left.host or "localhost", left.port or 5432, left.database) == (
        right.host or "localhost",
        right.port or 5432,
        right.database,
    )


def _sqlite_path(url: URL) -> str:
    database = url.database or ""
    if not database or database == ":memory:":
        return database
    return str(Path(database).resolve())


async def open_automagik_source(url: str, *, target_url: str) -> SqlAutomagikSource:
    """The automagik-agents database at `url`, opened for reading, its whole-table flags computed.

    Invalid (key `source_url`) when it is agentkeep's own database, `target_url` (the same URL, or
    one that holds agentkeep's schema), or lacks an automagik table; NotFound for a missing SQLite
    file.
    """
    try:
        normalize_url(url)
    except Invalid as e:
        raise Invalid(e.errors[0].message, key="source_url") from None
    if same_database(url, target_url):
        raise Invalid("the source is agentkeep's own database: give the automagik-agents one", key="source_url")
    db = await open_source(url)
    try:
        names = await db.table_names()
        if names & AGENTKEEP_TABLES:
            raise Invalid("the source holds agentkeep's schema: give the automagik-agents database", key="source_url")
        missing = [name for name in TABLES if name not in names]
        if missing:
            raise Invalid(
                f"not an automagik-agents database: no {', '.join(missing)} table in {db.masked_url}",
                key="source_url",
            )
        columns = {name: await _columns(db, name) for name in (*TABLES, "prompts") if name in names}
        source = SqlAutomagikSource(db, columns)
        await source.prepare()
    except BaseException:
        await db.close()
        raise
    return source
