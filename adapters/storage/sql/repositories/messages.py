"""Messages in SQL: one stable order per session (`created_at`, then the insertion key `seq`), and
system prompts stored once per distinct text, referenced by their SHA-256."""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Collection, Sequence

from sqlalchemy import bindparam, select

from agentkeep.adapters.storage.sql.dialect import POSTGRES, SQLITE, insert_ignoring
from agentkeep.adapters.storage.sql.prepared import Prepared, insert_row
from agentkeep.adapters.storage.sql.repositories import bulk
from agentkeep.adapters.storage.sql.repositories.base import Listing, SqlRepository, entity_columns
from agentkeep.adapters.storage.sql.repositories.json_pages import json_page
from agentkeep.adapters.storage.sql.repositories.message_rows import (
    MESSAGE_COLUMNS,
    STORED_PROMPT,
    message_row,
    prompt_id,
)
from agentkeep.adapters.storage.sql.tables import messages, system_prompts
from agentkeep.domain.models import Message
from agentkeep.domain.paging import Paging
from agentkeep.domain.patches import MessagePatch
from agentkeep.domain.values import Role, utcnow

_ORDER = (messages.c.created_at, messages.c.seq)
_ROWS = select(*entity_columns(messages, Message), system_prompts.c.text.label("system_prompt")).select_from(
    messages.outerjoin(system_prompts)
)

_ADD = Prepared(insert_row(messages, MESSAGE_COLUMNS))
_BY_ID = Prepared(_ROWS.where(messages.c.id == bindparam("id")))
_IDS = bulk.RowsByKeys(select(messages.c.id), messages.c.id)
_LIST = Listing(
    messages,
    _ORDER,
    rows=_ROWS,
    session_id=messages.c.session_id == bindparam("session_id"),
    hide_tools=messages.c.role != Role.TOOL.value,
)
# Newest first, so the (session_id, created_at, seq) index stops after `limit` rows; the rows as
# one JSON array the database builds (`json_pages`), validated in one call.
_LAST = {
    dialect: Prepared(
        json_page(
            _ROWS.add_columns(messages.c.seq)
            .where(messages.c.session_id == bindparam("session_id"))
            .order_by(*(c.desc() for c in _ORDER))
            .limit(bindparam("limit")),
            dialect,
            order=("created_at", "seq"),
            hidden=("seq",),
        )
    )
    for dialect in (SQLITE, POSTGRES)
}


_ADD_PROMPT = {
    dialect: Prepared(
        insert_ignoring(system_prompts, dialect, ["id"]).values(
            id=bindparam("id"), text=bindparam("text"), created_at=bindparam("created_at")
        )
    )
    for dialect in (SQLITE, POSTGRES)
}


def _add_prompt(dialect: str) -> Prepared:
    """INSERT a system prompt unless its key is stored (the upsert differs per dialect)."""
    return _ADD_PROMPT[dialect]


# PostgreSQL: a message and its prompt in one statement (a round trip costs more than the SQL).
_ADD_WITH_PROMPT = Prepared(insert_row(messages, MESSAGE_COLUMNS).add_cte(STORED_PROMPT))


class SqlMessages(SqlRepository):
    table = messages

    async def add(self, message: Message) -> Message:
        await self.add_many([message])
        return message

    async def add_many(self, batch: Sequence[Message]) -> None:
        if not batch:
            return
        if self._dialect == POSTGRES and len(batch) == 1 and batch[0].system_prompt is not None:
            await self._executor.write(
                _ADD_WITH_PROMPT, {**message_row(batch[0]), "prompt_text": batch[0].system_prompt}
            )
            return
        prompts = {prompt_id(m.system_prompt): m.system_prompt for m in batch if m.system_prompt is not None}
        if prompts:
            now = utcnow()
            # In key order, so two transactions adding the same new prompts cannot deadlock.
            rows = [{"id": key, "text": text, "created_at": now} for key, text in sorted(prompts.items())]
            await self._executor.write(_add_prompt(self._dialect), rows)
        # One executemany: the rows get their `seq` in the order of `batch`.
        await self._executor.write(_ADD, [message_row(m) for m in batch])

    async def get(self, message_id: uuid.UUID) -> Message | None:
        return await self._row(Message, _BY_ID, {"id": message_id})

    async def existing_ids(self, message_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
        return await self._keys_present(_IDS, message_ids)

    async def list(
        self, session_id: uuid.UUID, paging: Paging, *, hide_tools: bool = False
    ) -> tuple[list[Message], int]:
        return await self._page(Message, _LIST, paging, session_id=session_id, hide_tools=hide_tools or None)

    async def last(self, session_id: uuid.UUID, limit: int) -> builtins.list[Message]:
        if limit <= 0:
            return []
        page = await self._json_page(Message, _LAST[self._dialect], {"session_id": session_id, "limit": limit})
        return page[::-1]

    async def update(self, message_id: uuid.UUID, patch: MessagePatch) -> Message | None:
        if patch:
            # Messages have no `updated_at`, so not `_patch`.
            await self._update("id", message_id, patch.changes())
        return await self.get(message_id)

    async def delete(self, message_id: uuid.UUID) -> bool:
        return await self._delete("id", message_id)
