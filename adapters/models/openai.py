"""`openai:<model>`: a chat model behind an OpenAI-compatible chat-completions server.

Works against OpenAI, Ollama, vLLM, llama.cpp and LM Studio: `POST {base_url}/chat/completions`,
with `Authorization: Bearer <key>` only when a key is set (local servers need none). The wire format
lives in `adapters.models.chat_completions`; this module sends it and turns every way the call can
fail into `ModelUnavailable` (HTTP 502) or `ModelTimeout` (HTTP 504), with a reason that names the
server and the model and never contains the API key.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import AsyncIterator, Iterator, Sequence

import httpx

from agentkeep.adapters.models.chat_completions import MalformedReply, parse_reply, request_messages
from agentkeep.adapters.models.chat_stream import StreamedReply
from agentkeep.domain.chat import ModelReply
from agentkeep.domain.errors import ModelTimeout, ModelUnavailable
from agentkeep.domain.models import Message

_EXCERPT_CHARS = 200


class OpenAIChatModel:
    """A `ChatModel` served by an OpenAI-compatible server.

    One call is one HTTP request: no retries. run-agent has already committed the user message when
    it calls the model, so a failure loses nothing, and the caller (or its client) knows better than
    this adapter whether waiting and trying again is worth it; a retry here would only stretch the
    time a run holds its session. `timeout` bounds the whole call, connecting included.

    Pass `client` to share one connection pool between models (the registry does); a model made
    without one owns its client and closes it in `aclose()`.
    """

    def __init__(
        self,
        model: str,
        base_url: str,
        api_key: str | None,
        timeout: float,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._url = f"{self.base_url}/chat/completions"
        self._api_key = api_key or None
        self._owns_client = client is None
        self._client = client if client is not None else httpx.AsyncClient()
        self._label = f"model {model!r} at {_display_url(self.base_url)}"

    async def reply(self, system_prompt: str, messages: Sequence[Message]) -> ModelReply:
        """Ask the server; `ModelUnavailable` on any failure, `ModelTimeout` past `timeout`."""
        payload = {"model": self.model, "messages": request_messages(system_prompt, messages)}
        started = time.perf_counter()
        with self._failures():
            # httpx's timeout applies to each phase (connect, each read); the outer one bounds the
            # whole call, so a server that trickles its answer cannot hold a run past `timeout`.
            async with asyncio.timeout(self.timeout):
                response = await self._client.post(
                    self._url, json=payload, headers=self._headers("application/json"), timeout=self.timeout
                )
            self._check(response)
            return parse_reply(response.content, self.model, (time.perf_counter() - started) * 1000)

    async def stream(self, system_prompt: str, messages: Sequence[Message]) -> AsyncIterator[str | ModelReply]:
        """Ask the server with `stream: true`: its text deltas as they come, then the whole reply.
        The same failures as `reply`, also for a stream cut short or a malformed chunk."""
        payload = {
            "model": self.model,
            "messages": request_messages(system_prompt, messages),
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        started = time.perf_counter()
        assembled = StreamedReply(self.model)
        with self._failures():
            async with (
                asyncio.timeout(self.timeout),
                self._client.stream(
                    "POST", self._url, json=payload, headers=self._headers("text/event-stream"), timeout=self.timeout
                ) as response,
            ):
                if not response.is_success:
                    await response.aread()
                self._check(response)
                async for line in response.aiter_lines():
                    delta = assembled.feed(line)
                    if delta:
                        yield delta
                    if assembled.done:
                        break
            reply = assembled.reply((time.perf_counter() - started) * 1000)
        yield reply

    def _headers(self, accept: str) -> dict[str, str]:
        headers = {"Accept": accept}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return headers

    @contextlib.contextmanager
    def _failures(self) -> Iterator[None]:
        """Every way a call can fail, as `ModelTimeout` or `ModelUnavailable` naming the server."""
        try:
            yield
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise ModelTimeout(self._reason(f"{self._label} did not answer within {self.timeout:g} s")) from exc
        except httpx.ConnectError as exc:
            raise ModelUnavailable(self._reason(f"cannot connect to {self._label}: {_describe(exc)}")) from exc
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise ModelUnavailable(self._reason(f"request to {self._label} failed: {_describe(exc)}")) from exc
        except MalformedReply as exc:
            raise ModelUnavailable(self._reason(f"malformed reply from {self._label}: {exc}")) from exc

    def _check(self, response: httpx.Response) -> None:
        if response.status_code == 429:
            hint = _retry_hint(response.headers.get("Retry-After"))
            raise ModelUnavailable(
                self._reason(f"{self._label} is rate limited (429{hint}): {self._excerpt(response)}")
            )
        if not response.is_success:
            raise ModelUnavailable(
                self._reason(f"{self._label} answered HTTP {response.status_code}: {self._excerpt(response)}")
            )

    async def aclose(self) -> None:
        """Close the HTTP client if this model made it; a shared one is its owner's to close."""
        if self._owns_client:
            await self._client.aclose()

    def _reason(self, message: str) -> str:
        # A server may echo the key back (a 401 body, a proxy's error page): it never leaves here.
        if self._api_key:
            message = message.replace(self._api_key, "***")
        return message

    def _excerpt(self, response: httpx.Response) -> str:
        # Scrubbed before it is cut short, so no prefix of the key survives the cut.
        return _excerpt(self._reason(response.content.decode("utf-8", errors="replace")))


def _display_url(url: str) -> str:
    """`url` without credentials, query or fragment: fit for an error message."""
    try:
        return str(httpx.URL(url).copy_with(userinfo=b"", query=None, fragment=None))
    except httpx.InvalidURL:
        return "an invalid base URL"


def _describe(exc: Exception) -> str:
    return str(exc) or type(exc).__name__


def _retry_hint(retry_after: str | None) -> str:
    if not retry_after:
        return ""
    return f", retry after {retry_after} s" if retry_after.isdigit() else f", retry after {retry_after}"


def _excerpt(text: str) -> str:
    """A short, one-line account of an error body: its `error.message` when it is OpenAI's error
    shape (what a user needs), else the start of the body."""
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            text = error["message"]
        elif isinstance(error, str):
            text = error
    text = re.sub(r"\s+", " ", text).strip()
    if not text:
        return "(empty body)"
    return text if len(text) <= _EXCERPT_CHARS else text[: _EXCERPT_CHARS - 1] + "…"
