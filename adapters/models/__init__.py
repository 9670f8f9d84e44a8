"""Chat model adapters (SPEC §3): the built-in `echo` and OpenAI-compatible servers, found by name
through `ModelRegistry`."""

from agentkeep.adapters.models.echo import EchoModel
from agentkeep.adapters.models.openai import OpenAIChatModel
from agentkeep.adapters.models.registry import ModelRegistry

__all__ = ["EchoModel", "ModelRegistry", "OpenAIChatModel"]
