"""The SQL repositories, one module per aggregate, all written on an `Executor` (`executor.py`).

A repository module never imports another (the unit of work, `unit_of_work.py`, assembles them
and hands one to another where it needs it) nor the unit of work; what several share (`base`,
`bulk`, `leases`, `message_rows`, `json_pages`) is apart. import-linter holds both rules
(`pyproject.toml`). This package imports nothing, so any of its modules can be imported first.
"""
