"""The database: built from Server.DatabaseURL, bound to the models' proxy, one pooled
connection per request, and the schema brought up to date at start-up."""
from __future__ import annotations

import logging
import os
from urllib.parse import urlsplit

from flask import Flask
from peewee import Database, OperationalError
from playhouse.db_url import connect as connect_url
from playhouse.pool import PooledDatabase

from .instance import private_database_file
from .models import database

log = logging.getLogger("keystead")

SQLITE_BUSY_TIMEOUT_MS = 5000
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
                  busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS) -> Database:
    """A peewee Database for `url` whose connections outlive a request: on SQLite one per
    worker thread, kept open (opening one with its pragmas costs more than a whole
    request); on PostgreSQL a pool that each request borrows from. A SQLite writer waits
    `busy_timeout_ms` for another's lock (Server.SQLiteBusyTimeout), then the request
    answers 503 (app/web/__init__.py)."""
    scheme = urlsplit(url).scheme
    path = sqlite_path(url, instance_path)
    if path is not None:
        if path != ":memory:":
            private_database_file(path)
        return connect_url(f"sqlite:///{path}", pragmas={**SQLITE_PRAGMAS, "busy_timeout": busy_timeout_ms},
                           timeout=busy_timeout_ms / 1000)
    if "+pool" not in scheme and scheme in ("postgres", "postgresql", "postgresext",
                                             "postgresqlext", "psycopg3"):
        url = url.replace(f"{scheme}://", f"{scheme}+pool://", 1)
        return connect_url(url, max_connections=32, stale_timeout=300)
    return connect_url(url)


def init_app(app: Flask, url: str, instance_path: str,
             busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS) -> Database:
    """Bind the models to the configured database; each request has a connection (its
    thread's own on SQLite, one borrowed from the pool and given back on PostgreSQL)."""
    db = open_database(url, instance_path, busy_timeout_ms)
    database.initialize(db)
    app.extensions["keystead.db"] = db

    @app.before_request
    def _open_connection():
        if db.is_closed():
            db.connect()

    if isinstance(db, PooledDatabase):
        @app.teardown_appcontext
        def _close_connection(exc):
            if not db.is_closed():
                db.close()  # back to the pool

    return db


def database_answers(db: Database) -> bool:
    try:
        db.execute_sql("SELECT 1").fetchone()
        return True
    except (OperationalError, Exception):  # any driver failure means "not answering"
        log.exception("database health check failed")
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
