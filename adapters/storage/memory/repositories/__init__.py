"""The memory repositories, one module per aggregate, as in the SQL adapter."""

from adapters.storage.memory.repositories.agents import MemoryAgentBios, MemoryAgents, MemoryProfileMetadata
from adapters.storage.memory.repositories.idempotency import MemoryIdempotencyKeys
from adapters.storage.memory.repositories.memories import MemoryMemories
from adapters.storage.memory.repositories.sessions import MemoryMessages, MemorySessions
from adapters.storage.memory.repositories.users import MemoryUsers

__all__ = [
    "MemoryAgentBios",
    "MemoryAgents",
    "MemoryIdempotencyKeys",
    "MemoryMemories",
    "MemoryMessages",
    "MemoryProfileMetadata",
    "MemorySessions",
    "MemoryUsers",
]
