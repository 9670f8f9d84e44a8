"""The composition root: settings → storage (SQLite or PostgreSQL, by URL) → model registry →
use cases. The only module that knows every class; handlers and commands take use cases from it.

Tests swap a provider in a line:

    with container.storage.override(MemoryStorage()):
        ...
"""

from __future__ import annotations

from typing import Any

from dependency_injector import containers, providers

from agentkeep.adapters.models.registry import ModelRegistry
from agentkeep.adapters.storage.sql.database import PostgresStorage, SqliteStorage
from agentkeep.adapters.storage.sql.dialect import SQLITE, normalize_url
from agentkeep.application.agents import AgentService
from agentkeep.application.idempotency import Idempotency
from agentkeep.application.import_automagik import ImportAutomagik
from agentkeep.application.memories import MemoryService
from agentkeep.application.migrate_agents import MigrateAgents
from agentkeep.application.run_agent import RunAgent
from agentkeep.application.sessions import SessionService
from agentkeep.application.users import UserService
from agentkeep.entrypoints.settings import Settings


def database_kind(url: str) -> str:
    """`sqlite` or `postgres`, from a database URL in any accepted form."""
    return "sqlite" if normalize_url(url).get_backend_name() == SQLITE else "postgres"


def _secret(value: Any) -> str | None:
    return None if value is None else str(value.get_secret_value())


#: Seconds a SQLite write waits at least for another process's write lock.
MIN_LOCK_WAIT = 5.0


class Container(containers.DeclarativeContainer):
    settings = providers.Singleton(Settings)

    storage = providers.Selector(
        providers.Callable(database_kind, settings.provided.database_url),
        # How long a write waits for another process's lock (a second worker, the CLI): the
        # session wait, but never under 5 s, or two workers would answer 503 to each other.
        sqlite=providers.Singleton(
            SqliteStorage,
            settings.provided.database_url,
            busy_timeout=providers.Callable(lambda wait: max(wait, MIN_LOCK_WAIT), settings.provided.session_wait),
        ),
        postgres=providers.Singleton(PostgresStorage, settings.provided.database_url),
    )

    models = providers.Singleton(
        ModelRegistry,
        openai_base_url=settings.provided.openai_base_url,
        openai_api_key=providers.Callable(_secret, settings.provided.openai_api_key),
        timeout=settings.provided.model_timeout,
    )

    run_agent = providers.Singleton(
        RunAgent,
        storage=storage,
        models=models,
        session_wait=settings.provided.session_wait,
        lease=providers.Callable(lambda timeout: timeout + 30.0, settings.provided.model_timeout),
    )
    agents = providers.Singleton(AgentService, storage=storage)
    users = providers.Singleton(UserService, storage=storage)
    sessions = providers.Singleton(SessionService, storage=storage)
    memories = providers.Singleton(MemoryService, storage=storage)
    idempotency = providers.Singleton(
        Idempotency,
        storage=storage,
        ttl=settings.provided.idempotency_ttl,
        # A keyed request holds its key while it may still run: a run may wait its turn on the
        # session, then for the model; a crashed process frees the key after that.
        claim_for=providers.Callable(
            lambda wait, timeout: wait + timeout + 30.0, settings.provided.session_wait, settings.provided.model_timeout
        ),
    )
    migrate_agents = providers.Singleton(MigrateAgents, storage=storage)
    import_automagik = providers.Singleton(ImportAutomagik, storage=storage)
