"""Which event loop and HTTP parser `agentkeep serve` and the bench's floor serve on: uvloop and
httptools where they import, asyncio and h11 where they do not, and the same for both."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from agentkeep.entrypoints.cli.serve import server_stack
from bench.http_run import free_port, healthy, stack_of
from tests.e2e.serve_process import clean_environment

ROOT = Path(__file__).resolve().parents[2]


def test_the_fast_stack_where_it_imports() -> None:
    pytest.importorskip("uvloop")
    pytest.importorskip("httptools")
    assert server_stack() == {"loop": "uvloop", "http": "httptools"}


@pytest.mark.parametrize(
    ("hidden", "expected"),
    [
        (["uvloop"], {"loop": "asyncio", "http": "httptools"}),
        (["httptools"], {"loop": "uvloop", "http": "h11"}),
        (["uvloop", "httptools"], {"loop": "asyncio", "http": "h11"}),
    ],
)
def test_the_fallback_where_a_fast_part_is_missing(
    monkeypatch: pytest.MonkeyPatch, hidden: list[str], expected: dict[str, str]
) -> None:
    pytest.importorskip("uvloop")
    pytest.importorskip("httptools")
    for module in hidden:
        monkeypatch.setitem(sys.modules, module, None)  # `import uvloop` raises ImportError
    assert server_stack() == expected


def _serve(command: list[str], env: dict[str, str], log: Path) -> str:
    """The stack a started server says it serves on, once it answers /health."""
    port = free_port()
    with log.open("wb") as output:
        process = subprocess.Popen([*command, "--port", str(port)], env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        assert healthy(port, process), log.read_text()
        return stack_of(log)
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_serve_and_the_floor_say_they_serve_on_uvloop_and_httptools(tmp_path: Path) -> None:
    pytest.importorskip("uvloop")
    pytest.importorskip("httptools")
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    env = {**clean_environment(), "AGENTKEEP_DATABASE_URL": url, "AGENTKEEP_API_KEY": "key"}
    serve = [str(Path(sys.executable).parent / "agentkeep"), "serve"]
    assert _serve(serve, env, tmp_path / "serve.log") == "uvloop + httptools"
    floor = [sys.executable, "-m", "bench.floor", "--database-url", url]
    assert _serve(floor, {**env, "PYTHONPATH": str(ROOT)}, tmp_path / "floor.log") == "uvloop + httptools"
