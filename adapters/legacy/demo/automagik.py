"""A demo automagik-agents database (SPEC §7): users, agents, sessions, messages and memories."""

from __future__ import annotations

import json
import random
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, inspect, null, select
from sqlalchemy.engine import URL

from agentkeep.adapters.legacy import tables as legacy
from agentkeep.adapters.legacy.demo.database import Written, on_database
from agentkeep.adapters.legacy.demo.words import FIRST_NAMES, LAST_NAMES, PLATFORMS, QUESTIONS, TOOLS
from agentkeep.adapters.storage.sql.dialect import POSTGRES, mask_url
from agentkeep.adapters.storage.sql.tables import metadata as agentkeep_metadata
from agentkeep.domain.errors import Invalid

#: agentkeep's own tables that automagik-agents lacks: a database holding one is agentkeep's, and
#: its users, sessions, messages and memories tables would collide with automagik's.
AGENTKEEP_ONLY = (frozenset(agentkeep_metadata.tables) - frozenset(legacy.automagik.tables)) | {"alembic_version"}
ADMIN_EMAIL = "admin@automagik"  # upstream's admin: not a valid email (no top-level domain)
USERS_PER_BATCH = 500


def write_automagik(url: str | URL, users: int, *, seed: int = 0) -> Written:
    """Append an automagik-agents database of `users` users, with sessions, messages and memories
    in proportion, shaped like the real one (integer user and agent ids, tool calls keyed "0",
    "1", ...) and holding its oddities: `admin@automagik`, an email repeated in another case, an
    agent name that is not a handle, a model agentkeep lacks, an anonymous session, session
    metadata stored as a JSON string, a repeated session name, a message without a user, one
    whose session is gone, a duplicate memory.

    Invalid when the database holds agentkeep's schema (the table names collide).
    """
    if users < 1:
        raise Invalid("write at least one user", key="users")

    def work(connection: Connection) -> Written:
        ours = set(inspect(connection).get_table_names()) & AGENTKEEP_ONLY
        if ours:
            raise Invalid(
                f"{mask_url(url)} holds agentkeep's schema ({', '.join(sorted(ours))}), whose users, sessions, "
                "messages and memories tables would collide with automagik-agents' own: "
                "write the demo to another database (--url)",
                key="url",
            )
        legacy.automagik.create_all(connection)
        connection.commit()
        return _Automagik(connection, seed).write(users)

    return on_database(url, work)


SPECIAL_AGENTS: tuple[dict[str, Any], ...] = (
    {
        "name": "simple_agent",
        "type": "simple",
        "model": "openai:gpt-4.1-mini",
        "description": "A plain assistant.",
        "system_prompt": "You are a helpful assistant. Answer briefly. {{user_preferences}}",
    },
    {
        "name": "sofia",
        "type": "sofia",
        "model": "openai:gpt-4o",
        "description": "Project manager: keeps track of tasks and deadlines.",
        "system_prompt": "You are Sofia, a project manager at Namastex Labs. {{personality}}",
    },
    {  # not a handle: upper case, a space, parentheses
        "name": "Stan Agent (v2)",
        "type": "stan",
        "model": "openai:gpt-4o-mini",
        "description": "Sales agent.",
        "system_prompt": "You are Stan, a sales agent. Qualify the lead before offering a demo.",
    },
    {  # a model agentkeep has no adapter for
        "name": "claude_agent",
        "type": "simple",
        "model": "anthropic:claude-3-7-sonnet-20250219",
        "description": "Runs on Claude.",
        "system_prompt": "You are a careful research assistant.",
    },
)


