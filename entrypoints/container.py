"""The composition root: settings → storage (SQLite or PostgreSQL, by URL) → model registry →
use cases. The only module that knows every class; handlers and commands take use cases from it.

Use cases hold the storage and the models through `Current`, which asks the container's provider
on every call: overriding `storage` or `models` reaches every use case at once, whether it was
resolved before the override or after, and it stops reaching them when the override ends. So a test
swaps a provider in a line:

    with container.storage.override(MemoryStorage()):
        ...

or builds a container that never reads the environment nor opens a file of its own:
`Container.for_tests(storage=MemoryStorage(), api_keys=["k"])`.
"""

from __future__ import annotations

from typing import Any

from dependency_injector import containers, providers

from agentkeep.adapters.models.registry import ModelRegistry
from agentkeep.adapters.storage.memory import MemoryStorage
from agentkeep.adapters.storage.sql.database import PostgresStorage, SqliteStorage
from agentkeep.adapters.storage.sql.dialect import SQLITE, normalize_url
from agentkeep.application.agents import AgentService
from agentkeep.application.idempotency import Idempotency
from agentkeep.application.import_automagik import ImportAutomagik
from agentkeep.application.memories import MemoryService
from agentkeep.application.migrate_agents import MigrateAgents
from agentkeep.application.run_agent import RunAgent
from agentkeep.application.runs import RunningRuns, RunService
from agentkeep.application.sessions import SessionService
from agentkeep.application.users import UserService
from agentkeep.domain.ports import Storage
from agentkeep.entrypoints.settings import IsolatedSettings, Settings


def database_kind(url: str) -> str:
    """`sqlite` or `postgres`, from a database URL in any accepted form."""
    return "sqlite" if normalize_url(url).get_backend_name() == SQLITE else "postgres"


def _secret(value: Any) -> str | None:
    return None if value is None else str(value.get_secret_value())


class Current:
    """Whatever `provider` gives now, attribute by attribute: what the use cases hold in place of
    the storage and the model registry, so that an override reaches them however early they were
    built (one provider call per attribute: under a microsecond)."""

    __slots__ = ("_provider",)

    def __init__(self, provider: providers.Provider[Any]) -> None:
        self._provider = provider

    def __getattr__(self, name: str) -> Any:
        return getattr(self._provider(), name)

    def __repr__(self) -> str:
        return f"Current({self._provider()!r})"


#: Seconds a SQLite write waits at least for another process's write lock.
MIN_LOCK_WAIT = 5.0


def storage_for(settings: Settings) -> SqliteStorage | PostgresStorage:
    """The storage `settings.database_url` names. On SQLite, a write waits for another process's
    lock (a second worker, the CLI) as long as a run waits for its session, but never under
    `MIN_LOCK_WAIT`, or two workers would answer 503 to each other."""
    if database_kind(settings.database_url) == "sqlite":
        return SqliteStorage(settings.database_url, busy_timeout=max(settings.session_wait, MIN_LOCK_WAIT))
    return PostgresStorage(settings.database_url)


class Container(containers.DeclarativeContainer):
    settings = providers.Singleton(Settings)

    storage = providers.Singleton(storage_for, settings)

    models = providers.Singleton(
        ModelRegistry,
        openai_base_url=settings.provided.openai_base_url,
        openai_api_key=providers.Callable(_secret, settings.provided.openai_api_key),
        timeout=settings.provided.model_timeout,
    )

    # What the use cases hold: the storage and the models as they are at each call.
    current_storage = providers.Singleton(Current, storage.provider)
    current_models = providers.Singleton(Current, models.provider)

    running_runs = providers.Singleton(RunningRuns)
    run_agent = providers.Singleton(
        RunAgent,
        storage=current_storage,
        running=running_runs,
        models=current_models,
        session_wait=settings.provided.session_wait,
        lease=providers.Callable(lambda timeout: timeout + 30.0, settings.provided.model_timeout),
    )
    runs = providers.Singleton(RunService, storage=current_storage, running=running_runs)
    agents = providers.Singleton(AgentService, storage=current_storage)
    users = providers.Singleton(UserService, storage=current_storage)
    sessions = providers.Singleton(SessionService, storage=current_storage)
    memories = providers.Singleton(MemoryService, storage=current_storage)
    idempotency = providers.Singleton(
        Idempotency,
        storage=current_storage,
        ttl=settings.provided.idempotency_ttl,
        # A keyed request holds its key while it may still run: a run may wait its turn on the
        # session, then for the model; a crashed process frees the key after that.
        claim_for=providers.Callable(
            lambda wait, timeout: wait + timeout + 30.0, settings.provided.session_wait, settings.provided.model_timeout
        ),
    )
    migrate_agents = providers.Singleton(MigrateAgents, storage=current_storage)
    import_automagik = providers.Singleton(ImportAutomagik, storage=current_storage)

    @classmethod
    def for_tests(cls, storage: Storage | None = None, **settings: Any) -> Container:
        """A container for a test: `settings` as given and nothing read from the environment, on
        `storage` (a new `MemoryStorage` when none is given), which the container never closes."""
        container = cls()
        container.settings.override(providers.Object(IsolatedSettings(**settings)))
        container.storage.override(providers.Object(storage if storage is not None else MemoryStorage()))
        return container
