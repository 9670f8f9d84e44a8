"""Chat model adapters (SPEC §3): the built-in `echo` and OpenAI-compatible servers, found by name
through `ModelRegistry`."""

from adapters.models.echo import EchoModel
from adapters.models.openai import OpenAIChatModel
from adapters.models.registry import ModelRegistry

__all__ = ["EchoModel", "ModelRegistry", "OpenAIChatModel"]
