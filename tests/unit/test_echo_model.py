"""The echo model: the reply is the last user message unchanged; usage counts words."""

from __future__ import annotations

import time
import uuid

from hypothesis import given
from hypothesis import strategies as st

from agentkeep.adapters.models import EchoModel
from agentkeep.domain.models import Message, ToolCall
from agentkeep.domain.values import Role

SESSION = uuid.uuid4()


def message(role: Role, text: str | None) -> Message:
    return Message(session_id=SESSION, role=role, text_content=text)


async def test_reply_is_the_last_user_message_unchanged() -> None:
    text = "  Grüße, 世界 🌍\n\ttabs\tand  double  spaces  "
    history = [message(Role.USER, "first"), message(Role.ASSISTANT, "first")]

    reply = await EchoModel().reply("be kind", [*history, message(Role.USER, text)])

    assert reply.text == text
    assert reply.tool_calls == []
    assert reply.tool_outputs == []


async def test_reply_skips_messages_after_the_last_user_message() -> None:
    messages = [message(Role.USER, "the question"), message(Role.SYSTEM, "a note"), message(Role.TOOL, "output")]

    reply = await EchoModel().reply("", messages)

    assert reply.text == "the question"


async def test_no_user_message_or_no_text_gives_an_empty_reply() -> None:
    assert (await EchoModel().reply("sys", [])).text == ""
    assert (await EchoModel().reply("sys", [message(Role.ASSISTANT, "hi")])).text == ""
    assert (await EchoModel().reply("sys", [message(Role.USER, None)])).text == ""


async def test_usage_counts_words_of_prompt_history_and_reply() -> None:
    messages = [
        message(Role.USER, "one two three"),  # 3
        Message(
            session_id=SESSION,
            role=Role.ASSISTANT,
            text_content=None,  # 0: a tool-call-only turn has no words
            tool_calls=[ToolCall(id="c1", name="lookup", arguments={"q": "many words here"})],
        ),
        message(Role.ASSISTANT, "four  five\nsix"),  # 3
        message(Role.USER, "  seven eight  "),  # 2
    ]

    started = time.perf_counter()
    reply = await EchoModel().reply("You are\ta helpful bot.", messages)  # 5
    elapsed_ms = (time.perf_counter() - started) * 1000

    assert reply.usage.model == "echo"
    assert reply.usage.request_tokens == 5 + 3 + 0 + 3 + 2
    assert reply.usage.response_tokens == 2
    assert reply.usage.total_tokens == 15
    # The time the reply took, in milliseconds: more than nothing, no more than the call around it.
    assert reply.usage.duration_ms is not None
    assert 0 < reply.usage.duration_ms <= elapsed_ms


@given(system_prompt=st.text(), text=st.text())
async def test_echo_returns_any_text_and_counts_its_words(system_prompt: str, text: str) -> None:
    reply = await EchoModel().reply(system_prompt, [message(Role.USER, text)])

    assert reply.text == text
    assert reply.usage.response_tokens == len(text.split())
    assert reply.usage.request_tokens == len(system_prompt.split()) + len(text.split())
    assert reply.usage.total_tokens == reply.usage.request_tokens + reply.usage.response_tokens
