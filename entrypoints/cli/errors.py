"""How a command fails: one line on stderr and an exit code (SPEC §6), never a traceback.

| error | exit |
|---|---|
| `Invalid` (and click's usage errors) | 2 |
| `NotFound` | 3 |
| `Conflict` | 4 |
| `ModelUnavailable`, `ModelTimeout` | 5 |
| anything else: `StorageUnavailable`, a database error, a bug | 1 |
"""

from __future__ import annotations

import click
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from agentkeep.adapters.storage.sql.dialect import mask_url
from agentkeep.domain.errors import Conflict, DomainError, Invalid, ModelUnavailable, NotFound

EXIT_CODES: dict[type[DomainError], int] = {Invalid: 2, NotFound: 3, Conflict: 4, ModelUnavailable: 5}
OTHER = 1


def exit_code(error: BaseException) -> int:
    """The exit code of an error: that of its nearest class in `EXIT_CODES`, else 1."""
    for cls in type(error).__mro__:
        if cls in EXIT_CODES:
            return EXIT_CODES[cls]
    return OTHER


def describe(error: BaseException, database_url: str | None = None) -> str:
    """The error as one line, without a password."""
    if isinstance(error, DomainError):
        text = error.message + "".join(f" ({name.replace('_id', '')} {value})" for name, value in error.details.items())
    elif isinstance(error, DBAPIError | ConnectionError | TimeoutError):
        # A database that went away mid-command, a statement it refused: say which database.
        reason = error.orig if isinstance(error, DBAPIError) else error
        where = f" {mask_url(database_url)}" if database_url else ""
        text = f"database{where}: {reason or type(reason).__name__}"
    else:
        text = f"{type(error).__name__}: {error}"
    return _without_password(" ".join(text.split()), database_url)


def report(error: BaseException, database_url: str | None = None) -> int:
    """Print the error as one line on stderr; its exit code."""
    click.echo(f"Error: {describe(error, database_url)}", err=True)
    return exit_code(error)


def _without_password(text: str, database_url: str | None) -> str:
    if not database_url:
        return text
    try:
        password = make_url(database_url).password
    except ArgumentError:
        return text
    return text.replace(str(password), "***") if password else text
