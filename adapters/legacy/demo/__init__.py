"""Demo legacy databases, to try `migrate-agents` and `import-automagik` on and to benchmark them.

`write_profiles` appends `bluesky_profiles` and `agent_bios` rows shaped like the social-agent
simulation platform's (shared/LEGACY-SCHEMAS.md), with a share of each bad-row kind of SPEC §4;
`write_automagik` appends a small automagik-agents database (SPEC §7). Both create the legacy
tables when absent (SQLite file or PostgreSQL database) and append to what is there.

A profile is a pure function of the seed and its row number (a hash, not a shared random stream):
two runs with one seed write the same rows whatever the batch size, and rows are made and inserted
one batch at a time, so memory stays flat at any count.
"""

from agentkeep.adapters.legacy.demo.automagik import write_automagik
from agentkeep.adapters.legacy.demo.database import Written
from agentkeep.adapters.legacy.demo.profiles import BAD_KINDS, write_profiles

__all__ = ["BAD_KINDS", "Written", "write_automagik", "write_profiles"]
