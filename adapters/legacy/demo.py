"""Demo legacy databases, to try `migrate-agents` and `import-automagik` on and to benchmark them.

`write_profiles` appends `bluesky_profiles` and `agent_bios` rows shaped like the social-agent
simulation platform's (shared/LEGACY-SCHEMAS.md), with a share of each bad-row kind of SPEC §4;
`write_automagik` appends a small automagik-agents database (SPEC §7). Both create the legacy
tables when absent (SQLite file or PostgreSQL database) and append to what is there.

A profile is a pure function of the seed and its row number (a hash, not a shared random stream):
two runs with one seed write the same rows whatever the batch size, and rows are made and inserted
one batch at a time, so memory stays flat at any count.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import random
import uuid
from collections import Counter
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, create_engine, event, func, inspect, null, select
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from adapters.legacy import tables as legacy
from adapters.storage.sql.dialect import POSTGRES, SQLITE, mask_url, normalize_url
from adapters.storage.sql.tables import metadata as agentkeep_metadata
from domain.errors import Invalid, NotFound, StorageUnavailable

T = TypeVar("T")

# The bad-row kinds of SPEC §4 that a legacy database alone can hold (`handle_taken` needs agents
# already in agentkeep). The duplicate kinds repeat the previous row's handle or DID, so two rows
# of each such pair are bad.
MISSING_HANDLE = "missing_handle"  # SQLite only: PostgreSQL's primary key forbids it
MISSING_DID = "missing_did"
NEGATIVE_COUNT = "negative_count"
INVALID_HANDLE = "invalid_handle"
DUPLICATE_HANDLE = "duplicate_handle"  # the same handle in another case
DUPLICATE_DID = "duplicate_did"
BAD_TIMESTAMP = "bad_timestamp"  # an extra bio whose `created_at` cannot be read
BAD_KINDS = (
    MISSING_HANDLE,
    MISSING_DID,
    NEGATIVE_COUNT,
    INVALID_HANDLE,
    DUPLICATE_HANDLE,
    DUPLICATE_DID,
    BAD_TIMESTAMP,
)


@dataclass(frozen=True, slots=True)
class Written:
    """What one demo run appended: rows per table, and the odd rows planted among them, per kind."""

    rows: dict[str, int]
    planted: dict[str, int] = field(default_factory=dict)

    def __str__(self) -> str:
        text = ", ".join(f"{count:,} {table}" for table, count in self.rows.items())
        if self.planted:
            text += f" (planted: {', '.join(f'{count:,} {kind}' for kind, count in self.planted.items())})"
        return text


# --- the social-agent simulation platform ------------------------------------------------------


def write_profiles(
    url: str | URL, count: int, *, seed: int = 0, bad_fraction: float = 0.01, batch_size: int = 10_000
) -> Written:
    """Append `count` profiles to `bluesky_profiles` and 0-3 generated bios each to `agent_bios`
    (ISO 8601 and `YYYY_MM_DD-HH:MM:SS` times mixed, not in insertion order), one transaction
    per `batch_size` profiles.

    About `bad_fraction` of the profiles carry each bad kind of `BAD_KINDS` (at most one in 14
    per kind), at fixed places in every stretch of 1/bad_fraction rows, so a few hundred rows hold
    them all. Numbering goes on from the rows already there: a second run appends new handles.
    """
    if count < 0:
        raise Invalid("the number of profiles cannot be negative", key="profiles")
    if not 0 <= bad_fraction <= 1:
        raise Invalid("the share of bad rows is a fraction between 0 and 1", key="bad_fraction")
    if batch_size < 1:
        raise Invalid("a batch holds at least one row", key="batch_size")

    def work(connection: Connection) -> Written:
        legacy.social.create_all(connection)
        connection.commit()
        start = connection.execute(select(func.count()).select_from(legacy.bluesky_profiles)).scalar_one()
        maker = _Profiles(seed, bad_fraction, null_handles=connection.dialect.name == SQLITE)
        rows = {legacy.bluesky_profiles.name: 0, legacy.agent_bios.name: 0}
        # Plain tuples in column order, straight to the driver's executemany: Core's per-row
        # parameter processing would cost about as much as making the rows.
        insert_profiles = str(legacy.bluesky_profiles.insert().compile(dialect=connection.dialect))
        insert_bios = str(legacy.agent_bios.insert().compile(dialect=connection.dialect))
        for first in range(start, start + count, batch_size):
            profiles, bios = maker.batch(range(first, min(first + batch_size, start + count)))
            connection.exec_driver_sql(insert_profiles, profiles)
            if bios:
                connection.exec_driver_sql(insert_bios, bios)
            connection.commit()
            rows[legacy.bluesky_profiles.name] += len(profiles)
            rows[legacy.agent_bios.name] += len(bios)
        return Written(rows, {kind: maker.planted[kind] for kind in BAD_KINDS if maker.planted[kind]})

    return _on_database(url, work)


_FIRST = (
    "Alice Bruno Chloe Dmitri Elena Farah Gustavo Hana Ines Jonas Kofi Lena Mateo Nadia Oskar Priya "
    "Quentin Rosa Sami Tomas Uma Viktor Wen Ximena Yusuf Zoe Aiko Bilal Carmen Diego Emma Felix"
)
FIRST_NAMES = tuple(_FIRST.split())
_LAST = (
    "Okafor Silva Nguyen Schmidt Rossi Kowalski Haddad Tanaka Moreau Jensen Costa Ivanova "
    "Mensah Lindqvist Park Alvarez Novak Dubois Kaur Fischer Santos Eriksen Mwangi Petrov"
)
LAST_NAMES = tuple(_LAST.split())
JOBS = (
    "data scientist",
    "nurse",
    "climate researcher",
    "high-school teacher",
    "indie game developer",
    "journalist",
    "product designer",
    "civil engineer",
    "PhD student",
    "bookseller",
)
CITIES = ("Lisbon", "Nairobi", "Toronto", "Berlin", "Osaka", "São Paulo", "Melbourne", "Austin", "Lagos", "Oslo")
TOPICS = (
    "local politics",
    "machine learning",
    "birdwatching",
    "urban cycling",
    "sourdough",
    "open source",
    "public health",
    "astronomy",
    "jazz",
    "housing policy",
    "football",
    "climate science",
)
PROFILE_BIOS = (
    "{job} in {city}. Posting about {topic} and {other}.",
    "{topic} | {other} | views my own",
    "Mostly {topic}. Sometimes {other}. {city}.",
    "{job}. Into {topic}. she/her",
    "{job}. Into {topic}. he/him",
)
GENERATED_BIOS = (
    "{first}, {job} from {city}, posts about {topic} and {other}.",
    "Persona: {first} {last}, {job}. Interests: {topic}, {other}. Tone: warm, curious, a little dry.",
    "{first} ({job}) argues about {topic} online and shares {other} photos on weekends.",
    "{first} writes short threads on {topic}; replies are friendly, never snarky. Lives in {city}.",
)
INVALID_HANDLES = (
    "Not A Handle! {n}",
    "@{first}_{n}",
    "{first} {last} {n}",
    "-{first}-{n}.bsky.social",
    "{first}\N{BUTTERFLY}{n}.bsky.social",
)
UNREADABLE_TIMES = ("not a date", "yesterday at noon", "13/45/2024 25:61", "2025_13_45-99:99:99", "soon")
BIO_COUNTS = (0, 1, 1, 1, 1, 1, 2, 2, 3)  # bios per profile: mostly one, sometimes several or none
BIO_EPOCH = datetime(2024, 6, 1, tzinfo=UTC)
BIO_DAYS = 300  # the first bio of a profile falls in these days after BIO_EPOCH; later ones up to 140 days on
# Each day once as `YYYY_MM_DD` and `YYYY-MM-DD`: formatting a datetime per bio would cost more than the rest.
_DAYS = [(BIO_EPOCH + timedelta(days=d)).strftime("%Y_%m_%d|%Y-%m-%d").split("|") for d in range(BIO_DAYS + 150)]
# Byte b of a hash as a base32 character (256 = 8 x 32, so each is equally likely).
_BASE32 = bytes(b"abcdefghijklmnopqrstuvwxyz234567"[b % 32] for b in range(256))


class _Profiles:
    """Rows of profile number n, from a 64-byte hash of (seed, n): bytes 0-23 make the DID, and
    each later byte one choice."""

    def __init__(self, seed: int, bad_fraction: float, *, null_handles: bool) -> None:
        self._salt = f"agentkeep-demo-profiles:{seed}:".encode()
        kinds = len(BAD_KINDS)
        # One slot per kind in every `period` rows, spread out and never next to another, so the
        # row a duplicate copies (the previous one) is always a good row.
        self._period = max(2 * kinds, round(1 / bad_fraction)) if bad_fraction > 1e-12 else 0
        self._slots = {
            k * self._period // kinds + self._period // (2 * kinds): kind
            for k, kind in enumerate(BAD_KINDS)
            if null_handles or kind != MISSING_HANDLE
        }
        self.planted: Counter[str] = Counter()

    def _hash(self, n: int) -> bytes:
        return hashlib.blake2b(self._salt + str(n).encode(), digest_size=64).digest()

    @staticmethod
    def _handle(h: bytes, n: int) -> str:
        return f"{FIRST_NAMES[h[24] % len(FIRST_NAMES)].lower()}-{n + 1:04d}.bsky.social"

    @staticmethod
    def _did(h: bytes) -> str:
        return "did:plc:" + h[:24].translate(_BASE32).decode()

    def batch(self, numbers: range) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        """The rows of `bluesky_profiles` and of `agent_bios` for these numbers, as tuples in the
        tables' column order."""
        profiles: list[tuple[Any, ...]] = []
        bios: list[tuple[Any, ...]] = []
        for n in numbers:
            kind = self._slots.get(n % self._period) if self._period else None
            if kind is not None:
                self.planted[kind] += 1
            self._profile(n, kind, profiles, bios)
        return profiles, bios

    def _profile(self, n: int, kind: str | None, profiles: list[tuple[Any, ...]], bios: list[tuple[Any, ...]]) -> None:
        h = self._hash(n)
        first, last = FIRST_NAMES[h[24] % len(FIRST_NAMES)], LAST_NAMES[h[25] % len(LAST_NAMES)]
        topic = h[44] % len(TOPICS)
        words = {
            "first": first,
            "last": last,
            "job": JOBS[h[42] % len(JOBS)],
            "city": CITIES[h[43] % len(CITIES)],
            "topic": TOPICS[topic],
            "other": TOPICS[(topic + 1 + h[45] % (len(TOPICS) - 1)) % len(TOPICS)],
        }
        handle: str | None = self._handle(h, n)
        did: str | None = self._did(h)
        if kind == MISSING_HANDLE:
            handle = None
        elif kind == INVALID_HANDLE:
            handle = INVALID_HANDLES[h[36] % len(INVALID_HANDLES)].format(first=first, last=last, n=n + 1)
        elif kind == DUPLICATE_HANDLE:
            previous = self._handle(self._hash(n - 1), n - 1)
            handle = previous.upper() if h[36] % 2 else previous.capitalize()
        elif kind == MISSING_DID:
            did = None
        elif kind == DUPLICATE_DID:
            did = self._did(self._hash(n - 1))
        # Heavy-tailed counts: most small, a few huge (up to e**12, e**8, e**10).
        counts = [
            int(math.exp(int.from_bytes(h[28:31]) * (12.0 / (1 << 24)))) - 1,
            int(math.exp(int.from_bytes(h[31:33]) * (8.0 / (1 << 16)))) - 1,
            int(math.exp(int.from_bytes(h[33:35]) * (10.0 / (1 << 16)))) - 1,
        ]
        if kind == NEGATIVE_COUNT:
            counts[h[37] % 3] = -1 - h[38]
        display_name, bio = _display_name(h[26], first, last), _profile_bio(h[27], h[46], words)
        profiles.append((handle, did, display_name, bio, *counts))
        if handle is None:
            return
        made: list[tuple[str, str, str]] = []
        when = int.from_bytes(h[39:42]) % (BIO_DAYS * 86_400)  # seconds after BIO_EPOCH
        for k in range(BIO_COUNTS[h[35] % len(BIO_COUNTS)]):
            b = h[47 + 4 * k : 51 + 4 * k]
            when += 60 + int.from_bytes(b[:3]) % (45 * 86_400)  # each later than the last
            text = GENERATED_BIOS[(h[61] + k) % len(GENERATED_BIOS)].format_map(words)  # each its own text
            made.append((handle, text, _bio_time(when, b[3])))
        if kind == BAD_TIMESTAMP:
            text = GENERATED_BIOS[h[62] % len(GENERATED_BIOS)].format_map(words)
            made.append((handle, text, UNREADABLE_TIMES[h[59] % len(UNREADABLE_TIMES)]))
        if made:
            turn = h[60] % len(made)  # not oldest first: the newest must be found, not taken as last
            bios += made[turn:] + made[:turn]


