"""agentkeep: keep and run AI agents' state (users, agents, sessions, messages and memories) on
SQLite or PostgreSQL.

The installed distribution is this one package. Its rooms are the repository's top-level folders
(`agentkeep.domain`, `agentkeep.application`, `agentkeep.adapters`, `agentkeep.entrypoints`,
`agentkeep.migrations`), so it never owns a `domain` or `migrations` package of its user's; and
`agentkeep.testing` holds the helpers for users' test suites.

The few names a user needs are here, imported on first use (so that `import agentkeep.domain`
stays as light as the domain itself):

    from agentkeep import Container, MemoryStorage, create_app, create_test_app, open_storage
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from agentkeep.entrypoints.version import VERSION as __version__

if TYPE_CHECKING:
    from agentkeep.adapters.storage.memory import MemoryStorage
    from agentkeep.adapters.storage.sql.database import open_storage
    from agentkeep.entrypoints.container import Container
    from agentkeep.entrypoints.http.app import create_app, create_test_app

#: Public name -> the module that defines it.
_PUBLIC = {
    "Container": "agentkeep.entrypoints.container",
    "MemoryStorage": "agentkeep.adapters.storage.memory",
    "create_app": "agentkeep.entrypoints.http.app",
    "create_test_app": "agentkeep.entrypoints.http.app",
    "open_storage": "agentkeep.adapters.storage.sql.database",
}

__all__ = ["Container", "MemoryStorage", "__version__", "create_app", "create_test_app", "open_storage"]


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'agentkeep' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
