"""Whose fault a failed write is: the database's (everybody gets 503 and retries) or one value's (that
event alone is refused with 400). Errors as the drivers raise them, wrapped as SQLAlchemy wraps them."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest
from psycopg import errors as pg
from sqlalchemy import exc as sa

from relay.storage.faults import data_error, unavailable

pytestmark = pytest.mark.unit


def wrapped(orig: Exception) -> sa.DBAPIError:
    """``orig`` as SQLAlchemy raises it from a statement (its DBAPIError subclass of the same name)."""
    base: type[Exception] = psycopg.Error if isinstance(orig, psycopg.Error) else sqlite3.Error
    error = sa.DBAPIError.instance("INSERT INTO events ...", {}, orig, base)
    assert isinstance(error, sa.DBAPIError)
    return error


def error_id(error: Exception) -> str:
    """A test id: the driver's class and the SQLSTATE the server answered with, if any."""
    return type(error).__name__ + ":" + str(getattr(error, "sqlstate", "") or "")


@pytest.mark.parametrize(
    "orig",
    [
        pg.UndefinedTable('relation "deliveries" does not exist'),
        pg.UndefinedColumn('column "consent" does not exist'),
        pg.InsufficientPrivilege("permission denied for table events"),
        pg.UndefinedFunction("function json_extract_path_text does not exist"),
        pg.InvalidSchemaName('schema "relay" does not exist'),
        pg.ReadOnlySqlTransaction("cannot execute INSERT in a read-only transaction"),
        pg.DiskFull("could not extend file"),
        pg.AdminShutdown("terminating connection due to administrator command"),
        pg.LockNotAvailable("could not obtain lock"),
        pg.SerializationFailure("could not serialize access"),
        psycopg.OperationalError("connection refused"),
        sqlite3.OperationalError("no such table: deliveries"),
        sqlite3.OperationalError("database is locked"),
    ],
    ids=error_id,
)
def test_the_database_in_trouble_is_nobodys_fault(orig: Exception) -> None:
    error = wrapped(orig)
    assert unavailable(error) and not data_error(error)


@pytest.mark.parametrize(
    "orig",
    [
        pg.StringDataRightTruncation("value too long for type character varying(100)"),
        pg.UniqueViolation("duplicate key value violates unique constraint"),
        pg.NumericValueOutOfRange("integer out of range"),
        pg.CharacterNotInRepertoire('invalid byte sequence for encoding "UTF8"'),
        pg.DatatypeMismatch('column "event_time" is of type bigint but expression is of type text'),
        pg.ProgramLimitExceeded("index row size exceeds btree maximum"),
        psycopg.ProgrammingError("cannot adapt type 'dict'"),  # client side: no SQLSTATE
        sqlite3.ProgrammingError("Error binding parameter 3: type 'dict' is not supported"),
        sqlite3.IntegrityError("UNIQUE constraint failed: events.dedup_key"),
    ],
    ids=error_id,
)
def test_a_value_the_database_refuses_is_that_events_fault(orig: Exception) -> None:
    error = wrapped(orig)
    assert data_error(error) and not unavailable(error)