def _bio_time(seconds: int, style: int) -> str:
    """`seconds` after BIO_EPOCH in a format of the platform, UTC: `YYYY_MM_DD-HH:MM:SS` or
    ISO 8601 in three spellings."""
    day, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    time = f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"
    underscored, dashed = _DAYS[day]
    style %= 5
    if style < 2:
        return f"{underscored}-{time}"
    if style == 2:
        return f"{dashed}T{time}Z"
    if style == 3:
        return f"{dashed}T{time}+00:00"
    return f"{dashed} {time}"  # no zone: UTC


def _display_name(style: int, first: str, last: str) -> str | None:
    style %= 16
    if style == 0:
        return None
    if style == 1:
        return ""
    if style == 2:
        return f"{first} {last} \N{BUTTERFLY}"
    if style == 3:
        return first.lower()
    return f"{first} {last}"


def _profile_bio(style: int, template: int, words: dict[str, str]) -> str | None:
    style %= 16
    if style < 3:
        return ("", "   ", " \n\t")[style]  # no bio (SPEC §2)
    if style == 3:
        return None
    return PROFILE_BIOS[template % len(PROFILE_BIOS)].format_map(words)


# --- automagik-agents --------------------------------------------------------------------------

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

    return _on_database(url, work)


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
PLATFORMS = ("api", "api", "whatsapp", "discord", "cli")
TOOLS = (
    ("get_weather", {"city": "Lisbon", "unit": "celsius"}, "18°C, sunny"),
    ("search_memory", {"query": "user preferences"}, "prefers short answers"),
    ("send_email", {"to": "team@example.com", "subject": "Weekly report"}, "sent"),
    ("calculator", {"expression": "6 * 7"}, "42"),
)
QUESTIONS = (
    "What's the weather like in Lisbon today?",
    "Can you summarise yesterday's meeting?",
    "Remind me what I said about the budget.",
    "Draft an email to the team about the release.",
    "How much is 6 times 7?",
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


# --- one connection, SQLite or PostgreSQL ------------------------------------------------------


def _on_database(url: str | URL, work: Callable[[Connection], T]) -> T:
    """`work` on one connection to `url`: a SQLite file (created if missing) or PostgreSQL."""
    target = normalize_url(url)
    if target.get_backend_name() == SQLITE:
        return _on_sqlite(target, work)
    return _block_on(_on_postgres(target, work))


def _on_sqlite(url: URL, work: Callable[[Connection], T]) -> T:
    database = url.database or ""
    if database in ("", ":memory:"):
        raise Invalid("the demo writes to a SQLite file, not to an in-memory database", key="url")
    folder = Path(database).resolve().parent
    if not folder.is_dir():
        raise NotFound(f"no directory {folder} to create {Path(database).name} in", key="url")
    engine = create_engine(url.set(drivername="sqlite+pysqlite"), poolclass=NullPool)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        for pragma in ("journal_mode = WAL", "synchronous = NORMAL", "busy_timeout = 30000"):  # as agentkeep's
            dbapi_connection.execute(f"PRAGMA {pragma}")

    try:
        try:
            connection = engine.connect()
        except DBAPIError as e:
            raise StorageUnavailable(f"cannot open {mask_url(url)}: {e.orig}") from None
        with connection:
            return work(connection)
    finally:
        engine.dispose()


async def _on_postgres(url: URL, work: Callable[[Connection], T]) -> T:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        try:
            connection = await engine.connect()
        except (OSError, DBAPIError) as e:
            raise StorageUnavailable(f"cannot reach {mask_url(url)}: {getattr(e, 'orig', e)}") from None
        try:
            return await connection.run_sync(work)
        finally:
            await connection.close()
    finally:
        await engine.dispose()


def _block_on(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine from sync code, also from a thread that already runs an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        running = False
    else:
        running = True
    if not running:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
