"""The in-memory storage adapter: the ports of `domain.ports` (the runtime and the
backfill ones) over Python dicts.

It passes the same contract suite as the SQL adapters (`agentkeep/testing/contract/`), so use cases can be
tested against it, and it reproduces their rules: unique keys, cascades, order, paging.
"""

from agentkeep.adapters.storage.memory.storage import MemoryStorage, MemoryUnitOfWork

__all__ = ["MemoryStorage", "MemoryUnitOfWork"]
