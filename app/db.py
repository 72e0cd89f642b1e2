"""The database: built from Server.DatabaseURL, bound to the models' proxy, one pooled
connection per request, and the schema brought up to date at start-up. Also which
failures mean "the database is busy or gone" (503, the client may retry) rather than a
bug (500), and dropping the connections such a failure left dead."""
from __future__ import annotations

import logging
import os
import sqlite3
from urllib.parse import parse_qsl, urlsplit

from flask import Flask
from peewee import Database, PeeweeException
from playhouse.db_url import connect as connect_url
from playhouse.pool import MaxConnectionsExceeded, PooledDatabase

from .instance import private_database_file
from .models import database

log = logging.getLogger("keystead")

SQLITE_BUSY_TIMEOUT_MS = 5000
STATEMENT_TIMEOUT_MS = 30_000
LOCK_TIMEOUT_MS = 5_000
# How long opening a PostgreSQL connection may take: a host that drops packets instead of
# refusing them must not hold a worker for the kernel's TCP timeout (minutes).
CONNECT_TIMEOUT_S = 10
POSTGRES_SCHEMES = ("postgres", "postgresql", "postgresext", "postgresqlext", "psycopg3")
SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "busy_timeout": SQLITE_BUSY_TIMEOUT_MS,
    "foreign_keys": 1,
    "synchronous": "normal",
}


def sqlite_path(url: str, instance_path: str) -> str | None:
    """The file of a sqlite:// URL, relative paths taken inside the instance folder."""
    parts = urlsplit(url)
    if not parts.scheme.startswith("sqlite"):
        return None
    path = url.split("://", 1)[1]
    path = path[1:] if path.startswith("/") else path  # sqlite:///rel -> rel; sqlite:////abs -> /abs
    path = path.split("?", 1)[0]
    if path == ":memory:":
        return path
    return path if os.path.isabs(path) else os.path.join(instance_path, path)


def open_database(url: str, instance_path: str,
                  busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS,
                  statement_timeout_ms: int = STATEMENT_TIMEOUT_MS,
                  lock_timeout_ms: int = LOCK_TIMEOUT_MS) -> Database:
    """A peewee Database for `url` whose connections outlive a request: on SQLite one per
    worker thread, kept open (opening one with its pragmas costs more than a whole
    request); on PostgreSQL a pool that each request borrows from. A SQLite writer waits
    `busy_timeout_ms` for another's lock (Server.SQLiteBusyTimeout); every PostgreSQL
    connection gets `statement_timeout_ms` and `lock_timeout_ms` (Server.StatementTimeout,
    Server.LockTimeout), so a stuck query or a held row lock cannot keep a worker forever.
    Past any of them the request answers 503 (app/web/__init__.py)."""
    scheme = urlsplit(url).scheme
    path = sqlite_path(url, instance_path)
    if path is not None:
        if path != ":memory:":
            private_database_file(path)
        return connect_url(f"sqlite:///{path}", pragmas={**SQLITE_PRAGMAS, "busy_timeout": busy_timeout_ms},
                           timeout=busy_timeout_ms / 1000)
    if scheme.split("+", 1)[0] in POSTGRES_SCHEMES:
        params = postgres_connection_options(url, statement_timeout_ms, lock_timeout_ms)
        if "+pool" not in scheme:
            url = url.replace(f"{scheme}://", f"{scheme}+pool://", 1)
            params.update(max_connections=32, stale_timeout=300)
        return connect_url(url, **params)
    return connect_url(url)


def postgres_connection_options(url: str, statement_timeout_ms: int, lock_timeout_ms: int) -> dict:
    """libpq parameters for every connection: the server-side timeouts (sent with the
    connection's start-up packet, so they cost no round trip) and a connect timeout. What
    the URL itself says wins: its `options` come after ours (PostgreSQL applies the last
    `-c` of a name), its `connect_timeout` replaces ours."""
    query = dict(parse_qsl(urlsplit(url).query))
    options = f"-c statement_timeout={statement_timeout_ms} -c lock_timeout={lock_timeout_ms}"
    if query.get("options"):
        options = f"{options} {query['options']}"
    params = {"options": options}
    if "connect_timeout" not in query:
        params["connect_timeout"] = CONNECT_TIMEOUT_S
    return params


