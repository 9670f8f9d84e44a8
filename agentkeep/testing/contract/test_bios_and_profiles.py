"""Persona bios (many per agent; the newest, ties by insertion, is current) and profile metadata
(one per agent, upserted)."""

from __future__ import annotations

import uuid

import pytest

from agentkeep.domain.errors import Conflict, NotFound
from agentkeep.domain.models import AgentProfileMetadata
from agentkeep.domain.paging import Paging
from agentkeep.domain.patches import AgentBioPatch, ProfileCounts
from agentkeep.domain.ports import Storage
from agentkeep.testing.builders import a_bio, add, an_agent, at


async def test_bio_is_stored_with_its_id_kept(storage: Storage) -> None:
    agent = an_agent()
    bio = a_bio(agent, id=uuid.UUID("11111111-2222-4333-8444-555555555555"), persona_bio="Hi 👋\nthere")
    await add(storage, agent, bio)

    assert await storage.run(lambda uow: uow.bios.get(bio.id)) == bio


async def test_bio_of_a_missing_agent_is_not_found(storage: Storage) -> None:
    with pytest.raises(NotFound):
        await add(storage, a_bio(an_agent()))


async def test_duplicate_bio_id_is_a_conflict_on_id(storage: Storage) -> None:
    agent = an_agent()
    bio = a_bio(agent)
    await add(storage, agent, bio)

    with pytest.raises(Conflict) as caught:
        await add(storage, a_bio(agent, id=bio.id))

    assert caught.value.key == "id"


async def test_latest_bio_with_equal_created_at_is_the_last_inserted(storage: Storage) -> None:
    agent = an_agent()
    bios = [a_bio(agent, persona_bio=f"bio {i}", created_at=at(0)) for i in range(5)]
    await add(storage, agent, *bios)

    assert await storage.run(lambda uow: uow.bios.latest(agent.id)) == bios[-1]


async def test_latest_bio_is_the_newest_whatever_the_insertion_order(storage: Storage) -> None:
    agent = an_agent()
    newest, older = a_bio(agent, created_at=at(10)), a_bio(agent, created_at=at(5))
    await add(storage, agent, newest, older)

    assert await storage.run(lambda uow: uow.bios.latest(agent.id)) == newest


async def test_latest_bio_of_an_agent_without_bios_is_none(storage: Storage) -> None:
    agent = an_agent()
    other = an_agent()
    await add(storage, agent, other, a_bio(other))

    assert await storage.run(lambda uow: uow.bios.latest(agent.id)) is None


async def test_bio_list_is_in_stable_order_both_ways_with_total(storage: Storage) -> None:
    agent, other = an_agent(), an_agent()
    bios = [a_bio(agent, created_at=at(0)) for _ in range(3)] + [a_bio(agent, created_at=at(-1))]
    await add(storage, agent, other, *bios, a_bio(other))
    oldest_first = [bios[3], bios[0], bios[1], bios[2]]

    ascending, total = await storage.run(lambda uow: uow.bios.list(agent.id, Paging()))
    descending, _ = await storage.run(lambda uow: uow.bios.list(agent.id, Paging(sort_desc=True)))
    second, _ = await storage.run(lambda uow: uow.bios.list(agent.id, Paging(page=2, page_size=3, sort_desc=True)))
    past, past_total = await storage.run(lambda uow: uow.bios.list(agent.id, Paging(page=3, page_size=2)))

    assert ascending == oldest_first
    assert descending == oldest_first[::-1]
    assert second == [bios[3]]
    assert total == past_total == 4
    assert past == []


async def test_bio_patch_and_delete(storage: Storage) -> None:
    agent = an_agent()
    bio = a_bio(agent, persona_bio="old", persona_bio_source="user_provided")
    await add(storage, agent, bio)

    patch = AgentBioPatch.parse({"persona_bio": "new"})
    updated = await storage.run(lambda uow: uow.bios.update(bio.id, patch))

    assert updated is not None
    assert (updated.persona_bio, updated.persona_bio_source, updated.agent_id) == ("new", "user_provided", agent.id)
    assert await storage.run(lambda uow: uow.bios.get(bio.id)) == updated
    assert await storage.run(lambda uow: uow.bios.update(uuid.uuid4(), patch)) is None
    assert await storage.run(lambda uow: uow.bios.delete(bio.id)) is True
    assert await storage.run(lambda uow: uow.bios.delete(bio.id)) is False
    assert await storage.run(lambda uow: uow.bios.get(bio.id)) is None


