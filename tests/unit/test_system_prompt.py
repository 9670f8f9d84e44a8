"""The system prompt of a run: which text wins, and how memory placeholders are filled."""

from __future__ import annotations

from agentkeep.application import system_prompt
from agentkeep.domain import Agent, AgentBio, Memory, PersonaBioSource, new_id

AGENT = Agent(name="alice", display_name="Alice")


def memory(name: str, content: object, user: bool = False) -> Memory:
    return Memory(name=name, content=content, agent_id=AGENT.id, user_id=new_id() if user else None)


def bio(text: str) -> AgentBio:
    return AgentBio(agent_id=AGENT.id, persona_bio=text, persona_bio_source=PersonaBioSource.AI_GENERATED)


def test_override_wins_over_the_agents_prompt() -> None:
    agent = AGENT.model_copy(update={"system_prompt": "agent prompt"})
    assert system_prompt.choose(agent, "override", bio("bio")) == "override"


def test_agents_prompt_wins_over_the_bio() -> None:
    agent = AGENT.model_copy(update={"system_prompt": "agent prompt"})
    assert system_prompt.choose(agent, None, bio("bio")) == "agent prompt"


def test_prompt_is_built_from_display_name_and_bio() -> None:
    assert system_prompt.choose(AGENT, None, bio("Loves birds.")) == "You are Alice.\n\nLoves birds."
    assert system_prompt.choose(Agent(name="bob"), None, None) == "You are bob."


def test_an_empty_override_is_still_an_override() -> None:
    assert system_prompt.choose(AGENT, "", bio("bio")) == ""


def test_placeholders_take_the_users_memory_before_the_agent_wide_one() -> None:
    memories = [memory("mood", "happy", user=True), memory("mood", "grumpy"), memory("city", "Lisbon")]
    assert system_prompt.fill("{{mood}} in {{city}}", memories) == "happy in Lisbon"


def test_json_memories_are_inserted_as_compact_json_and_text_as_is() -> None:
    memories = [memory("prefs", {"tea": True, "sugar": 2}), memory("note", "  spaced  ")]
    assert system_prompt.fill("{{prefs}}|{{note}}", memories) == '{"tea":true,"sugar":2}|  spaced  '


def test_unknown_and_spaced_placeholders_are_left_as_written() -> None:
    memories = [memory("name", "Ann")]
    text = "{{unknown}} {{ name }} {{name}}"
    assert system_prompt.fill(text, memories) == "{{unknown}} {{ name }} Ann"


def test_filling_is_one_pass_without_recursion() -> None:
    memories = [memory("a", "{{b}}"), memory("b", "deep")]
    assert system_prompt.fill("{{a}} {{b}}", memories) == "{{b}} deep"


def test_needs_memories_only_when_a_placeholder_is_present() -> None:
    assert system_prompt.needs_memories("hi {{x}}")
    assert not system_prompt.needs_memories("hi {x} {{ x }}")