def init_app(app: Flask, url: str, instance_path: str,
             busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS,
             statement_timeout_ms: int = STATEMENT_TIMEOUT_MS,
             lock_timeout_ms: int = LOCK_TIMEOUT_MS) -> Database:
    """Bind the models to the configured database. A request's first query opens its
    connection (its thread's own on SQLite, one borrowed from the pool on PostgreSQL: the
    pool hands out only a connection that still answers); at the end of the request a
    pooled connection goes back to the pool, or, if it died (the server restarted or went
    away), is closed and forgotten, so that the next request opens a new one."""
    db = open_database(url, instance_path, busy_timeout_ms, statement_timeout_ms, lock_timeout_ms)
    database.initialize(db)
    app.extensions["keystead.db"] = db

    if isinstance(db, PooledDatabase):
        @app.teardown_appcontext
        def _close_connection(exc):
            if not db.is_closed():
                give_back(db)

    return db


def write_transaction():
    """A transaction for work that reads and then writes what it read (spend a token once,
    compare and set). On SQLite it takes the write lock at BEGIN (IMMEDIATE), so racing
    requests queue for it (up to Server.SQLiteBusyTimeout) instead of one failing at once
    with "database is locked" when its read lock cannot become a write lock. PostgreSQL's
    row locks already order them."""
    from peewee import SqliteDatabase
    if isinstance(database.obj, SqliteDatabase):
        return database.atomic("IMMEDIATE")
    return database.atomic()


def for_update(query):
    """`query` (a select inside write_transaction) locking the rows it reads on
    PostgreSQL, so racing transactions take their turns from that first read on: without
    it, two losers of a race could each revoke a token's whole family at once and
    deadlock. SQLite's write_transaction already holds the one write lock."""
    from peewee import SqliteDatabase
    return query if isinstance(database.obj, SqliteDatabase) else query.for_update()


def give_back(db: PooledDatabase) -> None:
    """Return this thread's connection to the pool: the pool rolls back what a failed
    request left open and closes a connection that no longer answers instead of keeping
    it. If even that fails, the connection is dropped here."""
    try:
        db.close()
    except Exception as e:
        log.warning("database connection discarded: %s", describe_failure(e, db))
        discard_connection(db)


def discard_connection(db: Database) -> None:
    """Forget this thread's connection without returning it to a pool (closing it if it
    can still be closed): whatever state it was left in, the next query opens a new one."""
    if isinstance(db, PooledDatabase):
        try:
            db.manual_close()  # out of the pool's books, then closed
            return
        except Exception:  # it could not even be closed: forget it below
            pass
    conn = db._state.conn
    if conn is not None:
        try:
            conn.close()
        except Exception:  # already gone with its server
            pass
    db._state.reset()


def forget_dead_connections(db: Database) -> None:
    """After a failure that says the database went away (stopped, restarted, unreachable):
    drop this thread's connection and the pool's idle ones, which died with the same
    server, so that the requests after it reconnect instead of each failing once on a
    dead connection. Costs nothing while the database answers (no ping per request)."""
    if not db.is_closed():
        discard_connection(db)
    if isinstance(db, PooledDatabase):
        db.close_idle()


# ---------------------------------------------------------------- failures

_SQLITE_UNAVAILABLE = ("locked", "busy", "unable to open", "disk i/o error", "readonly database",
                       "disk is full")
# Lock timeout, statement timeout, serialisation failure, deadlock, too many connections:
# by SQLSTATE, and by the names psycopg2 and psycopg give their exception classes.
_BUSY_SQLSTATES = ("55P03", "57014", "40001", "40P01", "53300")
_BUSY_ERRORS = {"LockNotAvailable", "QueryCanceled", "SerializationFailure", "DeadlockDetected",
                "TooManyConnections"}


