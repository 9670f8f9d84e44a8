"""The `agentkeep` command line (click). `main` is the console script.

This module loads nothing else until it is asked: the console script imports it, and a Ctrl-C
while the rest loads (about a second) must end the command quietly, not with a traceback.
"""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agentkeep.entrypoints.cli.app import cli

__all__ = ["cli", "main"]

#: Exit code of a command stopped by Ctrl-C (128 + SIGINT, the shell's convention).
INTERRUPTED = 130


def main() -> None:
    """The console script."""
    try:
        from agentkeep.entrypoints.cli.app import main as run
    except KeyboardInterrupt:
        raise SystemExit(INTERRUPTED) from None
    try:
        run()
    except KeyboardInterrupt:  # one that lands outside click's own handling (after an error is printed)
        raise SystemExit(INTERRUPTED) from None
    finally:
        # The command is done: a Ctrl-C while the interpreter shuts down has nothing left to stop,
        # and must not turn the command's exit status into "killed by SIGINT".
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def __getattr__(name: str) -> Any:
    if name == "cli":
        from agentkeep.entrypoints.cli.app import cli

        return cli
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