class _Automagik:
    """One run: a random stream seeded by (seed, users already there), so one seed on a new
    database writes the same rows, and a second run on one database writes new ones."""

    def __init__(self, connection: Connection, seed: int) -> None:
        self.connection = connection
        self.postgres = connection.dialect.name == POSTGRES
        self.start = connection.execute(select(func.count()).select_from(legacy.users)).scalar_one()
        self.rng = random.Random(f"agentkeep-demo-automagik:{seed}:{self.start}")
        self.clock = datetime(2025, 1, 6, 9, 0, tzinfo=UTC) + timedelta(days=self.start)
        self.rows: Counter[str] = Counter()
        self.planted: Counter[str] = Counter()
        self.messages: list[dict[str, Any]] = []
        self.memories: list[dict[str, Any]] = []
        self.admin_due = False
        self.first_email: str | None = None
        self.first_session_name: str | None = None
        # At least one of each, whatever the dice say: the values import-automagik maps.
        self.tool_calls_due = self.tool_calling_memory_due = True

    def write(self, users: int) -> Written:
        agents = self._agents(users)
        admin = select(legacy.users.c.id).where(legacy.users.c.email == ADMIN_EMAIL)
        self.admin_due = self.connection.execute(admin).first() is None
        for first in range(0, users, USERS_PER_BATCH):
            self._users(range(first, min(first + USERS_PER_BATCH, users)), agents)
            self.connection.commit()
        tables = ("users", "agents", "sessions", "messages", "memories")
        return Written({t: self.rows[t] for t in tables}, dict(self.planted))

    def _once(self, kind: str) -> bool:
        """True the first time only: each odd row is planted once per run."""
        if kind in self.planted:
            return False
        self.planted[kind] = 1
        return True

    def _stamp(self, minutes: float = 0.0, *, naive: bool = False) -> Any:
        """The clock, moved on: a TIMESTAMPTZ value on PostgreSQL, text on SQLite (naive at times)."""
        self.clock += timedelta(minutes=minutes, microseconds=self.rng.randrange(1_000_000))
        if self.postgres:
            return self.clock
        if naive:
            return self.clock.strftime("%Y-%m-%d %H:%M:%S.%f")
        return self.clock.isoformat(sep=" ")

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _insert(self, table: Any, rows: Sequence[dict[str, Any]], *, returning: bool = False) -> list[int]:
        self.rows[table.name] += len(rows)
        if not rows:
            return []
        if returning:  # integer ids, as the database numbers them (SERIAL)
            statement = table.insert().returning(table.c.id, sort_by_parameter_order=True)
            return [int(i) for i in self.connection.execute(statement, rows).scalars()]
        self.connection.execute(table.insert(), rows)
        return []

    def _agents(self, users: int) -> list[tuple[int, str]]:
        """Writes the special agents missing here and a helper per 25 users; every agent's
        (id, system prompt)."""
        existing = {name for (name,) in self.connection.execute(select(legacy.agents.c.name))}
        rows = [dict(a) for a in SPECIAL_AGENTS if a["name"] not in existing]
        if any(a["name"] == "Stan Agent (v2)" for a in rows):
            self.planted["invalid_agent_name"] = 1
        if any(a["name"] == "claude_agent" for a in rows):
            self.planted["unknown_model"] = 1
        helpers = sum(name.startswith("helper_") for name in existing)
        for k in range(helpers + 1, helpers + 1 + users // 25):
            model = self.rng.choice(("openai:gpt-4.1-mini", "openai:gpt-4o-mini"))
            system_prompt = f"You are helper number {k}."
            rows.append({"name": f"helper_{k:03d}", "type": "simple", "model": model, "system_prompt": system_prompt})
        for row in rows:
            stamp = self._stamp(5)
            row.update(
                description=row.get("description", "A helper agent."),
                version=self.rng.choice(("1.0.0", "0.9.2", "2.1.0")),
                config={"temperature": self.rng.choice((0.0, 0.2, 0.7)), "retries": 3},
                active=True,
                run_id=self.rng.randrange(50),
                active_default_prompt_id=None,
                created_at=stamp,
                updated_at=stamp,
            )
        ids = self._insert(legacy.agents, rows, returning=True)
        for row, agent_id in zip(rows, ids, strict=True):
            if "{{personality}}" in row["system_prompt"]:  # an agent-wide memory its prompt reads
                self._memory(agent_id, None, None, "personality", "Cheerful, concise, never uses emoji.")
        self._insert(legacy.memories, self.memories)
        self.memories = []
        found = self.connection.execute(select(legacy.agents.c.id, legacy.agents.c.system_prompt))
        return sorted((int(i), str(p or "")) for i, p in found)

    def _users(self, numbers: range, agents: list[tuple[int, str]]) -> None:
        ids = self._insert(legacy.users, [self._user(i) for i in numbers], returning=True)
        sessions: list[dict[str, Any]] = []
        for user_id in ids:
            mine = [self._session(user_id, agents) for _ in range(self.rng.choice((1, 1, 2, 3)))]
            self._user_memories(user_id, mine)
            sessions += mine
        if self._once("anonymous_session"):
            sessions.append(self._session(None, agents))
        if self._once("orphan_message"):  # its session was deleted long ago
            agent_id, _ = agents[0]
            gone = {"id": self._uuid(), "user_id": ids[0], "agent_id": agent_id}
            self._message(gone, "user", "Is anyone there?")
        self._insert(legacy.sessions, sessions)
        self._insert(legacy.messages, self.messages)
        self._insert(legacy.memories, self.memories)
        self.messages, self.memories = [], []

    def _user(self, i: int) -> dict[str, Any]:
        first, last = self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES)
        email = f"{first}.{last}.{self.start + i + 1}@example.com".lower()
        if self.admin_due:
            self.admin_due = False
            self.planted["invalid_email"] = 1
            email, first, last = ADMIN_EMAIL, "Admin", "Automagik"
        elif self.first_email is None:
            self.first_email = email
        elif self._once("duplicate_email"):  # the first user's, in another case
            email = self.first_email.capitalize().replace("@example.com", "@Example.com")
        stamp = self._stamp(self.rng.uniform(1, 90))
        return {
            "email": email,
            "phone_number": self.rng.choice((None, f"+1-555-{self.rng.randrange(10**7):07d}")),
            "user_data": {"name": f"{first} {last}", "language": self.rng.choice(("en", "pt-BR", "de"))},
            "created_at": stamp,
            "updated_at": stamp,
        }

    def _session(self, user_id: int | None, agents: list[tuple[int, str]]) -> dict[str, Any]:
        agent_id, prompt = self.rng.choice(agents)
        platform = self.rng.choice(PLATFORMS)
        session_id = self._uuid()
        name = f"{platform}-{session_id[:8]}" if self.rng.random() < 0.8 else None
        if name is not None and self.first_session_name is None:
            self.first_session_name = name
        elif name is not None and self._once("repeated_session_name"):
            name = self.first_session_name
        metadata: Any = {"channel": platform, "client_version": self.rng.choice(("0.1.4", "0.2.0"))}
        if self._once("json_string_metadata"):
            metadata = json.dumps(metadata)  # a JSON string holding JSON
        created = self._stamp(self.rng.uniform(10, 600), naive=self.rng.random() < 0.2)
        session = {
            "id": session_id,
            "user_id": user_id,
            "agent_id": agent_id,
            "name": name,
            "platform": platform,
            "metadata": metadata,
            "created_at": created,
            "updated_at": created,
        }
        if self.rng.random() < 0.2:
            self._message(session, "system", prompt or "You are a helpful assistant.")
        for _ in range(self.rng.randint(1, 3)):
            self._turn(session, prompt)
        session["run_finished_at"] = self._stamp(1) if self.rng.random() < 0.3 else None
        return session

    def _turn(self, session: dict[str, Any], prompt: str) -> None:
        """A user message and the assistant's answer, with tool calls at times."""
        author: dict[str, Any] = {}
        if session["user_id"] is not None and self._once("message_without_user"):
            author["user_id"] = None  # its session's user wrote it
        self._message(session, "user", self.rng.choice(QUESTIONS), **author)
        calls: dict[str, Any] = {}  # '{}' when no tool ran
        outputs: dict[str, Any] = {}
        if self.tool_calls_due or self.rng.random() < 0.4:
            self.tool_calls_due = False
            for k, (name, args, result) in enumerate(self.rng.sample(TOOLS, self.rng.randint(1, 2))):
                call_id = f"call_{self.rng.getrandbits(96):024x}"
                calls[str(k)] = {"tool_name": name, "args": args, "tool_call_id": call_id}
                outputs[str(k)] = {"tool_name": name, "content": result, "tool_call_id": call_id}
        answer = "Here is what I found: " + (", ".join(o["content"] for o in outputs.values()) or "nothing new.")
        self._message(session, "assistant", answer, tool_calls=calls, tool_outputs=outputs, system_prompt=prompt)

    def _message(self, session: dict[str, Any], role: str, text: str, **fields: Any) -> None:
        stamp = self._stamp(self.rng.uniform(0.1, 3))
        row = {
            "id": self._uuid(),
            "session_id": session["id"],
            "user_id": session["user_id"],
            "agent_id": session["agent_id"],
            "role": role,
            "text_content": text,
            "media_url": None,
            "mime_type": None,
            "message_type": "text",
            "raw_payload": {"content": text},
            "tool_calls": null(),  # SQL NULL on user messages (None would be a JSON null)
            "tool_outputs": null(),
            "system_prompt": None,
            "user_feedback": None,
            "flagged": None,
            "context": {},
            "created_at": stamp,
            "updated_at": stamp,
            "channel_payload": null(),
        }
        self.messages.append(row | fields)

    def _user_memories(self, user_id: int, sessions: list[dict[str, Any]]) -> None:
        names = self.rng.sample(("user_preferences", "user_name", "last_topic", "timezone"), self.rng.randint(1, 2))
        for name in names:
            session = self.rng.choice(sessions)
            content = json.dumps({"tone": "casual"}) if name == "user_preferences" else f"{name}: noted"
            bound = session["id"] if self.rng.random() < 0.3 else None
            self._memory(session["agent_id"], user_id, bound, name, content)
        if self._once("duplicate_memory"):  # the same name, agent and user twice
            self.memories.append(self.memories[-1] | {"id": self._uuid()})

    def _memory(self, agent_id: int, user_id: int | None, session_id: str | None, name: str, content: str) -> None:
        if self.tool_calling_memory_due:
            self.tool_calling_memory_due = False
            read_mode, access = "tool_calling", "read_write"
        else:
            read_mode = self.rng.choice(("system_prompt", "system_prompt", "tool_calling", "tool"))
            access = self.rng.choice(("read", "read_write"))
        stamp = self._stamp(0.5)
        self.memories.append(
            {
                "id": self._uuid(),
                "name": name,
                "description": f"What the agent knows: {name.replace('_', ' ')}.",
                "content": content,
                "session_id": session_id,
                "user_id": user_id,
                "agent_id": agent_id,
                "read_mode": read_mode,
                "access": access,
                "metadata": {"source": "conversation"},
                "created_at": stamp,
                "updated_at": stamp,
            }
        )
