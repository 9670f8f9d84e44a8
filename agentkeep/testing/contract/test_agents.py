"""Agents: ids, unique names (compared lower-case), resolve by id then name, paging, patches."""

from __future__ import annotations

import re
import uuid

import pytest

from agentkeep.domain.errors import Conflict
from agentkeep.domain.models import Agent
from agentkeep.domain.paging import Paging
from agentkeep.domain.patches import AgentPatch
from agentkeep.domain.ports import Storage
from agentkeep.testing.builders import add, an_agent, at


async def test_agent_made_without_id_gets_32_hex_characters(storage: Storage) -> None:
    agent = Agent(name="helper")

    await add(storage, agent)

    assert re.fullmatch(r"[0-9a-f]{32}", agent.id)
    assert await storage.run(lambda uow: uow.agents.get(agent.id)) == agent


async def test_caller_given_did_is_kept(storage: Storage) -> None:
    did = "did:plc:abcdefghijklmnopqrstuvwx"

    await add(storage, an_agent(id=did, name="alice.bsky.social"))

    stored = await storage.run(lambda uow: uow.agents.get(did))
    assert stored is not None
    assert (stored.id, stored.name) == (did, "alice.bsky.social")


async def test_duplicate_id_is_a_conflict_on_id(storage: Storage) -> None:
    agent = an_agent()
    await add(storage, agent)

    with pytest.raises(Conflict) as caught:
        await add(storage, an_agent(id=agent.id))

    assert caught.value.key == "id"


async def test_duplicate_name_in_another_case_is_a_conflict_on_name(storage: Storage) -> None:
    await add(storage, an_agent(name="bob.bsky.social"))

    with pytest.raises(Conflict) as caught:
        await add(storage, an_agent(name="BOB.bsky.Social"))

    assert caught.value.key == "name"


async def test_get_by_name_ignores_case(storage: Storage) -> None:
    agent = an_agent(name="carol")
    await add(storage, agent)

    assert await storage.run(lambda uow: uow.agents.get_by_name("CaRoL")) == agent
    assert await storage.run(lambda uow: uow.agents.get_by_name("dave")) is None


async def test_resolve_finds_by_id_then_by_name(storage: Storage) -> None:
    agent = an_agent(name="erin")
    await add(storage, agent)

    assert await storage.run(lambda uow: uow.agents.resolve(agent.id)) == agent
    assert await storage.run(lambda uow: uow.agents.resolve("erin")) == agent
    assert await storage.run(lambda uow: uow.agents.resolve("ERIN")) == agent
    assert await storage.run(lambda uow: uow.agents.resolve("nobody")) is None
    assert await storage.run(lambda uow: uow.agents.resolve(uuid.uuid4().hex)) is None


async def test_resolve_prefers_the_id_over_a_name_that_looks_like_it(storage: Storage) -> None:
    by_id = an_agent()
    named_like_the_id = an_agent(name=by_id.id)
    await add(storage, named_like_the_id, by_id)

    found = await storage.run(lambda uow: uow.agents.resolve(by_id.id))

    assert found is not None
    assert found.id == by_id.id


async def test_resolve_falls_back_to_a_name_shaped_like_an_id(storage: Storage) -> None:
    hex_name = uuid.uuid4().hex
    agent = an_agent(name=hex_name)
    await add(storage, agent)

    assert await storage.run(lambda uow: uow.agents.resolve(hex_name)) == agent


async def test_list_pages_with_total_and_filters_active(storage: Storage) -> None:
    agents = [an_agent(created_at=at(i), active=i % 2 == 0) for i in range(5)]
    await add(storage, *agents)

    page, total = await storage.run(lambda uow: uow.agents.list(Paging(page=2, page_size=2)))
    active, active_total = await storage.run(lambda uow: uow.agents.list(Paging(), active_only=True))
    newest, _ = await storage.run(lambda uow: uow.agents.list(Paging(page_size=1, sort_desc=True)))
    past, past_total = await storage.run(lambda uow: uow.agents.list(Paging(page=2), active_only=True))

    assert [a.id for a in page] == [agents[2].id, agents[3].id]
    assert total == 5
    assert [a.id for a in active] == [agents[0].id, agents[2].id, agents[4].id]
    assert active_total == 3
    assert [a.id for a in newest] == [agents[4].id]
    assert (past, past_total) == ([], 3)


