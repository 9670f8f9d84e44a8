"""Idempotent runs on the run record (SPEC §9.7): a run's Idempotency-Key names the run it
started, and goes with it.

Revision ID: 0005_idempotent_runs
Revises: 0004_run_events
Create Date: 2026-12-07 18:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_idempotent_runs"
down_revision: str | Sequence[str] | None = "0004_run_events"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Batch mode: SQLite adds a foreign key only by rebuilding the table.
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("run_id", sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_idempotency_keys_run_id_runs"), "runs", ["run_id"], ["id"], ondelete="CASCADE"
        )
        batch_op.create_index(batch_op.f("ix_idempotency_keys_run_id"), ["run_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idempotency_keys_run_id"))
        batch_op.drop_constraint(batch_op.f("fk_idempotency_keys_run_id_runs"), type_="foreignkey")
        batch_op.drop_column("run_id")
