"""A session's run lease given back by its token: as a statement of its own
(`RELEASE_RUN_LEASE`), or as a CTE inside the statement that stores a run's reply
(`RELEASE_RUN_LEASE_CTE`, PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import Update, bindparam, update

from agentkeep.adapters.storage.sql.prepared import Prepared
from agentkeep.adapters.storage.sql.tables import sessions


def _release(session_id: str, token: str) -> Update:
    return (
        update(sessions)
        .where(sessions.c.id == bindparam(session_id), sessions.c.run_token == bindparam(token))
        .values(run_token=None, run_until=None)
    )


#: Parameters `b_id` (the session) and `token`.
RELEASE_RUN_LEASE = Prepared(_release("b_id", "token"))
#: Parameters `released_session` and `released_token`.
RELEASE_RUN_LEASE_CTE = _release("released_session", "released_token").cte("released")
