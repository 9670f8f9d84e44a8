"""The memory repositories, one module per aggregate, as in the SQL adapter."""

from agentkeep.adapters.storage.memory.repositories.agents import MemoryAgentBios, MemoryAgents, MemoryProfileMetadata
from agentkeep.adapters.storage.memory.repositories.idempotency import MemoryIdempotencyKeys
from agentkeep.adapters.storage.memory.repositories.memories import MemoryMemories
from agentkeep.adapters.storage.memory.repositories.run_events import MemoryRunEvents
from agentkeep.adapters.storage.memory.repositories.runs import MemoryRuns
from agentkeep.adapters.storage.memory.repositories.sessions import MemoryMessages, MemorySessions
from agentkeep.adapters.storage.memory.repositories.users import MemoryUsers

__all__ = [
    "MemoryAgentBios",
    "MemoryAgents",
    "MemoryIdempotencyKeys",
    "MemoryMemories",
    "MemoryMessages",
    "MemoryProfileMetadata",
    "MemoryRunEvents",
    "MemoryRuns",
    "MemorySessions",
    "MemoryUsers",
]
