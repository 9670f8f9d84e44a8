"""Bringing a database's schema to the code's before a command writes to it (serve, migrations)."""

from __future__ import annotations

from agentkeep.adapters.storage.sql import migrator
from agentkeep.domain.errors import Conflict


def ensure_schema(url: str, *, upgrade: bool = True) -> None:
    """Upgrade the schema to head under the migrator's lock (unless `upgrade` is false), refusing
    a schema newer than this code; Conflict when it is not at head afterwards."""
    revision = migrator.current(url)
    # Before upgrading: Alembic cannot place an unknown revision.
    if revision is not None and not migrator.is_known(revision):
        raise Conflict(f"the database schema ({revision}) is newer than this agentkeep: upgrade agentkeep")
    if upgrade:
        migrator.upgrade(url)
        revision = migrator.current(url)
    if revision != migrator.head():
        raise Conflict(
            f"the database schema is at {revision or 'none'}, not {migrator.head()}: run agentkeep db upgrade"
        )
