"""The database: built from Server.DatabaseURL, bound to the models' proxy, one pooled
connection per request, and the schema brought up to date at start-up."""
from __future__ import annotations

import logging
import os
from urllib.parse import urlsplit

from flask import Flask
from peewee import Database, OperationalError
from playhouse.db_url import connect as connect_url

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


def open_database(url: str, instance_path: str) -> Database:
    """A pooled peewee Database for `url`: connections are reused across requests, which
    matters most on SQLite, where opening one with its pragmas costs more than a request."""
    scheme = urlsplit(url).scheme
    path = sqlite_path(url, instance_path)
    if path is not None:
        base = "sqlite+pool" if path != ":memory:" else "sqlite"
        kwargs = {"pragmas": SQLITE_PRAGMAS}
        if base == "sqlite+pool":
            kwargs.update(max_connections=16, stale_timeout=3600, check_same_thread=False)
        return connect_url(f"{base}:///{path}", **kwargs)
    if "+pool" not in scheme and scheme in ("postgres", "postgresql", "postgresext",
                                             "postgresqlext", "psycopg3"):
        url = url.replace(f"{scheme}://", f"{scheme}+pool://", 1)
        return connect_url(url, max_connections=32, stale_timeout=300)
    return connect_url(url)


def init_app(app: Flask, url: str, instance_path: str) -> Database:
    """Bind the models to the configured database and manage a connection per request."""
    db = open_database(url, instance_path)
    database.initialize(db)
    app.extensions["keystead.db"] = db

    @app.before_request
    def _open_connection():
        db.connect(reuse_if_open=True)

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
