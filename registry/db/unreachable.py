"""Whether a database error means the database cannot be used now (down, refusing connections,
out of connections, shutting down, locked, a transaction to retry), as opposed to a bug in the
statement: the first answers 503 with `Retry-After`, the second is a 500."""

from __future__ import annotations

import logging
import sqlite3

from sqlalchemy import exc as sa

TRANSIENT_SQLSTATE_CLASSES = frozenset({"08", "40", "53", "55", "57", "58"})
"""PostgreSQL's connection exception, transaction rollback (serialization failure, deadlock),
insufficient resources, object not in prerequisite state (a database not accepting connections,
a lock not available), operator intervention (shutdown) and system error classes."""


SQLITE_UNUSABLE = ("locked", "busy", "unable to open", "disk i/o", "readonly", "disk is full", "malformed")
"""What SQLite says when the file cannot be used now; its other operational errors (a syntax
error, a missing table) are bugs or a database never migrated."""


def database_unreachable(error: BaseException) -> bool:
    if isinstance(error, sa.OperationalError) and isinstance(error.orig, sqlite3.Error):
        message = str(error.orig).lower()
        return any(phrase in message for phrase in SQLITE_UNUSABLE)
    if isinstance(error, sa.OperationalError | sa.InterfaceError | sa.DisconnectionError | sa.TimeoutError):
        return True  # the connection broke, or the pool had none to give in time
    if isinstance(error, sa.DBAPIError):
        if error.connection_invalidated:
            return True
        for cause in (error.orig, getattr(error.orig, "__cause__", None)):
            sqlstate = getattr(cause, "sqlstate", None)
            if isinstance(sqlstate, str) and sqlstate[:2] in TRANSIENT_SQLSTATE_CLASSES:
                return True
            if isinstance(cause, ConnectionError | TimeoutError):
                return True
        return False
    return isinstance(error, ConnectionError)  # a driver's connect, not wrapped


def value_refused(error: BaseException) -> bool:
    """PostgreSQL refused a value (a data exception: too long for its column, out of range, a
    character it cannot store): the request's fault, not the database's."""
    if not isinstance(error, sa.DBAPIError) or isinstance(error, sa.IntegrityError):
        return False
    for cause in (error.orig, getattr(error.orig, "__cause__", None)):
        sqlstate = getattr(cause, "sqlstate", None)
        if isinstance(sqlstate, str) and sqlstate.startswith("22"):
            return True
    return False


def log_failure(logger: logging.Logger, what: str, error: BaseException) -> None:
    """For loops that retry: a database outage is one warning line (a traceback a second helps
    nobody while it lasts); any other failure is an error with its traceback."""
    if database_unreachable(error):
        logger.warning("%s: the database cannot be used now: %s", what, first_line(error))
    else:
        logger.error("%s", what, exc_info=error)


def first_line(error: BaseException) -> str:
    """An error's message in one line (a driver's message runs on with the statement)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
