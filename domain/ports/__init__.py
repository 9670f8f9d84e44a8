"""Ports: what the core needs from storage, models and legacy sources. Adapters implement them;
use cases depend on them only. One module per port:

- `users`, `agents`, `bios`, `profile_metadata`, `sessions` (with `RunLease`), `messages`,
  `memories`, `idempotency_keys`, `runs`, `run_events`: the repositories every request uses;
- `unit_of_work`: `UnitOfWork` (one transaction over them) and `Storage`, which hands them out;
- `backfill`: the batch methods only migrate-agents and import-automagik use, and their unit of work;
- `chat_model`: the models a run calls; `legacy_sources`: the databases the backfills read.

Every repository method runs inside the unit of work that owns it. Lists return `(items, total)`:
one page and the size of the whole filtered list. Writes that break a unique rule raise `Conflict`
naming the field; a write that points at a missing parent raises `NotFound`.

The names are re-exported here for short imports; the application imports each from its module.
"""

from agentkeep.domain.ports.agents import Agents
from agentkeep.domain.ports.backfill import (
    AgentBiosBackfill,
    AgentsBackfill,
    BackfillStorage,
    BackfillUnitOfWork,
    MemoriesBackfill,
    MessagesBackfill,
    ProfileMetadataBackfill,
    SessionsBackfill,
    UsersBackfill,
)
from agentkeep.domain.ports.bios import AgentBios
from agentkeep.domain.ports.chat_model import ChatModel, ChatModels
from agentkeep.domain.ports.idempotency_keys import IdempotencyKeys
from agentkeep.domain.ports.legacy_sources import AutomagikSource, ProfileSource
from agentkeep.domain.ports.memories import Memories
from agentkeep.domain.ports.messages import Messages
from agentkeep.domain.ports.profile_metadata import ProfileMetadata
from agentkeep.domain.ports.run_events import RunEvents
from agentkeep.domain.ports.runs import Runs
from agentkeep.domain.ports.sessions import RunLease, Sessions
from agentkeep.domain.ports.unit_of_work import Storage, UnitOfWork, UnitOfWorkAborted
from agentkeep.domain.ports.users import Users

__all__ = [
    "AgentBios",
    "AgentBiosBackfill",
    "Agents",
    "AgentsBackfill",
    "AutomagikSource",
    "BackfillStorage",
    "BackfillUnitOfWork",
    "ChatModel",
    "ChatModels",
    "IdempotencyKeys",
    "Memories",
    "MemoriesBackfill",
    "Messages",
    "MessagesBackfill",
    "ProfileMetadata",
    "ProfileMetadataBackfill",
    "ProfileSource",
    "RunEvents",
    "RunLease",
    "Runs",
    "Sessions",
    "SessionsBackfill",
    "Storage",
    "UnitOfWork",
    "UnitOfWorkAborted",
    "Users",
    "UsersBackfill",
]
