"""migrate-agents (SPEC §4): agents, persona bios and profile metadata from the social-agent
simulation platform's `bluesky_profiles` and `agent_bios`."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter

from agentkeep.application.backfill import Options, Tally, WriteBehind, backfill
from agentkeep.domain.ids import migrated_bio_id, migrated_metadata_id, parse_agent_id
from agentkeep.domain.legacy import LegacyProfile
from agentkeep.domain.models import Agent, AgentBio, AgentProfileMetadata
from agentkeep.domain.ports.backfill import BackfillStorage, BackfillUnitOfWork
from agentkeep.domain.ports.legacy_sources import ProfileSource
from agentkeep.domain.values import AGENT_NAME_PATTERN, PersonaBioSource, PersonaSource, utcnow

TABLE = "agents"

# Skip reasons (SPEC §4; `invalid_did` is ours: a DID that is not a `did:` string).
MISSING_HANDLE = "missing_handle"
MISSING_DID = "missing_did"
INVALID_HANDLE = "invalid_handle"
INVALID_DID = "invalid_did"
NEGATIVE_COUNT = "negative_count"
DUPLICATE_HANDLE = "duplicate_handle"
DUPLICATE_DID = "duplicate_did"
HANDLE_TAKEN = "handle_taken"
# Values dropped from a migrated agent.
BAD_TIMESTAMP = "bad_timestamp"
DISPLAY_NAME_TRUNCATED = "display_name_truncated"

DISPLAY_NAME_MAX = 255
#: New agents written at a time, while the next ones are planned (`WriteBehind`).
WRITE_CHUNK = 2048
_HANDLE = re.compile(AGENT_NAME_PATTERN)

Counts = tuple[int, int, int]


class MigrateAgents:
    """Backfill agents from a `ProfileSource`, batch by batch, one transaction each.

    Each profile becomes (or updates) the Agent whose id is its DID (name = the handle,
    lower-cased; `sync_bluesky`; model `echo`; display name), its profile metadata (the counts,
    upserted with a deterministic id) and, when the agent has no bio yet, one bio with a
    deterministic id: the handle's newest generated bio (`ai_generated`, dated as in the source),
    else the profile's non-blank bio (`user_provided`). A bad row is skipped with its reason
    (checked in this order: missing_handle, missing_did, invalid_handle, invalid_did,
    negative_count, duplicate_handle, duplicate_did, handle_taken); a bio whose time cannot be read
    is reported as `bad_timestamp` while its agent proceeds. A profile whose agent is up to date is
    `unchanged` and nothing is written for it, so a re-run writes nothing. A dry run plans the same
    and writes nothing.
    """

    def __init__(self, storage: BackfillStorage) -> None:
        self._storage = storage

    async def __call__(self, source: ProfileSource, options: Options) -> Tally:
        total = await source.count()
        step = _MigrateBatch()
        return await backfill(self._storage, TABLE, source.batches(options.batch_size), step, options, total=total)


@dataclass(frozen=True, slots=True)
class _Profile:
    """A profile that passed the row checks, its values as agentkeep stores them."""

    source: LegacyProfile
    did: str
    name: str
    display_name: str | None
    counts: Counts


class _MigrateBatch:
    """The step of one migration run (one instance per run)."""

    def __init__(self) -> None:
        # Dry run only: names that renames planned in earlier batches would have freed (a real
        # run has written those renames, so later batches find the names free in storage).
        self._freed_by_plan: set[str] = set()

    async def __call__(
        self, uow: BackfillUnitOfWork, rows: Sequence[LegacyProfile], tally: Tally, *, dry_run: bool
    ) -> None:
        profiles = [p for p in (_check(row, tally) for row in rows) if p is not None]
        if not profiles:
            return
        now = utcnow()
        existing = {a.id: a for a in await uow.agents.get_many([p.did for p in profiles])}
        holders = {a.name: a.id for a in await uow.agents.get_many_by_name([p.name for p in profiles])}
        known = [p.did for p in profiles if p.did in existing]
        with_bio = await uow.bios.agents_with_bios(known) if known else set()
        stored_counts = {m.agent_id: _counts_of(m) for m in await uow.profile_metadata.get_many(known)} if known else {}

        def taken(name: str, did: str, freed: Collection[str] = ()) -> bool:
            holder = holders.get(name)
            return holder is not None and holder != did and name not in freed and name not in self._freed_by_plan

        updates: list[Agent] = []
        bios: list[AgentBio] = []
        counts: list[AgentProfileMetadata] = []
        migrated: list[_Profile] = []
        freed: set[str] = set()

        # Agents already here first: their renames free names that new agents of this batch may
        # take (updates are written before inserts). A rename onto a name that another rename of
        # this batch frees is not attempted (its order would matter): that row is handle_taken.
        for p in profiles:
            agent = existing.get(p.did)
            if agent is None:
                continue
            if agent.name != p.name and taken(p.name, p.did):
                tally.skip(HANDLE_TAKEN, _describe(p.source))
                continue
            changed = False
            if agent.name != p.name or agent.display_name != p.display_name:
                if agent.name != p.name:
                    freed.add(agent.name)
                updates.append(
                    agent.model_copy(update={"name": p.name, "display_name": p.display_name, "updated_at": now})
                )
                changed = True
            if stored_counts.get(p.did) != p.counts:
                counts.append(_metadata(p, now))
                changed = True
            if p.did not in with_bio and (bio := _bio(p.source, p.did, now)) is not None:
                bios.append(bio)
                changed = True
            if changed:
                tally.updated += 1
            else:
                tally.unchanged += 1
            migrated.append(p)

        async with WriteBehind() as writes:
            if not dry_run and (updates or bios or counts):
                writes.submit(_Rows(uow, updates, [], bios, counts).write)
            # The order of a batch means nothing here, so new agents go in id order: a storage
            # writes rows in key order with far fewer page loads than in the source's (random)
            # order. They are written a chunk at a time, each while the next is planned.
            chunk = _Rows(uow)
            for p in sorted((p for p in profiles if p.did not in existing), key=_did):
                if taken(p.name, p.did, freed):
                    tally.skip(HANDLE_TAKEN, _describe(p.source))
                    continue
                chunk.creates.append(
                    Agent(
                        id=p.did,
                        name=p.name,
                        display_name=p.display_name,
                        persona_source=PersonaSource.SYNC_BLUESKY,
                        model="echo",
                        created_at=now,
                        updated_at=now,
                    )
                )
                chunk.counts.append(_metadata(p, now))
                if (bio := _bio(p.source, p.did, now)) is not None:
                    chunk.bios.append(bio)
                tally.created += 1
                migrated.append(p)
                if len(chunk.creates) == WRITE_CHUNK and not dry_run:
                    writes.submit(chunk.write)
                    chunk = _Rows(uow)
                await writes.pause()
            if chunk.creates and not dry_run:
                writes.submit(chunk.write)

        for p in migrated:
            _report_dropped(p, tally)
        if dry_run:
            self._freed_by_plan |= freed


@dataclass(slots=True)
class _Rows:
    """Rows to write together, in this order: updated agents, new agents, then the bios and
    profile metadata (of agents written before)."""

    uow: BackfillUnitOfWork
    updates: list[Agent] = field(default_factory=list)
    creates: list[Agent] = field(default_factory=list)
    bios: list[AgentBio] = field(default_factory=list)
    counts: list[AgentProfileMetadata] = field(default_factory=list)

    async def write(self) -> None:
        await self.uow.agents.update_many(self.updates)
        await self.uow.agents.add_many(self.creates)
        await self.uow.bios.add_many(self.bios)
        await self.uow.profile_metadata.upsert_many(self.counts)


def _check(row: LegacyProfile, tally: Tally) -> _Profile | None:
    """The profile as agentkeep stores it, or None when the row is bad (counted in `tally`)."""
    reason = _reason(row)
    if reason is not None:
        tally.skip(reason, _describe(row))
        return None
    assert row.handle is not None and row.did is not None  # checked by _reason
    display_name = row.display_name if row.display_name and row.display_name.strip() else None
    return _Profile(
        source=row,
        did=row.did,
        name=row.handle.lower(),
        display_name=display_name[:DISPLAY_NAME_MAX] if display_name is not None else None,
        counts=(row.followers_count or 0, row.follows_count or 0, row.posts_count or 0),
    )


def _reason(row: LegacyProfile) -> str | None:
    handle, did = row.handle, row.did
    if handle is None or not handle.strip():
        return MISSING_HANDLE
    if not did:
        return MISSING_DID
    # ASCII only: `str.lower()` maps a few other characters onto ASCII letters (the Kelvin sign
    # onto `k`), which the source's database would not see as the same handle.
    if not handle.isascii() or _HANDLE.match(handle.lower()) is None:
        return INVALID_HANDLE
    if not _is_did(did):
        return INVALID_DID
    if any(c is not None and c < 0 for c in (row.followers_count, row.follows_count, row.posts_count)):
        return NEGATIVE_COUNT
    if row.handle_repeated:
        return DUPLICATE_HANDLE
    if row.did_repeated:
        return DUPLICATE_DID
    return None


def _is_did(value: str) -> bool:
    if not value.startswith("did:"):
        return False
    try:
        parse_agent_id(value)
    except ValueError:
        return False
    return True


def _bio(row: LegacyProfile, did: str, now: datetime) -> AgentBio | None:
    """The bio to migrate: the newest generated one, else the profile's own, else none."""
    if row.generated_bio is not None and row.generated_bio.strip():
        text, source, at = row.generated_bio, PersonaBioSource.AI_GENERATED, row.generated_bio_at or now
    elif row.bio is not None and row.bio.strip():
        text, source, at = row.bio, PersonaBioSource.USER_PROVIDED, now
    else:
        return None
    return AgentBio(
        id=migrated_bio_id(did), agent_id=did, persona_bio=text, persona_bio_source=source, created_at=at, updated_at=at
    )


def _metadata(p: _Profile, now: datetime) -> AgentProfileMetadata:
    followers, follows, posts = p.counts
    return AgentProfileMetadata(
        id=migrated_metadata_id(p.did),
        agent_id=p.did,
        followers_count=followers,
        follows_count=follows,
        posts_count=posts,
        created_at=now,
        updated_at=now,
    )


_did = attrgetter("did")


def _counts_of(m: AgentProfileMetadata) -> Counts:
    return (m.followers_count, m.follows_count, m.posts_count)


def _report_dropped(p: _Profile, tally: Tally) -> None:
    row = p.source
    for n in range(row.bad_bio_timestamps):
        tally.drop(BAD_TIMESTAMP, f"{_describe(row)} bio {n + 1} of {row.bad_bio_timestamps}")
    if row.display_name is not None and len(row.display_name) > DISPLAY_NAME_MAX:
        tally.drop(DISPLAY_NAME_TRUNCATED, _describe(row))


def _describe(row: LegacyProfile) -> str:
    return f"handle={row.handle!r} did={row.did!r}"
