"""Messages: parents, one stable order (created_at, then insertion), paging, last(n), patches."""

from __future__ import annotations

import uuid

import pytest

from agentkeep.domain.errors import Conflict, NotFound
from agentkeep.domain.models import Message, ToolCall, ToolOutput, Usage
from agentkeep.domain.paging import Paging
from agentkeep.domain.patches import MessagePatch
from agentkeep.domain.ports import Storage
from agentkeep.domain.values import Role
from agentkeep.testing.builders import a_message, a_session, add, at, seed


async def test_message_of_a_missing_session_is_not_found(storage: Storage) -> None:
    await seed(storage)

    with pytest.raises(NotFound):
        await add(storage, Message(session_id=uuid.uuid4(), role=Role.USER, text_content="lost"))


async def test_message_of_a_missing_user_is_not_found(storage: Storage) -> None:
    _, _, session = await seed(storage)

    with pytest.raises(NotFound):
        await add(storage, a_message(session, user_id=uuid.uuid4()))


async def test_duplicate_message_id_is_a_conflict_on_id(storage: Storage) -> None:
    _, _, session = await seed(storage)
    message = a_message(session)
    await add(storage, message)

    with pytest.raises(Conflict) as caught:
        await add(storage, a_message(session, id=message.id))

    assert caught.value.key == "id"


async def test_every_field_round_trips(storage: Storage) -> None:
    _, _, session = await seed(storage)
    message = a_message(
        session,
        id=uuid.UUID("33333333-4444-4555-8666-777777777777"),
        role=Role.ASSISTANT,
        text_content="Voilà — 答え 🎉",
        media_url="https://example.com/cat.png",
        mime_type="image/png",
        message_type="image",
        tool_calls=[
            ToolCall(id="call_1", name="search", arguments={"q": "ünï", "limit": 3, "filters": {"lang": ["fr"]}}),
            ToolCall(id="call_2", name="noop", arguments=[]),
        ],
        tool_outputs=[ToolOutput(tool_call_id="call_1", name="search", content={"hits": [1, 2]})],
        context={"channel": {"id": 7, "thread": None}},
        usage=Usage(model="gpt-4o-mini", request_tokens=12, response_tokens=5, total_tokens=17, duration_ms=12.5),
        system_prompt="You are helpful.\n{{rules}}",
        created_at=at(1),
    )
    await add(storage, message)

    assert await storage.run(lambda uow: uow.messages.get(message.id)) == message


async def test_last_reads_every_field_back_as_written(storage: Storage) -> None:
    """`last` decodes a page in one go (on SQL, a JSON array the database builds): every field
    comes back exact, numbers that need 17 digits, escapes and a system prompt included."""
    _, _, session = await seed(storage)
    tricky = {"sum": 0.1 + 0.2, "tiny": 5e-324, "big": 2**62, "neg": -0.0, "esc": 'tab\t"q" \\ \u2028 \x01 é'}
    message = a_message(
        session,
        role=Role.ASSISTANT,
        text_content='Voilà — 答え 🎉 "quoted" \\ \n\x01',
        media_url="https://example.com/cat.png",
        mime_type="image/png",
        message_type="image",
        tool_calls=[ToolCall(id="call_1", name="search", arguments={"q": "ünï", "nested": [tricky, None]})],
        tool_outputs=[ToolOutput(tool_call_id="call_1", name="search", content=[1.5, "x", tricky])],
        context={"channel": tricky},
        usage=Usage(model="m", request_tokens=12, response_tokens=5, total_tokens=17, duration_ms=0.1 + 0.7),
        system_prompt="You are helpful.\n{{rules}}",
        created_at=at(1),
    )
    plain = a_message(session, created_at=at(2))
    await add(storage, message, plain)

    assert await storage.run(lambda uow: uow.messages.last(session.id, 2)) == [message, plain]


async def test_one_system_prompt_serves_many_messages(storage: Storage) -> None:
    _, _, session = await seed(storage)
    prompt = "Be brief. " * 50
    messages = [a_message(session, role=Role.ASSISTANT, system_prompt=prompt) for _ in range(3)]
    other = a_message(session, role=Role.ASSISTANT, system_prompt="Other.")
    await add(storage, *messages, other)

    stored, _ = await storage.run(lambda uow: uow.messages.list(session.id, Paging()))

    assert [m.system_prompt for m in stored] == [prompt, prompt, prompt, "Other."]


async def test_messages_with_the_same_created_at_keep_insertion_order(storage: Storage) -> None:
    _, _, session = await seed(storage)
    # Ids in descending order, so an order by id would visibly reverse them.
    ids = sorted((uuid.uuid4() for _ in range(8)), reverse=True)
    messages = [a_message(session, id=i, text_content=str(n), created_at=at(0)) for n, i in enumerate(ids)]
    await add(storage, *messages)

    listed, _ = await storage.run(lambda uow: uow.messages.list(session.id, Paging()))
    newest_first, _ = await storage.run(lambda uow: uow.messages.list(session.id, Paging(sort_desc=True)))
    last = await storage.run(lambda uow: uow.messages.last(session.id, 5))

    assert [m.id for m in listed] == ids
    assert [m.id for m in newest_first] == ids[::-1]
    assert [m.id for m in last] == ids[-5:]


