"""Alembic environment and revisions of agentkeep's schema: one linear history, valid on SQLite and
PostgreSQL. Run them with `agentkeep db upgrade` (see `adapters/storage/sql/migrator.py`); this package
is found by path, never imported by the application."""