async def test_equal_created_at_is_ordered_by_id(storage: Storage) -> None:
    agents = [an_agent(created_at=at(0)) for _ in range(5)]
    await add(storage, *agents)

    items, _ = await storage.run(lambda uow: uow.agents.list(Paging(sort_desc=True)))

    assert [a.id for a in items] == sorted((a.id for a in agents), reverse=True)


async def test_every_field_round_trips(storage: Storage) -> None:
    agent = Agent(
        name="Full.Agent_1",
        display_name="Fülle 🤖",
        persona_source="sync_bluesky",
        type="assistant",
        model="openai:gpt-4o-mini",
        description="Does everything",
        system_prompt="You are {{name}}.\nBe brief.",
        config={"temperature": 0.5, "tools": ["search", {"name": "calc", "args": [1, 2]}], "nested": {"x": None}},
        active=False,
        version="1.0.0",
        created_at=at(1),
    )
    await add(storage, agent)

    stored = await storage.run(lambda uow: uow.agents.get(agent.id))

    assert stored == agent
    assert stored is not None
    assert stored.name == "full.agent_1"


async def test_patch_sets_only_given_fields_and_null_clears(storage: Storage) -> None:
    agent = an_agent(display_name="Old", description="keep me", config={"a": {"b": 1}}, created_at=at(0))
    await add(storage, agent)

    patch = AgentPatch.parse({"display_name": None, "config": {"c": 2}, "active": False})
    updated = await storage.run(lambda uow: uow.agents.update(agent.id, patch))

    assert updated is not None
    assert updated == await storage.run(lambda uow: uow.agents.get(agent.id))
    assert (updated.display_name, updated.config, updated.active) == (None, {"c": 2}, False)
    assert (updated.description, updated.name, updated.created_at) == ("keep me", agent.name, at(0))
    assert updated.updated_at > agent.updated_at  # type: ignore[operator]


async def test_rename_to_a_taken_name_is_a_conflict_on_name(storage: Storage) -> None:
    agent = an_agent(name="first")
    await add(storage, agent, an_agent(name="second"))

    with pytest.raises(Conflict) as caught:
        await storage.run(lambda uow: uow.agents.update(agent.id, AgentPatch.parse({"name": "SECOND"})))

    assert caught.value.key == "name"


async def test_rename_is_stored_lower_case_and_found_by_the_new_name(storage: Storage) -> None:
    agent = an_agent(name="before")
    await add(storage, agent)

    await storage.run(lambda uow: uow.agents.update(agent.id, AgentPatch.parse({"name": "After.Bsky.Social"})))

    found = await storage.run(lambda uow: uow.agents.get_by_name("after.bsky.social"))
    assert found is not None
    assert found.id == agent.id
    assert await storage.run(lambda uow: uow.agents.get_by_name("before")) is None


async def test_empty_patch_or_unknown_agent(storage: Storage) -> None:
    agent = an_agent()
    await add(storage, agent)

    assert await storage.run(lambda uow: uow.agents.update(agent.id, AgentPatch())) == agent
    assert await storage.run(lambda uow: uow.agents.update(uuid.uuid4().hex, AgentPatch(active=False))) is None


async def test_delete_tells_whether_there_was_an_agent(storage: Storage) -> None:
    agent = an_agent()
    await add(storage, agent)

    assert await storage.run(lambda uow: uow.agents.delete(agent.id)) is True
    assert await storage.run(lambda uow: uow.agents.delete(agent.id)) is False
    assert await storage.run(lambda uow: uow.agents.get(agent.id)) is None
