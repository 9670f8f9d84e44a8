"""The SQL adapter's one translator (`errors.py`): what each driver error means in the domain."""

from __future__ import annotations

import sqlite3

import asyncpg
import pytest
from sqlalchemy.exc import OperationalError

from agentkeep.adapters.storage.sql.errors import Translated, domain_error
from agentkeep.domain.errors import Conflict, Invalid, StorageUnavailable


def _sqlite_error(*statements: str) -> sqlite3.Error:
    """The error SQLite itself raises for the last statement."""
    connection = sqlite3.connect(":memory:", isolation_level=None)
    *setup, failing = statements
    for statement in setup:
        connection.execute(statement)
    with pytest.raises(sqlite3.Error) as raised:
        connection.execute(failing)
    return raised.value


FULL = ("CREATE TABLE t (x)", "PRAGMA max_page_count = 2", "INSERT INTO t VALUES (randomblob(100000))")


def test_a_full_sqlite_disk_is_unavailable_raw_or_under_sqlalchemy() -> None:
    error = _sqlite_error(*FULL)
    assert isinstance(domain_error(error), StorageUnavailable)
    wrapped = OperationalError("INSERT ...", {}, error)
    assert isinstance(domain_error(wrapped), StorageUnavailable)


def test_a_missing_table_or_bad_sql_is_a_bug_and_propagates() -> None:
    assert domain_error(_sqlite_error("SELECT * FROM nowhere")) is None
    assert domain_error(asyncpg.exceptions.PostgresSyntaxError("syntax error")) is None
    with pytest.raises(sqlite3.OperationalError), Translated():
        raise _sqlite_error("SELECT * FROM nowhere")


def test_a_duplicate_is_a_conflict_and_a_bad_value_invalid() -> None:
    duplicate = _sqlite_error(
        "CREATE TABLE users (email UNIQUE)", "INSERT INTO users VALUES ('a')", "INSERT INTO users VALUES ('a')"
    )
    assert isinstance(domain_error(duplicate), Conflict)
    assert isinstance(domain_error(asyncpg.exceptions.CharacterNotInRepertoireError("NUL")), Invalid)


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        asyncpg.exceptions.DiskFullError("could not extend file"),
        asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"),
        asyncpg.InternalClientError("cannot switch to state 12; another operation (2) is in progress"),
        ConnectionResetError("reset by peer"),
    ],
    ids=type,
)
def test_a_postgres_server_gone_or_out_of_resources_is_unavailable(error: Exception) -> None:
    assert isinstance(domain_error(error), StorageUnavailable)


def test_any_error_on_a_connection_now_closed_is_unavailable_and_breaks_it() -> None:
    broken: list[bool] = []
    with pytest.raises(StorageUnavailable), Translated(lambda: True, lambda: broken.append(True)):
        raise asyncpg.InterfaceError("connection is closed")
    assert broken == [True]
