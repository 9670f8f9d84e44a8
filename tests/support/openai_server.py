"""A small OpenAI-shaped HTTP server on a loopback port, for testing the OpenAI-compatible adapter
without a provider. Each test scripts its replies and reads back what the server received.

It is a real HTTP/1.1 server (stdlib `ThreadingHTTPServer` in a thread), so the adapter's transport,
headers, keep-alive and timeouts are exercised as they are against Ollama or OpenAI.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Scripted:
    """One reply: a status, a body (bytes as is, anything else as JSON), headers, a delay before
    answering and, with `trickle`, that many seconds between the body's bytes (both cut short when
    the server stops)."""

    body: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    trickle: float = 0.0
    #: A streamed answer instead of `body`: each item is written and flushed on its own, `pause`
    #: seconds apart, then the connection closes (`stream_chunks` makes them).
    chunks: list[bytes] | None = None
    pause: float = 0.0


@dataclass(frozen=True)
class Received:
    """One request as the server saw it: header names lower-case, the body parsed as JSON."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    client_port: int


def chunk(
    delta: dict[str, Any] | None = None, *, usage: dict[str, Any] | None = None, finish: str | None = None
) -> bytes:
    """One `data:` line of a streamed chat completion (a `chat.completion.chunk`)."""
    body: dict[str, Any] = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "served-model"}
    body["choices"] = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    if usage is not None:
        body["usage"] = usage
    return f"data: {json.dumps(body)}\n\n".encode()


def stream_chunks(
    *texts: str, tool_calls: list[dict[str, Any]] | None = None, usage: dict[str, Any] | None = None, done: bool = True
) -> list[bytes]:
    """A streamed reply as OpenAI sends it: a role chunk, a chunk per text delta, each tool-call
    fragment in a chunk of its own, the usage alone in the last chunk, then `[DONE]` (unless not
    `done`: a stream cut short)."""
    out = [chunk({"role": "assistant", "content": ""})]
    out += [chunk({"content": text}) for text in texts]
    out += [chunk({"tool_calls": [fragment]}) for fragment in tool_calls or []]
    out.append(chunk({}, finish="tool_calls" if tool_calls else "stop"))
    if usage is not None:
        out.append(chunk(usage=usage))
    if done:
        out.append(b"data: [DONE]\n\n")
    return out


def completion(
    content: str | None = "Hello!",
    *,
    tool_calls: list[dict[str, Any]] | None = None,
    usage: dict[str, Any] | None = None,
    model: str | None = "served-model",
) -> dict[str, Any]:
    """A chat-completions response body as OpenAI writes it."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls is not None:
        message["tool_calls"] = tool_calls
    body: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
    }
    if model is not None:
        body["model"] = model
    if usage is not None:
        body["usage"] = usage
    return body


class FakeOpenAIServer:
    """Answers `POST /v1/chat/completions` with the scripted replies, in order; once they run out,
    with `completion()`."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self._replies: list[Scripted] = []
        self._lock = threading.Lock()
        self.stopping = threading.Event()
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.fake = self
        # A short poll interval: `shutdown()` waits up to one interval, once per test.
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,), daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def script(self, *replies: Scripted) -> None:
        with self._lock:
            self._replies.extend(replies)

    def next_reply(self) -> Scripted:
        with self._lock:
            return self._replies.pop(0) if self._replies else Scripted(completion())

    def record(self, request: Received) -> None:
        with self._lock:
            self.received.append(request)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()


class _Server(ThreadingHTTPServer):
    fake: FakeOpenAIServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real servers do: connection reuse is observable
    server: _Server

    def do_POST(self) -> None:
        fake = self.server.fake
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        fake.record(
            Received(
                method="POST",
                path=self.path,
                headers={name.lower(): value for name, value in self.headers.items()},
                body=json.loads(raw) if raw else None,
                client_port=self.client_address[1],
            )
        )
        reply = fake.next_reply()
        if reply.delay:
            fake.stopping.wait(reply.delay)
        if reply.chunks is not None:
            self._stream(reply)
            return
        body = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if not reply.trickle:
                self.wfile.write(body)
            for index in range(len(body) if reply.trickle else 0):
                self.wfile.write(body[index : index + 1])
                self.wfile.flush()
                if fake.stopping.wait(reply.trickle):
                    break
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (a timeout test): nobody is left to answer.
            self.close_connection = True

    def _stream(self, reply: Scripted) -> None:
        """An event stream: no length, so its end is the connection's."""
        self.close_connection = True
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            for piece in reply.chunks or []:
                self.wfile.write(piece)
                self.wfile.flush()
                if reply.pause and self.server.fake.stopping.wait(reply.pause):
                    break
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean
