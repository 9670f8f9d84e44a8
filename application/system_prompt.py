"""The system prompt of a run (SPEC §3 step 5): which text, and its `{{name}}` memory placeholders."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

from agentkeep.domain.models import Agent, AgentBio, Memory

# `{{name}}` exactly: no spaces, no braces inside.
PLACEHOLDER = re.compile(r"\{\{([^{}\s]+)\}\}")


def choose(agent: Agent, override: str | None, bio: AgentBio | None) -> str:
    """The override if given, else the agent's own prompt, else one built from its display name
    and its current persona bio."""
    if override is not None:
        return override
    if agent.system_prompt is not None:
        return agent.system_prompt
    prompt = f"You are {agent.display_name or agent.name}."
    if bio is not None:
        prompt += f"\n\n{bio.persona_bio}"
    return prompt


def needs_memories(text: str) -> bool:
    return PLACEHOLDER.search(text) is not None


def fill(text: str, memories: Iterable[Memory]) -> str:
    """Replace each `{{name}}` by the content of the memory of that name, in one pass (inserted
    text is not scanned again). `memories` come the user's first, so a user's memory wins over an
    agent-wide one of the same name. An unknown placeholder is left as written."""
    contents: dict[str, str] = {}
    for memory in memories:
        contents.setdefault(memory.name, _as_text(memory.content))
    return PLACEHOLDER.sub(lambda m: contents.get(m.group(1), m.group(0)), text)


def _as_text(content: object) -> str:
    if isinstance(content, str):
        return content
    return json.dumps(content, separators=(",", ":"), ensure_ascii=False)
