"""Hypothesis strategies for agentkeep's domain: valid entities, patches and their parts.

Everything made here is stored identically by every storage adapter: strings hold no NUL character
(PostgreSQL rejects it in text and JSON) and no lone surrogate; JSON integers fit 64 bits and JSON
floats are finite eighths (exact in binary and in decimal, so they survive PostgreSQL's `numeric`);
timestamps carry a zone and microseconds. Parent ids are parameters: pass a value, or a strategy.
So are the ids and unique names of the entities themselves: Hypothesis may well draw one UUID
twice, so a test that writes many examples into one database passes fresh ones,
`users(ids=st.builds(uuid.uuid4))` (not `ids=uuid.uuid4()`: that value is drawn once, and every
example would get the same id), or draws them from a pool on purpose to provoke conflicts.

Three modules: `values` (texts, JSON, timestamps, emails, ids and names), `entities` (one strategy
per domain model) and `patches`; every name is importable from here.
"""

from agentkeep.testing.strategies.entities import *  # noqa: F403
from agentkeep.testing.strategies.entities import __all__ as _entities
from agentkeep.testing.strategies.patches import *  # noqa: F403
from agentkeep.testing.strategies.patches import __all__ as _patches
from agentkeep.testing.strategies.values import *  # noqa: F403
from agentkeep.testing.strategies.values import __all__ as _values

__all__ = [*_values, *_entities, *_patches]
