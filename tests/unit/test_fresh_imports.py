"""Every module of `agentkeep` imports first, in an interpreter that has imported nothing of
`agentkeep` yet: no import circle that only works in one order, no module that leans on another
having been imported before it.

One process imports the third-party libraries once, then forks a child per module, which imports
that module first (a fork costs milliseconds; an interpreter per module, about half a second), a
child per core at a time. Alembic's scripts (`migrations/env.py`, the revisions) are run by
Alembic, never imported."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import agentkeep

_CHILDREN = r"""
import importlib, os, sys, traceback
for library in ("sqlalchemy", "sqlalchemy.ext.asyncio", "pydantic", "asyncpg", "aiosqlite", "litestar",
                "click", "httpx", "dependency_injector", "alembic", "uvicorn", "rich", "hypothesis"):
    try:
        importlib.import_module(library)
    except ImportError:
        pass
assert not any(name == "agentkeep" or name.startswith("agentkeep.") for name in sys.modules)
failed, running, waiting = 0, 0, list(sys.argv[1:])
while waiting or running:
    if waiting and running < (os.cpu_count() or 1):
        name = waiting.pop()
        if os.fork() == 0:
            try:
                importlib.import_module(name)
            except BaseException:
                print(f"--- {name} ---", flush=True)
                traceback.print_exc(file=sys.stdout)
                sys.stdout.flush()
                os._exit(1)
            os._exit(0)
        running += 1
        continue
    _, status = os.wait()
    running -= 1
    failed += status != 0
sys.exit(1 if failed else 0)
"""


def test_every_module_imports_first_in_a_fresh_interpreter() -> None:
    modules = sorted(
        m.name
        for m in pkgutil.walk_packages(agentkeep.__path__, "agentkeep.")
        # Alembic's scripts run inside Alembic (`alembic.context` is set up by it), not imported.
        if not m.name.startswith(("agentkeep.migrations.env", "agentkeep.migrations.versions."))
    )
    assert len(modules) > 50  # the walk found the rooms (the symlinked folders)
    done = subprocess.run(
        [sys.executable, "-c", _CHILDREN, *modules], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