async def test_patched_bio_keeps_its_place_in_the_order(storage: Storage) -> None:
    agent = an_agent()
    first, second = a_bio(agent, created_at=at(0)), a_bio(agent, created_at=at(0))
    await add(storage, agent, first, second)

    await storage.run(lambda uow: uow.bios.update(first.id, AgentBioPatch.parse({"persona_bio": "edited"})))

    latest = await storage.run(lambda uow: uow.bios.latest(agent.id))
    assert latest is not None
    assert latest.id == second.id


async def test_profile_upsert_creates_then_updates_the_same_row(storage: Storage) -> None:
    agent = an_agent()
    await add(storage, agent)
    first = AgentProfileMetadata(agent_id=agent.id, followers_count=1, follows_count=2, posts_count=3)
    second = AgentProfileMetadata(agent_id=agent.id, followers_count=10, follows_count=20, posts_count=30)

    stored, created = await storage.run(lambda uow: uow.profile_metadata.upsert(first))
    again, created_again = await storage.run(lambda uow: uow.profile_metadata.upsert(second))

    assert (stored, created) == (first, True)
    assert created_again is False
    assert again.id == first.id
    assert (again.followers_count, again.follows_count, again.posts_count) == (10, 20, 30)
    assert await storage.run(lambda uow: uow.profile_metadata.get(agent.id)) == again


async def test_profile_upsert_with_partial_counts_keeps_the_others(storage: Storage) -> None:
    agent = an_agent()
    await add(storage, agent)
    await storage.run(
        lambda uow: uow.profile_metadata.upsert(
            AgentProfileMetadata(agent_id=agent.id, followers_count=1, follows_count=2, posts_count=3)
        )
    )

    counts = ProfileCounts.parse({"posts_count": 99})
    stored, created = await storage.run(
        lambda uow: uow.profile_metadata.upsert(AgentProfileMetadata(agent_id=agent.id, posts_count=99), counts)
    )

    assert created is False
    assert (stored.followers_count, stored.follows_count, stored.posts_count) == (1, 2, 99)


async def test_profile_counts_keep_64_bit_values(storage: Storage) -> None:
    agent = an_agent()
    await add(storage, agent)
    big = AgentProfileMetadata(agent_id=agent.id, followers_count=2**63 - 1, follows_count=0, posts_count=2**40)

    await storage.run(lambda uow: uow.profile_metadata.upsert(big))

    assert await storage.run(lambda uow: uow.profile_metadata.get(agent.id)) == big


async def test_profile_of_a_missing_agent_is_not_found(storage: Storage) -> None:
    with pytest.raises(NotFound):
        await storage.run(lambda uow: uow.profile_metadata.upsert(AgentProfileMetadata(agent_id=uuid.uuid4().hex)))


async def test_profile_get_and_delete(storage: Storage) -> None:
    agent = an_agent()
    await add(storage, agent)
    assert await storage.run(lambda uow: uow.profile_metadata.get(agent.id)) is None
    await storage.run(lambda uow: uow.profile_metadata.upsert(AgentProfileMetadata(agent_id=agent.id)))

    assert await storage.run(lambda uow: uow.profile_metadata.delete(agent.id)) is True
    assert await storage.run(lambda uow: uow.profile_metadata.delete(agent.id)) is False
    assert await storage.run(lambda uow: uow.profile_metadata.get(agent.id)) is None


async def test_resolve_with_bio_reads_the_agent_and_its_current_bio(storage: Storage) -> None:
    agent, bare = an_agent(), an_agent()
    bios = [a_bio(agent, persona_bio=f"bio {i}", created_at=at(i % 2)) for i in range(3)]  # the last of at(0) loses
    await add(storage, agent, bare, *bios)

    for ref in (agent.id, agent.name, agent.name.upper()):
        assert await storage.run(lambda uow, ref=ref: uow.agents.resolve_with_bio(ref)) == (agent, bios[1])
    assert await storage.run(lambda uow: uow.agents.resolve_with_bio(bare.name)) == (bare, None)
    assert await storage.run(lambda uow: uow.agents.resolve_with_bio("nobody")) is None