async def test_add_many_keeps_the_given_order(storage: Storage) -> None:
    _, _, session = await seed(storage)
    ids = sorted((uuid.uuid4() for _ in range(5)), reverse=True)
    messages = [a_message(session, id=i, created_at=at(0)) for i in ids]

    await storage.run(lambda uow: uow.messages.add_many(messages))
    await storage.run(lambda uow: uow.messages.add_many([]))

    listed, total = await storage.run(lambda uow: uow.messages.list(session.id, Paging()))
    assert [m.id for m in listed] == ids
    assert total == 5


async def test_add_many_with_a_missing_session_writes_nothing(storage: Storage) -> None:
    _, _, session = await seed(storage)
    good = a_message(session)
    lost = Message(session_id=uuid.uuid4(), role=Role.USER)

    with pytest.raises(NotFound):
        await storage.run(lambda uow: uow.messages.add_many([good, lost]))

    assert await storage.run(lambda uow: uow.messages.get(good.id)) is None


async def test_created_at_orders_before_insertion(storage: Storage) -> None:
    _, _, session = await seed(storage)
    late, early = a_message(session, created_at=at(10)), a_message(session, created_at=at(5))
    await add(storage, late, early)

    listed, _ = await storage.run(lambda uow: uow.messages.list(session.id, Paging()))

    assert [m.id for m in listed] == [early.id, late.id]


async def test_last_returns_the_newest_n_oldest_first(storage: Storage) -> None:
    user, agent, session = await seed(storage)
    other = a_session(user, agent)
    messages = [a_message(session, text_content=str(i), created_at=at(i)) for i in range(10)]
    await add(storage, other, *messages[5:], *messages[:5], a_message(other, created_at=at(100)))

    last3 = await storage.run(lambda uow: uow.messages.last(session.id, 3))
    everything = await storage.run(lambda uow: uow.messages.last(session.id, 50))
    none = await storage.run(lambda uow: uow.messages.last(session.id, 0))

    assert [m.text_content for m in last3] == ["7", "8", "9"]
    assert [m.id for m in everything] == [m.id for m in messages]
    assert none == []
    assert await storage.run(lambda uow: uow.messages.last(uuid.uuid4(), 5)) == []


async def test_list_pages_with_total_and_hides_tool_messages(storage: Storage) -> None:
    _, _, session = await seed(storage)
    roles = [Role.USER, Role.ASSISTANT, Role.TOOL, Role.ASSISTANT, Role.SYSTEM, Role.TOOL, Role.USER]
    messages = [a_message(session, role=role, created_at=at(i)) for i, role in enumerate(roles)]
    await add(storage, *messages)

    page, total = await storage.run(lambda uow: uow.messages.list(session.id, Paging(page=2, page_size=3)))
    shown, shown_total = await storage.run(lambda uow: uow.messages.list(session.id, Paging(), hide_tools=True))
    past, past_total = await storage.run(lambda uow: uow.messages.list(session.id, Paging(page=9, page_size=1)))

    assert [m.id for m in page] == [m.id for m in messages[3:6]]
    assert total == 7
    assert [m.id for m in shown] == [m.id for m in messages if m.role != Role.TOOL]
    assert shown_total == 5
    assert (past, past_total) == ([], 7)


async def test_patch_sets_only_given_fields_and_null_clears(storage: Storage) -> None:
    _, _, session = await seed(storage)
    message = a_message(session, text_content="draft", mime_type="text/plain", context={"a": 1})
    await add(storage, message)

    patch = MessagePatch.parse({"text_content": "final", "mime_type": None})
    updated = await storage.run(lambda uow: uow.messages.update(message.id, patch))

    assert updated is not None
    assert updated == message.model_copy(update={"text_content": "final", "mime_type": None})
    assert await storage.run(lambda uow: uow.messages.get(message.id)) == updated
    assert await storage.run(lambda uow: uow.messages.update(uuid.uuid4(), patch)) is None
    assert await storage.run(lambda uow: uow.messages.update(message.id, MessagePatch())) == updated


async def test_patched_message_keeps_its_place(storage: Storage) -> None:
    _, _, session = await seed(storage)
    first, second = a_message(session, created_at=at(0)), a_message(session, created_at=at(0))
    await add(storage, first, second)

    await storage.run(lambda uow: uow.messages.update(first.id, MessagePatch.parse({"text_content": "edited"})))

    listed, _ = await storage.run(lambda uow: uow.messages.list(session.id, Paging()))
    assert [m.id for m in listed] == [first.id, second.id]


async def test_delete_tells_whether_there_was_a_message(storage: Storage) -> None:
    _, _, session = await seed(storage)
    message = a_message(session)
    await add(storage, message)

    assert await storage.run(lambda uow: uow.messages.delete(message.id)) is True
    assert await storage.run(lambda uow: uow.messages.delete(message.id)) is False
    assert await storage.run(lambda uow: uow.messages.get(message.id)) is None
