"""The model registry: finds the chat model an agent names (`ChatModels`).

* `echo` → the built-in `EchoModel`.
* `openai:<name>` → an `OpenAIChatModel` for `<name>`, made once per name and kept. All of them
  share one `httpx.AsyncClient`, so runs reuse connections to the server; `aclose()` closes it.
* anything else → `Invalid` (key `model`).

The server's base URL and key come only from settings (SPEC §3: never from an agent or a request).
Where the settings give no base URL:

* with an API key, the base URL is OpenAI's, `https://api.openai.com/v1`: a key and no URL can only
  mean the hosted API, and that is what OpenAI's own clients do;
* without a key either, `openai:*` raises `ModelUnavailable` naming the setting to set. Guessing a
  local server (Ollama's port, say) would turn a missing setting into a confusing connection error,
  and sending requests to OpenAI without a key could only fail with 401.

A base URL without a key is a local server (Ollama, vLLM, llama.cpp, LM Studio): no `Authorization`.
"""

from __future__ import annotations

import httpx

from agentkeep.adapters.models.echo import ECHO, EchoModel
from agentkeep.adapters.models.openai import OpenAIChatModel
from agentkeep.domain.errors import Invalid, ModelUnavailable
from agentkeep.domain.ports.chat_model import ChatModel

OPENAI_PREFIX = "openai:"
OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1"
NO_SERVER = (
    "no OpenAI-compatible server configured: set AGENTKEEP_OPENAI_BASE_URL "
    "(or AGENTKEEP_OPENAI_API_KEY alone to use OpenAI's API)"
)


class ModelRegistry:
    """`ChatModels` over the echo model and one OpenAI-compatible server."""

    def __init__(self, openai_base_url: str | None, openai_api_key: str | None, timeout: float) -> None:
        api_key = (openai_api_key or "").strip() or None
        base_url = (openai_base_url or "").strip() or None
        self.openai_base_url = base_url or (OPENAI_DEFAULT_BASE_URL if api_key else None)
        self._api_key = api_key
        self._timeout = timeout
        self._echo = EchoModel()
        self._openai: dict[str, OpenAIChatModel] = {}
        # Made on the first `openai:*` model, so an echo-only service never opens a pool.
        self._client: httpx.AsyncClient | None = None

    def get(self, model: str) -> ChatModel:
        """The model called `model`. `Invalid` (key `model`) for a name that is neither `echo` nor
        `openai:<name>`; `ModelUnavailable` for `openai:*` when no server is configured."""
        if model == ECHO:
            return self._echo
        name = model.removeprefix(OPENAI_PREFIX) if model.startswith(OPENAI_PREFIX) else ""
        if not name:
            raise Invalid(f"unknown model {model!r}: use 'echo' or 'openai:<model>'", key="model")
        if self.openai_base_url is None:
            raise ModelUnavailable(NO_SERVER, key="model")
        found = self._openai.get(name)
        if found is None:
            if self._client is None:
                self._client = httpx.AsyncClient()
            found = self._openai[name] = OpenAIChatModel(
                name, self.openai_base_url, self._api_key, self._timeout, client=self._client
            )
        return found

    async def aclose(self) -> None:
        """Close the shared HTTP client. The registry can be used again: it opens a new one."""
        client, self._client = self._client, None
        self._openai.clear()
        if client is not None:
            await client.aclose()
