"""The model registry: which model a name finds, and what happens without a configured server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from agentkeep.adapters.models import EchoModel, ModelRegistry, OpenAIChatModel
from agentkeep.adapters.models.registry import OPENAI_DEFAULT_BASE_URL
from agentkeep.domain.errors import Invalid, ModelUnavailable

Make = Callable[[str | None, str | None], ModelRegistry]


@pytest.fixture
async def make() -> AsyncIterator[Make]:
    """Makes registries (timeout 60 s) and closes them after the test."""
    made: list[ModelRegistry] = []

    def registry(base_url: str | None, api_key: str | None) -> ModelRegistry:
        made.append(ModelRegistry(base_url, api_key, timeout=60))
        return made[-1]

    yield registry
    for registry_ in made:
        await registry_.aclose()


async def test_echo_is_the_built_in_echo_model(make: Make) -> None:
    registry = make(None, None)

    assert isinstance(registry.get("echo"), EchoModel)
    assert registry.get("echo") is registry.get("echo")


async def test_openai_models_are_made_once_per_name(make: Make) -> None:
    registry = make("http://127.0.0.1:11434/v1/", None)

    llama = registry.get("openai:llama3")

    assert isinstance(llama, OpenAIChatModel)
    assert (llama.model, llama.base_url, llama.timeout) == ("llama3", "http://127.0.0.1:11434/v1", 60)
    assert registry.get("openai:llama3") is llama
    assert registry.get("openai:qwen2") is not llama


@pytest.mark.parametrize("name", ["gpt-4o", "openai:", "ECHO", "anthropic:claude", ""])
async def test_an_unknown_model_is_invalid_naming_the_model_field(make: Make, name: str) -> None:
    registry = make("http://127.0.0.1:11434/v1", "sk-x")

    with pytest.raises(Invalid) as caught:
        registry.get(name)

    assert caught.value.key == "model"
    assert [e.key for e in caught.value.errors] == ["model"]
    assert "unknown model" in caught.value.message


@pytest.mark.parametrize("blank", [None, "", "  "])
async def test_openai_without_a_base_url_or_a_key_is_unavailable_naming_the_setting(
    make: Make, blank: str | None
) -> None:
    registry = make(blank, blank)

    with pytest.raises(ModelUnavailable) as caught:
        registry.get("openai:gpt-4o")

    assert type(caught.value) is ModelUnavailable
    assert caught.value.code == "model_error"
    assert "no OpenAI-compatible server configured: set AGENTKEEP_OPENAI_BASE_URL" in caught.value.message
    assert isinstance(registry.get("echo"), EchoModel)  # echo needs no server


async def test_a_key_without_a_base_url_means_openai(make: Make) -> None:
    model = make(None, "sk-x").get("openai:gpt-4o-mini")

    assert isinstance(model, OpenAIChatModel)
    assert model.base_url == OPENAI_DEFAULT_BASE_URL == "https://api.openai.com/v1"


async def test_a_closed_registry_makes_new_models_on_demand(make: Make) -> None:
    registry = make("http://127.0.0.1:11434/v1", None)
    before = registry.get("openai:llama3")
    await registry.aclose()

    assert registry.get("openai:llama3") is not before
