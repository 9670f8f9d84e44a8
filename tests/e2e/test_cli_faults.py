"""The CLI on a SQLite database whose disk is full (a small tmpfs; root only, a skip otherwise):
a command that writes exits 1 with one line saying the database failed, no traceback, and writes
nothing; once space is freed the same command succeeds."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

EXECUTABLE = Path(sys.executable).with_name("agentkeep")


@contextlib.contextmanager
def small_disk(directory: Path, size: str = "2m") -> Iterator[Path]:
    directory.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root")
    if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(directory)], check=False).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield directory
    finally:
        subprocess.run(["umount", "-l", str(directory)], check=False)


def agentkeep(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("AGENTKEEP_")}
    return subprocess.run(
        [str(EXECUTABLE), "--database-url", url, *args], env=env, capture_output=True, text=True, timeout=60
    )


def fill(disk: Path) -> Path:
    filler = disk / "filler"
    with contextlib.suppress(OSError), filler.open("wb") as f:
        while True:
            f.write(b"\0" * 4096)
            f.flush()
    return filler


def test_commands_on_a_full_disk_exit_1_with_one_line_and_succeed_once_space_is_freed(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk") as disk:
        url = f"sqlite:///{disk}/cli.db"
        assert agentkeep(url, "db", "upgrade").returncode == 0
        assert agentkeep(url, "agents", "create", "assistant").returncode == 0
        filler = fill(disk)
        big = "x" * 100_000  # under the kernel's limit on one argument
        commands = [("agents", "create", "writer", "--system-prompt", big), ("run", "assistant", big)]
        for command in commands:
            failed = agentkeep(url, *command)
            assert failed.returncode == 1, failed.stdout + failed.stderr
            lines = failed.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("Error: ") and "disk" in lines[0], failed.stderr
            assert "Traceback" not in failed.stdout + failed.stderr
        filler.unlink()
        assert agentkeep(url, "agents", "show", "writer").returncode != 0  # nothing was written
        assert json.loads(agentkeep(url, "sessions", "list", "--json").stdout)["total"] == 0
        for command in commands:
            done = agentkeep(url, *command)
            assert done.returncode == 0, done.stderr
