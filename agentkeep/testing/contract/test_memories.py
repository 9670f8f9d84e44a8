"""Memories: parents, the (name, agent, user) rule with agent-wide ones clashing, filters, for_run."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from agentkeep.domain.errors import Conflict, NotFound
from agentkeep.domain.paging import Paging
from agentkeep.domain.patches import MemoryPatch
from agentkeep.domain.ports import Storage
from agentkeep.domain.values import ReadMode
from agentkeep.testing.builders import a_memory, a_session, a_user, add, an_agent, at, seed

CONTENTS: list[Any] = [
    "plain text with ünïcode 🧠",
    "",
    {"profile": {"likes": ["tea", "chess"], "age": 41, "vip": True, "note": None}},
    [1, "two", {"three": 3.5}],
    42,
    -(2**63),
    True,
    None,
]


@pytest.mark.parametrize("content", CONTENTS, ids=[type(c).__name__ for c in CONTENTS])
async def test_text_or_json_content_round_trips(storage: Storage, content: Any) -> None:
    user, agent, session = await seed(storage)
    memory = a_memory(
        agent,
        user,
        session_id=session.id,
        description="what the user likes",
        content=content,
        read_mode=ReadMode.TOOL_CALL,
        access="read",
        metadata={"source": "chat", "score": [1, 2]},
        created_at=at(1),
    )
    await add(storage, memory)

    assert await storage.run(lambda uow: uow.memories.get(memory.id)) == memory


async def test_memory_of_a_missing_agent_user_or_session_is_not_found(storage: Storage) -> None:
    user, agent, _ = await seed(storage)

    for memory in (
        a_memory(an_agent()),
        a_memory(agent, a_user()),
        a_memory(agent, user, session_id=uuid.uuid4()),
    ):
        with pytest.raises(NotFound):
            await add(storage, memory)

    _, total = await storage.run(lambda uow: uow.memories.list(Paging()))
    assert total == 0


async def test_two_agent_wide_memories_of_one_name_clash_on_name(storage: Storage) -> None:
    _, agent, _ = await seed(storage)
    await add(storage, a_memory(agent, name="rules"))

    with pytest.raises(Conflict) as caught:
        await add(storage, a_memory(agent, name="rules"))

    assert caught.value.key == "name"


async def test_two_memories_of_one_name_for_one_user_clash_on_name(storage: Storage) -> None:
    user, agent, session = await seed(storage)
    await add(storage, a_memory(agent, user, name="prefs"))

    with pytest.raises(Conflict) as caught:
        # The session binding is no part of the rule.
        await add(storage, a_memory(agent, user, name="prefs", session_id=session.id))

    assert caught.value.key == "name"


async def test_one_name_for_different_users_agents_or_agent_wide_is_fine(storage: Storage) -> None:
    alice, agent, _ = await seed(storage)
    bob, other = a_user(), an_agent()
    await add(storage, bob, other)

    await add(
        storage,
        a_memory(agent, alice, name="prefs"),
        a_memory(agent, bob, name="prefs"),
        a_memory(agent, name="prefs"),
        a_memory(other, alice, name="prefs"),
        a_memory(other, name="prefs"),
    )

    _, total = await storage.run(lambda uow: uow.memories.list(Paging(), name="prefs"))
    assert total == 5


async def test_duplicate_memory_id_is_a_conflict_on_id(storage: Storage) -> None:
    _, agent, _ = await seed(storage)
    memory = a_memory(agent)
    await add(storage, memory)

    with pytest.raises(Conflict) as caught:
        await add(storage, a_memory(agent, id=memory.id))

    assert caught.value.key == "id"


async def test_add_many_writes_every_memory_or_none(storage: Storage) -> None:
    user, agent, _ = await seed(storage)
    batch = [a_memory(agent, user, name="a"), a_memory(agent, name="b")]

    written = await storage.run(lambda uow: uow.memories.add_many(batch))
    with pytest.raises(Conflict) as caught:
        await storage.run(lambda uow: uow.memories.add_many([a_memory(agent, name="c"), a_memory(agent, name="b")]))

    assert written == batch
    assert caught.value.key == "name"
    names = {m.name for m in (await storage.run(lambda uow: uow.memories.list(Paging())))[0]}
    assert names == {"a", "b"}


async def test_get_by_name_tells_user_and_agent_wide_memories_apart(storage: Storage) -> None:
    user, agent, _ = await seed(storage)
    mine, everyones = a_memory(agent, user, name="tone"), a_memory(agent, name="tone")
    await add(storage, mine, everyones)

    assert await storage.run(lambda uow: uow.memories.get_by_name("tone", agent.id, user.id)) == mine
    assert await storage.run(lambda uow: uow.memories.get_by_name("tone", agent.id, None)) == everyones
    assert await storage.run(lambda uow: uow.memories.get_by_name("tone", agent.id, uuid.uuid4())) is None
    assert await storage.run(lambda uow: uow.memories.get_by_name("other", agent.id, None)) is None


async def test_names_taken_are_the_keys_asked_for_that_a_memory_has(storage: Storage) -> None:
    user, agent, _ = await seed(storage)
    other = an_agent()
    await add(storage, other)
    mine, everyones, elsewhere = a_memory(agent, user, name="tone"), a_memory(agent, name="tone"), a_memory(other)
    await add(storage, mine, everyones, elsewhere)
    asked = [
        mine.key,
        everyones.key,
        ("tone", agent.id, uuid.uuid4()),  # another user
        ("tone", other.id, None),  # another agent: its memory has another name
        (elsewhere.name, agent.id, None),  # that name, this agent
        ("other", agent.id, user.id),
    ]

    assert await storage.run(lambda uow: uow.memories.names_taken(asked)) == {mine.key, everyones.key}
    assert await storage.run(lambda uow: uow.memories.names_taken([elsewhere.key])) == {elsewhere.key}
    assert await storage.run(lambda uow: uow.memories.names_taken([])) == set()


async def test_list_filters_and_pages(storage: Storage) -> None:
    user, agent, session = await seed(storage)
    other = an_agent()
    await add(storage, other)
    memories = [
        a_memory(agent, user, name="m0", created_at=at(0)),
        a_memory(agent, name="m1", read_mode=ReadMode.TOOL_CALL, created_at=at(1)),
        a_memory(agent, user, name="m2", session_id=session.id, created_at=at(2)),
        a_memory(other, name="m3", created_at=at(3)),
        a_memory(other, user, name="m0", read_mode=ReadMode.TOOL_CALL, created_at=at(4)),
    ]
    await add(storage, *memories)

    async def ids(paging: Paging | None = None, **filters: Any) -> tuple[list[str], int]:
        items, total = await storage.run(lambda uow: uow.memories.list(paging or Paging(), **filters))
        return [m.name for m in items], total

    assert await ids(agent_id=agent.id) == (["m0", "m1", "m2"], 3)
    assert await ids(user_id=user.id) == (["m0", "m2", "m0"], 3)
    assert await ids(session_id=session.id) == (["m2"], 1)
    assert await ids(read_mode=ReadMode.TOOL_CALL) == (["m1", "m0"], 2)
    assert await ids(name="m0") == (["m0", "m0"], 2)
    assert await ids(agent_id=other.id, user_id=user.id, read_mode=ReadMode.TOOL_CALL, name="m0") == (["m0"], 1)
    assert await ids(Paging(page=2, page_size=2, sort_desc=True)) == (["m2", "m1"], 5)
    assert await ids(Paging(page=4, page_size=2)) == ([], 5)


async def test_for_run_gives_the_users_memories_then_agent_wide_ones_each_oldest_first(storage: Storage) -> None:
    user, agent, session = await seed(storage)
    other_user, other_agent = a_user(), an_agent()
    other_session = a_session(user, agent)
    await add(storage, other_user, other_agent, other_session)
    wide_new = a_memory(agent, name="wide-new", created_at=at(1))
    wide_old = a_memory(agent, name="wide-old", created_at=at(0))
    mine_new = a_memory(agent, user, name="mine-new", created_at=at(3))
    mine_old = a_memory(agent, user, name="mine-old", created_at=at(2))
    bound_here = a_memory(agent, user, name="bound-here", session_id=session.id, created_at=at(4))
    bound_wide_here = a_memory(agent, name="bound-wide-here", session_id=session.id, created_at=at(5))
    bound_elsewhere = a_memory(agent, user, name="bound-elsewhere", session_id=other_session.id, created_at=at(0))
    await add(
        storage,
        wide_new,
        mine_new,
        bound_here,
        bound_elsewhere,
        wide_old,
        mine_old,
        bound_wide_here,
        a_memory(agent, user, name="tool", read_mode=ReadMode.TOOL_CALL),
        a_memory(agent, other_user, name="theirs"),
        a_memory(other_agent, user, name="other-agent"),
    )

    async def names(user_id: uuid.UUID | None, session_id: uuid.UUID | None) -> list[str]:
        found = await storage.run(
            lambda uow: uow.memories.for_run(agent.id, user_id, ReadMode.SYSTEM_PROMPT, session_id)
        )
        return [m.name for m in found]

    assert await names(user.id, session.id) == [
        "mine-old",
        "mine-new",
        "bound-here",
        "wide-old",
        "wide-new",
        "bound-wide-here",
    ]
    assert await names(user.id, None) == ["mine-old", "mine-new", "wide-old", "wide-new"]
    assert await names(None, session.id) == ["wide-old", "wide-new", "bound-wide-here"]
    tools = await storage.run(lambda uow: uow.memories.for_run(agent.id, user.id, ReadMode.TOOL_CALL))
    assert [m.name for m in tools] == ["tool"]


async def test_patch_sets_only_given_fields_and_null_clears(storage: Storage) -> None:
    user, agent, _ = await seed(storage)
    memory = a_memory(agent, user, name="n", description="d", content="text", metadata={"k": 1}, created_at=at(0))
    await add(storage, memory)

    patch = MemoryPatch.parse({"description": None, "content": {"now": ["json"]}, "read_mode": "tool_call"})
    updated = await storage.run(lambda uow: uow.memories.update(memory.id, patch))

    assert updated is not None
    assert (updated.description, updated.content, updated.read_mode) == (None, {"now": ["json"]}, "tool_call")
    assert (updated.name, updated.metadata, updated.user_id, updated.created_at) == ("n", {"k": 1}, user.id, at(0))
    assert updated.updated_at > memory.updated_at  # type: ignore[operator]
    assert await storage.run(lambda uow: uow.memories.get(memory.id)) == updated
    assert await storage.run(lambda uow: uow.memories.update(uuid.uuid4(), patch)) is None
    assert await storage.run(lambda uow: uow.memories.update(memory.id, MemoryPatch())) == updated


async def test_content_patched_to_null_is_stored_as_null(storage: Storage) -> None:
    _, agent, _ = await seed(storage)
    memory = a_memory(agent, content={"a": 1})
    await add(storage, memory)

    updated = await storage.run(lambda uow: uow.memories.update(memory.id, MemoryPatch.parse({"content": None})))

    assert updated is not None
    assert updated.content is None
    stored = await storage.run(lambda uow: uow.memories.get(memory.id))
    assert stored is not None
    assert stored.content is None


async def test_rename_to_a_taken_name_is_a_conflict_on_name(storage: Storage) -> None:
    user, agent, _ = await seed(storage)
    wide = a_memory(agent, name="wide")
    mine = a_memory(agent, user, name="mine")
    await add(storage, wide, mine, a_memory(agent, name="taken"), a_memory(agent, user, name="taken-by-me"))

    async def rename(memory_id: uuid.UUID, name: str) -> None:
        await storage.run(lambda uow: uow.memories.update(memory_id, MemoryPatch.parse({"name": name})))

    for memory, name in ((wide, "taken"), (mine, "taken-by-me")):
        with pytest.raises(Conflict) as caught:
            await rename(memory.id, name)
        assert caught.value.key == "name"
    # The agent-wide "taken" is no clash for the user's memory, nor the reverse.
    renamed = await storage.run(lambda uow: uow.memories.update(mine.id, MemoryPatch.parse({"name": "taken"})))
    assert renamed is not None
    assert renamed.name == "taken"


async def test_delete_tells_whether_there_was_a_memory(storage: Storage) -> None:
    _, agent, _ = await seed(storage)
    memory = a_memory(agent)
    await add(storage, memory)

    assert await storage.run(lambda uow: uow.memories.delete(memory.id)) is True
    assert await storage.run(lambda uow: uow.memories.delete(memory.id)) is False
    assert await storage.run(lambda uow: uow.memories.get(memory.id)) is None