def _driver_error(e: BaseException) -> BaseException:
    """The driver's own exception inside peewee's wrappers (peewee keeps the exception it
    wraps as `orig`, and may wrap its own again)."""
    while isinstance(getattr(e, "orig", None), BaseException):
        e = e.orig
    return e


def database_failure(e: BaseException) -> str | None:
    """"busy" (a lock or statement timeout, a serialisation failure, no connection left),
    "unavailable" (the database does not answer: connection refused or lost, the server
    shutting down or starting, the SQLite file unreadable) or None (any other error: a
    bug, answered 500). Either of the first two answers 503: the client may retry."""
    if isinstance(e, MaxConnectionsExceeded):
        return "busy"
    driver = _driver_error(e)
    if isinstance(driver, sqlite3.Error):
        if isinstance(driver, sqlite3.OperationalError):
            message = str(driver).lower()
            if "locked" in message or "busy" in message:
                return "busy"
            if any(marker in message for marker in _SQLITE_UNAVAILABLE):
                return "unavailable"
        return None
    if isinstance(driver, PeeweeException):
        return None  # peewee's own complaint about how it is used: a bug
    names = {cls.__name__ for cls in type(driver).__mro__}
    if (names & _BUSY_ERRORS or getattr(driver, "pgcode", None) in _BUSY_SQLSTATES
            or getattr(driver, "sqlstate", None) in _BUSY_SQLSTATES):
        return "busy"
    if names & {"OperationalError", "InterfaceError"}:
        return "unavailable"
    if type(driver).__name__ == "DatabaseError" and getattr(driver, "pgcode", "") is None:
        # psycopg2's plain DatabaseError without a server error code: the connection
        # broke (e.g. "SSL SYSCALL error: EOF detected"); its subclasses without a code
        # (ProgrammingError "can't adapt type") are bugs.
        return "unavailable"
    return None


def describe_failure(e: BaseException, db: Database | None = None) -> str:
    """One line for the log: the driver's first line of message, never the password of
    the database URL (a driver may quote its connection string). Of a failure that caused
    another (a rollback on a connection the server had just closed), the first one: it
    says why."""
    while e.__context__ is not None and database_failure(e.__context__):
        e = e.__context__
    driver = _driver_error(e)
    lines = str(driver).strip().splitlines()
    message = f"{type(driver).__name__}: {lines[0]}" if lines else type(driver).__name__
    password = getattr(db, "connect_params", {}).get("password") if db is not None else None
    if password:
        message = message.replace(str(password), "…")
    return message


def database_answers(db: Database) -> bool:
    """Whether a query gets an answer (one line in the log when not)."""
    try:
        db.execute_sql("SELECT 1").fetchone()
        return True
    except Exception as e:  # any driver failure means "not answering"
        log.warning("database health check failed: %s", describe_failure(e, db))
        if database_failure(e) == "unavailable":
            forget_dead_connections(db)
        return False


class CompiledQuery:
    """A query on a hot path, built with the ORM once per database and then run as plain
    SQL with parameters: on the path every API call takes, peewee's query building costs
    more than the query itself (PERFORMANCE.md).

    `build(*markers)` returns the peewee query with the given marker values where the
    parameters go; `run(*values)` executes it with real values and returns the cursor.
    """

    def __init__(self, name: str, build, markers: tuple):
        self.attribute = f"keystead_compiled_{name}"
        self.build, self.markers = build, markers

    def _compile(self, db):
        sql, params = db.get_sql_context().sql(self.build(*self.markers)).query()
        slots = [params.index(marker) for marker in self.markers]
        compiled = (sql, params, slots)
        setattr(db, self.attribute, compiled)  # kept with its database (SQL dialects differ)
        return compiled

    def run(self, *values):
        db = database.obj
        sql, params, slots = getattr(db, self.attribute, None) or self._compile(db)
        params = list(params)
        for slot, value in zip(slots, values):
            params[slot] = value
        return db.execute_sql(sql, params)
