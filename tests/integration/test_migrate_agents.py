"""migrate-agents (SPEC §4): social-agent databases on SQLite and PostgreSQL (`social_fixtures`),
migrated into the memory, SQLite and PostgreSQL storages."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from agentkeep.adapters.legacy.social import open_profile_source
from agentkeep.adapters.legacy.social_sql import WHITESPACE
from agentkeep.adapters.storage.sql import large_writes
from agentkeep.adapters.storage.sql.database import PostgresStorage, open_storage
from agentkeep.application import migrate_agents
from agentkeep.application.backfill import Options, Tally
from agentkeep.application.migrate_agents import MigrateAgents
from agentkeep.domain.errors import NotFound
from agentkeep.domain.ids import migrated_bio_id, migrated_metadata_id
from agentkeep.domain.legacy import LegacyProfile
from agentkeep.domain.models import Agent, AgentBio
from agentkeep.domain.paging import MAX_PAGE_SIZE, Paging
from agentkeep.domain.ports import Storage, UnitOfWork
from agentkeep.domain.values import PersonaBioSource, PersonaSource
from tests.integration.social_fixtures import bio, create_many, create_source, did, execute, fingerprint, profile

SOURCES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.fixture(params=SOURCES)
def source_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def source_url(request: pytest.FixtureRequest, source_kind: str, tmp_path: Path) -> str:
    """Where a new legacy database goes: a SQLite file, or a new PostgreSQL database."""
    if source_kind == "sqlite":
        return f"sqlite:///{tmp_path / 'social.db'}"
    return str(request.getfixturevalue("pg_database"))


async def migrate(storage: Storage, url: str, **options: Any) -> Tally:
    source = await open_profile_source(url)
    try:
        return await MigrateAgents(storage)(source, Options(**options))
    finally:
        await source.close()


async def read_source(url: str, size: int = 1000) -> list[LegacyProfile]:
    source = await open_profile_source(url)
    try:
        return [p async for batch in source.batches(size) for p in batch]
    finally:
        await source.close()


async def _every(page: Any) -> list[Any]:
    items: list[Any] = []
    number = 1
    while True:
        chunk, total = await page(Paging(page=number, page_size=MAX_PAGE_SIZE))
        items += chunk
        if len(items) >= total or not chunk:
            return items
        number += 1


async def state(storage: Storage) -> dict[str, Any]:
    """Every agent with its bios and profile metadata, every field (`updated_at` too)."""

    async def work(uow: UnitOfWork) -> dict[str, Any]:
        agents: list[Agent] = await _every(uow.agents.list)
        result: dict[str, Any] = {}
        for agent in agents:
            bios: list[AgentBio] = await _every(lambda p, a=agent.id: uow.bios.list(a, p))
            metadata = await uow.profile_metadata.get(agent.id)
            result[agent.id] = {
                "agent": agent.model_dump(),
                "bios": [b.model_dump() for b in bios],
                "metadata": None if metadata is None else metadata.model_dump(),
            }
        return result

    return await storage.run(work)


def counts(tally: Tally) -> dict[str, Any]:
    return {
        "created": tally.created,
        "updated": tally.updated,
        "unchanged": tally.unchanged,
        "read": tally.read,
        "skipped": dict(tally.skipped),
        "dropped": dict(tally.dropped),
    }


SEED_PROFILES = [
    profile("alice.bsky.social", display_name="Alice", bio="Alice's own words"),
    profile("bob.bsky.social", display_name="Bob", bio="Bob's own words", followers_count=0),
]
SEED_BIOS = [bio("alice.bsky.social", "Alice, as the model wrote her.", "2025_11_25-11:56:56")]


# The seed's own cases.


async def test_profiles_become_agents_with_bios_and_metadata(storage: Storage, source_url: str) -> None:
    await create_source(source_url, SEED_PROFILES, SEED_BIOS)

    tally = await migrate(storage, source_url)

    assert counts(tally) == {
        "created": 2, "updated": 0, "unchanged": 0, "read": 2, "skipped": {}, "dropped": {}
    }  # fmt: skip
    assert tally.table == "agents"
    rows = await state(storage)
    alice, bob = rows[did("alice.bsky.social")], rows[did("bob.bsky.social")]
    assert alice["agent"] | {"created_at": None, "updated_at": None} == {
        "id": did("alice.bsky.social"),
        "name": "alice.bsky.social",
        "display_name": "Alice",
        "persona_source": PersonaSource.SYNC_BLUESKY,
        "type": None,
        "model": "echo",
        "description": None,
        "system_prompt": None,
        "config": {},
        "active": True,
        "version": None,
        "created_at": None,
        "updated_at": None,
    }
    [alice_bio] = alice["bios"]
    assert alice_bio["id"] == migrated_bio_id(did("alice.bsky.social"))
    assert alice_bio["persona_bio"] == "Alice, as the model wrote her."
    assert alice_bio["persona_bio_source"] == PersonaBioSource.AI_GENERATED
    assert alice_bio["created_at"] == utc(2025, 11, 25, 11, 56, 56)
    [bob_bio] = bob["bios"]
    assert (bob_bio["persona_bio"], bob_bio["persona_bio_source"]) == (
        "Bob's own words",
        PersonaBioSource.USER_PROVIDED,
    )
    assert bob["metadata"]["id"] == migrated_metadata_id(did("bob.bsky.social"))
    assert [bob["metadata"][c] for c in ("followers_count", "follows_count", "posts_count")] == [0, 20, 30]


async def test_one_profile_without_generated_bio(storage: Storage, source_url: str) -> None:
    await create_source(source_url, [profile("solo.bsky.social", bio="just me")])

    tally = await migrate(storage, source_url)

    assert (tally.created, tally.total_skipped) == (1, 0)
    [row] = (await state(storage)).values()
    assert [(b["persona_bio"], b["persona_bio_source"]) for b in row["bios"]] == [
        ("just me", PersonaBioSource.USER_PROVIDED)
    ]


async def test_blank_bios_are_no_bio(storage: Storage, source_url: str) -> None:
    await create_source(
        source_url,
        [
            profile("blank.bsky.social", bio=" \t\u3000\n"),
            profile("empty.bsky.social", bio=""),
            profile("fallback.bsky.social", bio="the profile's"),
        ],
        [
            bio("blank.bsky.social", "\u00a0 ", "2025-01-01T00:00:00Z"),
            bio("fallback.bsky.social", "", "2025-01-01T00:00:00Z"),
        ],
    )

    await migrate(storage, source_url)

    rows = await state(storage)
    assert rows[did("blank.bsky.social")]["bios"] == []
    assert rows[did("empty.bsky.social")]["bios"] == []
    assert [b["persona_bio"] for b in rows[did("fallback.bsky.social")]["bios"]] == ["the profile's"]


async def test_without_an_agent_bios_table_profile_bios_are_used(storage: Storage, source_url: str) -> None:
    await create_source(source_url, SEED_PROFILES, bios_table=False)

    await migrate(storage, source_url)

    rows = await state(storage)
    assert [b["persona_bio_source"] for r in rows.values() for b in r["bios"]] == [PersonaBioSource.USER_PROVIDED] * 2


# Idempotency.


async def test_rerun_changes_nothing_and_adds_no_bio(storage: Storage, source_url: str) -> None:
    await create_source(source_url, SEED_PROFILES, SEED_BIOS)
    await migrate(storage, source_url)
    first = await state(storage)

    again = await migrate(storage, source_url)

    assert counts(again) == {
        "created": 0, "updated": 0, "unchanged": 2, "read": 2, "skipped": {}, "dropped": {}
    }  # fmt: skip
    assert await state(storage) == first  # every field, updated_at too: nothing was written
    assert all(len(row["bios"]) == 1 for row in first.values())


async def test_batch_size_does_not_change_the_result(storage: Storage, source_url: str) -> None:
    profiles = [profile(f"user{i}.bsky.social", followers_count=i) for i in range(23)]
    bios = [bio(f"user{i}.bsky.social", f"bio {i}", f"2025_01_{1 + i % 9:02d}-10:00:00") for i in range(0, 23, 2)]
    await create_source(source_url, profiles, bios)

    tallies = [await migrate(storage, source_url, batch_size=size) for size in (4, 1, 1000)]

    assert [(t.created, t.unchanged, t.read) for t in tallies] == [(23, 0, 23), (0, 23, 23), (0, 23, 23)]
    rows = await state(storage)
    assert sorted(r["metadata"]["followers_count"] for r in rows.values()) == list(range(23))


@pytest.mark.parametrize("chunk", [1, 3])
async def test_writing_new_agents_a_chunk_at_a_time_changes_nothing(
    storage: Storage, source_url: str, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    # Chunks of 1 and 3 in batches of 5 (on SQLite, every INSERT off the event loop, two rows a
    # statement): a batch ends in a short chunk, and the last batch is shorter than a chunk.
    monkeypatch.setattr(migrate_agents, "WRITE_CHUNK", chunk)
    monkeypatch.setattr(large_writes, "OFF_LOOP_ROWS", 1)
    monkeypatch.setattr(large_writes, "MAX_ROWS", 2)
    profiles = [profile(f"user{i}.bsky.social", followers_count=i) for i in range(11)]
    bios = [bio(f"user{i}.bsky.social", f"bio {i}", "2025_01_01-10:00:00") for i in range(0, 11, 2)]
    await create_source(source_url, profiles, bios)

    first = await migrate(storage, source_url, batch_size=5)
    again = await migrate(storage, source_url, batch_size=5)

    assert (first.created, again.unchanged) == (11, 11)
    rows = await state(storage)
    assert sorted((r["agent"]["name"], r["metadata"]["followers_count"]) for r in rows.values()) == sorted(
        (f"user{i}.bsky.social", i) for i in range(11)
    )
    expected = [f"bio {i}" if i % 2 == 0 else f"user{i}.bsky.social bio" for i in range(11)]
    assert sorted(b["persona_bio"] for r in rows.values() for b in r["bios"]) == sorted(expected)


# The newest generated bio.


async def test_the_newest_generated_bio_wins_across_timestamp_forms(storage: Storage, source_url: str) -> None:
    await create_source(
        source_url,
        [profile(h) for h in ("alice.bsky.social", "bob.bsky.social", "carol.bsky.social", "Dora.bsky.social")],
        [
            bio("alice.bsky.social", "old, upstream form", "2025_01_01-10:00:00"),
            bio("alice.bsky.social", "an offset: 10:30 UTC", "2025-01-01T12:30:00+02:00"),
            bio("alice.bsky.social", "newest, by a microsecond", "2025-01-01 10:30:00.000001"),
            bio("alice.bsky.social", "Z", "2025-01-01T10:15:00Z"),
            bio("alice.bsky.social", "   ", "2025-06-01T00:00:00Z"),  # blank: no bio, however new
            bio("alice.bsky.social", "unreadable time", "yesterday"),
            # A tie: the later row wins.
            bio("bob.bsky.social", "first of a tie", "2025_03_01-08:00:00"),
            bio("bob.bsky.social", "second of a tie", "2025-03-01T08:00:00Z"),
            bio("bob.bsky.social", "older", "2025-03-01T07:59:59.999999Z"),
            # The only generated bio has an impossible date: the profile's bio is used.
            bio("carol.bsky.social", "February 30th", "2025-02-30T00:00:00"),
            # The handle matches case-insensitively.
            bio("dora.bsky.social", "Dora's", "2024-12-31T23:00:00-01:00"),
        ],
    )

    tally = await migrate(storage, source_url)

    rows = await state(storage)
    chosen = {rows[did(h)]["agent"]["name"]: rows[did(h)]["bios"][0] for h in ("alice.bsky.social",
              "bob.bsky.social", "carol.bsky.social", "Dora.bsky.social")}  # fmt: skip
    assert chosen["alice.bsky.social"]["persona_bio"] == "newest, by a microsecond"
    assert chosen["alice.bsky.social"]["created_at"] == utc(2025, 1, 1, 10, 30, 0, 1)
    assert chosen["bob.bsky.social"]["persona_bio"] == "second of a tie"
    assert (chosen["carol.bsky.social"]["persona_bio"], chosen["carol.bsky.social"]["persona_bio_source"]) == (
        "carol.bsky.social bio",
        PersonaBioSource.USER_PROVIDED,
    )
    assert chosen["dora.bsky.social"]["persona_bio"] == "Dora's"
    assert chosen["dora.bsky.social"]["created_at"] == utc(2025, 1, 1, 0, 0)
    assert tally.dropped == Counter({"bad_timestamp": 2})
    assert {s.row.split(" bio ")[0] for s in tally.examples["bad_timestamp"]} == {
        f"handle='alice.bsky.social' did='{did('alice.bsky.social')}'",
        f"handle='carol.bsky.social' did='{did('carol.bsky.social')}'",
    }
    assert tally.created == 4


TIMES = {
    "2025_11_25-11:56:56": utc(2025, 11, 25, 11, 56, 56),
    "2025-11-25T11:56:56Z": utc(2025, 11, 25, 11, 56, 56),
    "2025-11-25T11:56:56z": utc(2025, 11, 25, 11, 56, 56),
    "2025-11-25 11:56:56": utc(2025, 11, 25, 11, 56, 56),
    "2025-11-25T11:56": utc(2025, 11, 25, 11, 56),
    "2025-11-25": utc(2025, 11, 25),
    "2025-11-25T11:56:56.5+01:00": utc(2025, 11, 25, 10, 56, 56, 500000),
    "2025-11-25T00:30:00-00:45": utc(2025, 11, 25, 1, 15),
    "2025-11-25T11:56:56.1234567Z": utc(2025, 11, 25, 11, 56, 56, 123456),
    "2024-02-29T23:59:59.999999+14:00": utc(2024, 2, 29, 9, 59, 59, 999999),
    "2025-01-01T10:00:59.9996": utc(2025, 1, 1, 10, 0, 59, 999600),
    # Cannot be read.
    "2025_02_30-00:00:00": None,
    "2025_01_01-24:00:00": None,
    "2025_01_01-10:60:00": None,
    "2025-02-30T00:00:00": None,
    "2025-13-01": None,
    "2025-01-01T24:00:00": None,
    "2025-01-01T10:00:60": None,
    "2025-01-01t10:00:00": None,
    "2025-01-01 10:00:00 Z": None,
    "2025-01-01T10:00:00+0200": None,
    "2025-01-01T10:00:00+02": None,
    "2025-01-01T10:00:00+15:00": None,
    "2025-01-01T10:00:00.": None,
    "2025-01-01T10:00:00Zjunk": None,
    " 2025-01-01": None,
    "0000-01-01": None,
    "25-01-01": None,
    "yesterday": None,
    "now": None,
    "": None,
}


async def test_timestamps_are_read_alike_on_both_databases(source_url: str) -> None:
    handles = {t: f"t{i}.example" for i, t in enumerate(TIMES)}
    await create_source(
        source_url, [profile(h) for h in handles.values()], [bio(h, "x", t) for t, h in handles.items()]
    )

    read = {p.handle: p for p in await read_source(source_url)}

    parsed = {t: read[h].generated_bio_at for t, h in handles.items()}
    assert parsed == TIMES
    assert {t: read[h].bad_bio_timestamps for t, h in handles.items()} == {t: int(v is None) for t, v in TIMES.items()}


def test_blank_means_what_str_strip_means() -> None:
    assert {c for c in map(chr, range(0x110000)) if c.isspace()} == set(WHITESPACE)


# Bad rows.


async def test_each_bad_row_is_skipped_with_its_reason(storage: Storage, source_url: str, source_kind: str) -> None:
    holder = Agent(id=uuid.uuid4().hex, name="taken.bsky.social")
    await storage.run(lambda uow: uow.agents.add(holder))
    profiles = [
        profile("good.bsky.social"),
        profile("", did=did("empty handle")),
        profile("   ", did=did("blank handle")),
        profile("nodid.bsky.social", did=None),
        profile("emptydid.bsky.social", did=""),
        profile("baddid.bsky.social", did="plc:not-a-did"),
        profile("uuiddid.bsky.social", did=uuid.uuid4().hex),
        profile("bad handle!", did=did("bad handle")),
        profile("ünï.bsky.social"),
        profile("\u212aelvin.bsky.social"),  # the Kelvin sign lower-cases to "k"
        profile("neg.bsky.social", posts_count=-1),
        profile("Dup.bsky.social"),
        profile("dup.bsky.social"),
        profile("twin1.bsky.social", did=did("twin")),
        profile("twin2.bsky.social", did=did("twin")),
        profile("taken.bsky.social"),
        profile("also-good.bsky.social", followers_count=None),
    ]
    if source_kind == "sqlite":  # what only SQLite can hold
        profiles += [
            profile(None, did=did("null handle")),
            profile("text-count.bsky.social", followers_count="many"),
            profile("half-count.bsky.social", follows_count=1.5),
        ]
    await create_source(source_url, profiles)

    tally = await migrate(storage, source_url, batch_size=5)

    expected = Counter(
        missing_handle=2,
        missing_did=2,
        invalid_did=2,
        invalid_handle=3,
        negative_count=1,
        duplicate_handle=2,
        duplicate_did=2,
        handle_taken=1,
    )
    if source_kind == "sqlite":
        expected.update(missing_handle=1, negative_count=2)
    assert tally.skipped == expected
    assert (tally.created, tally.read) == (2, len(profiles))
    rows = await state(storage)
    assert sorted(r["agent"]["name"] for r in rows.values()) == ["also-good.bsky.social", "good.bsky.social",
                                                                 "taken.bsky.social"]  # fmt: skip
    assert rows[holder.id]["agent"]["id"] == holder.id  # the holder is left as it was
    assert rows[did("also-good.bsky.social")]["metadata"]["followers_count"] == 0  # NULL: no count
    [taken] = tally.examples["handle_taken"]
    assert taken.row == f"handle='taken.bsky.social' did='{did('taken.bsky.social')}'"


async def test_a_long_display_name_is_cut_and_reported(storage: Storage, source_url: str) -> None:
    await create_source(source_url, [profile("long.bsky.social", display_name="x" * 300)])

    tally = await migrate(storage, source_url)

    [row] = (await state(storage)).values()
    assert row["agent"]["display_name"] == "x" * 255
    assert tally.dropped == Counter(display_name_truncated=1)


# Renames and taken handles.


async def test_a_changed_handle_renames_the_agent_of_that_did(storage: Storage, source_url: str) -> None:
    await create_source(source_url, SEED_PROFILES, SEED_BIOS)
    await migrate(storage, source_url)
    before = (await state(storage))[did("alice.bsky.social")]
    await execute(
        source_url,
        "UPDATE bluesky_profiles SET handle = 'alice.example.com', display_name = 'Alice B.' WHERE did = :did",
        {"did": did("alice.bsky.social")},
    )
    await execute(source_url, "UPDATE bluesky_profiles SET posts_count = 31 WHERE handle = 'bob.bsky.social'")

    tally = await migrate(storage, source_url)

    assert (tally.created, tally.updated, tally.unchanged) == (0, 2, 0)
    rows = await state(storage)
    after = rows[did("alice.bsky.social")]
    assert (after["agent"]["name"], after["agent"]["display_name"]) == ("alice.example.com", "Alice B.")
    assert after["agent"]["created_at"] == before["agent"]["created_at"]
    assert after["agent"]["updated_at"] > before["agent"]["updated_at"]
    assert after["bios"] == before["bios"]  # the agent had a bio: no other one
    assert rows[did("bob.bsky.social")]["metadata"]["posts_count"] == 31
    assert rows[did("bob.bsky.social")]["metadata"]["id"] == migrated_metadata_id(did("bob.bsky.social"))
    assert (await migrate(storage, source_url)).unchanged == 2


async def test_a_handle_given_up_in_the_same_batch_can_be_taken(storage: Storage, source_url: str) -> None:
    await create_source(source_url, [profile("old.bsky.social", did=did("first owner"))])
    await migrate(storage, source_url)
    await execute(source_url, "UPDATE bluesky_profiles SET handle = 'new.bsky.social'")
    await create_source(source_url, [profile("old.bsky.social", did=did("second owner"))])

    tally = await migrate(storage, source_url)

    assert (tally.created, tally.updated, tally.total_skipped) == (1, 1, 0)
    rows = await state(storage)
    assert rows[did("first owner")]["agent"]["name"] == "new.bsky.social"
    assert rows[did("second owner")]["agent"]["name"] == "old.bsky.social"


async def test_a_handle_held_by_another_agent_is_taken(storage: Storage, source_url: str) -> None:
    await create_source(source_url, SEED_PROFILES)
    await migrate(storage, source_url)
    # Bob's DID now claims Alice's handle, which Alice's agent still holds.
    await execute(source_url, "DELETE FROM bluesky_profiles WHERE handle = 'alice.bsky.social'")
    await execute(source_url, "UPDATE bluesky_profiles SET handle = 'alice.bsky.social' WHERE did = :did",
                  {"did": did("bob.bsky.social")})  # fmt: skip

    tally = await migrate(storage, source_url)

    assert tally.skipped == Counter(handle_taken=1)
    rows = await state(storage)
    assert rows[did("bob.bsky.social")]["agent"]["name"] == "bob.bsky.social"


async def test_an_agent_that_has_a_bio_gets_none_from_the_migration(storage: Storage, source_url: str) -> None:
    agent = Agent(id=did("alice.bsky.social"), name="alice.bsky.social", display_name="Alice")
    own = AgentBio(agent_id=agent.id, persona_bio="written here", persona_bio_source=PersonaBioSource.USER_PROVIDED)

    async def seed(uow: UnitOfWork) -> None:
        await uow.agents.add(agent)
        await uow.bios.add(own)

    await storage.run(seed)
    await create_source(source_url, SEED_PROFILES[:1], SEED_BIOS)

    tally = await migrate(storage, source_url)

    assert (tally.created, tally.updated) == (0, 1)  # its metadata was made
    row = (await state(storage))[agent.id]
    assert [b["persona_bio"] for b in row["bios"]] == ["written here"]
    assert row["agent"]["persona_source"] == PersonaSource.USER_GENERATED  # an update keeps the rest


# Dry run.


async def test_dry_run_writes_nothing_and_counts_as_a_real_run(storage: Storage, source_url: str) -> None:
    await create_source(source_url, [*SEED_PROFILES, profile("bad handle")], SEED_BIOS)

    dry = await migrate(storage, source_url, dry_run=True)

    assert await state(storage) == {}
    real = await migrate(storage, source_url)
    assert counts(dry) == counts(real)
    assert (real.created, real.total_skipped) == (2, 1)


async def test_dry_run_of_changes_reports_them_and_keeps_the_old_rows(storage: Storage, source_url: str) -> None:
    await create_source(source_url, SEED_PROFILES, SEED_BIOS)
    await migrate(storage, source_url)
    before = await state(storage)
    await execute(source_url, "UPDATE bluesky_profiles SET handle = 'alice.example.com' WHERE did = :did",
                  {"did": did("alice.bsky.social")})  # fmt: skip
    await create_source(source_url, [profile("alice.bsky.social", did=did("new alice"))])

    dry = await migrate(storage, source_url, dry_run=True, batch_size=1)

    assert await state(storage) == before
    real = await migrate(storage, source_url, batch_size=1)
    assert counts(dry) == counts(real)
    assert (real.created, real.updated, real.unchanged) == (1, 1, 1)


# Where the source is.


async def test_legacy_tables_beside_agentkeeps_in_one_database(source_url: str, source_kind: str) -> None:
    url = source_url
    storage = open_storage(url) if source_kind == "sqlite" else PostgresStorage(url)
    try:
        await storage.create_schema()
        await create_source(url, SEED_PROFILES, SEED_BIOS)

        tally = await migrate(storage, url)

        assert tally.created == 2
        assert (await migrate(storage, url)).unchanged == 2
        assert len(await state(storage)) == 2
    finally:
        await storage.close()


async def test_a_missing_source_file_is_not_found_and_not_created(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.db"

    with pytest.raises(NotFound) as raised:
        await open_profile_source(f"sqlite:///{path}")

    assert raised.value.key == "source_url"
    assert not path.exists()


async def test_a_database_without_profiles_is_not_found(source_url: str) -> None:
    await execute(source_url, "CREATE TABLE something_else (x INTEGER)")

    with pytest.raises(NotFound) as raised:
        await open_profile_source(source_url)

    assert raised.value.key == "source_url"


async def test_nothing_is_written_to_the_source(storage: Storage, source_url: str) -> None:
    await create_source(source_url, [*SEED_PROFILES, profile(""), profile("z.bsky.social", did="x")], SEED_BIOS)
    before = await fingerprint(source_url)

    await migrate(storage, source_url, batch_size=1)
    await migrate(storage, source_url, dry_run=True)

    assert await fingerprint(source_url) == before


# Reading the source.


async def test_every_profile_is_read_once_in_row_order_across_many_pages(source_url: str) -> None:
    # Long bios spread the rows over many PostgreSQL heap pages; a gap of deleted rows leaves
    # empty pages behind.
    handles = [f"user{i:04d}.example" for i in range(600)]
    await create_source(source_url, [profile(h, bio="b" * 700) for h in handles])
    gone = "DELETE FROM bluesky_profiles WHERE handle >= 'user0100.example' AND handle < 'user0400.example'"
    await execute(source_url, gone)
    kept = handles[:100] + handles[400:]

    for size in (1, 7, 1000):
        assert [p.handle for p in await read_source(source_url, size)] == kept


async def test_count_is_the_number_of_profiles(source_url: str) -> None:
    await create_source(source_url, [*SEED_PROFILES, profile("", did=None)])

    source = await open_profile_source(source_url)
    try:
        assert await source.count() == 3
    finally:
        await source.close()


async def test_a_batch_reads_by_row_key_and_index_lookups(source_url: str, source_kind: str) -> None:
    await create_many(source_url, 20_000)
    source = await open_profile_source(source_url)
    try:
        # The batch query of the source itself (private: what is checked is how it runs).
        query = source._batch_sql.text
        if source_kind == "sqlite":
            rows = await source._db.fetch(f"EXPLAIN QUERY PLAN {query}", {"after": 0, "size": 1000})
            plan = [str(row[3]) for row in rows]
            assert plan == [
                "SEARCH p USING INTEGER PRIMARY KEY (rowid>?)",
                "SEARCH rh USING COVERING INDEX ak_repeated_handles_k (k=?) LEFT-JOIN",
                "SEARCH rd USING COVERING INDEX ak_repeated_dids_did (did=?) LEFT-JOIN",
                "SEARCH b USING INDEX ak_newest_bios_k (k=?) LEFT-JOIN",
            ]
        else:
            rows = await source._db.fetch(text(f"EXPLAIN {query}"), {"lo": 10, "hi": 25})
            plan = "\n".join(str(row[0]) for row in rows)
            assert "Tid Range Scan on bluesky_profiles p" in plan
            for table in ("ak_repeated_handles", "ak_repeated_dids", "ak_newest_bios"):
                assert f" on {table} " in plan and "Index" in plan.split(f" on {table} ")[0].rsplit("->", 1)[-1]
            assert "Seq Scan" not in plan and "Hash" not in plan
        profiles = [p async for batch in source.batches(1000) for p in batch]
    finally:
        await source.close()
    assert len(profiles) == 20_000
    assert sum(p.handle_repeated for p in profiles) == sum(p.did_repeated for p in profiles) == 4000
    assert {p.generated_bio for p in profiles} == {"newer"}
