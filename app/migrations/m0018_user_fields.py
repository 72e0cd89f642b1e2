"""Custom profile fields and metadata: the JSON-object columns user.fields and
user.metadata (jsonb on PostgreSQL, JSON text on SQLite), `{}` for everyone already there.

A database created at this version already has them (m0001 creates tables from the
current models): each is added only when missing."""
from __future__ import annotations

from ..userfields.jsoncolumn import column_type


def apply(db, migrator):
    present = {c.name for c in db.get_columns("user")}
    for column in ("fields", "metadata"):
        if column not in present:
            # NOT NULL with a default: SQLite adds it without rebuilding the table.
            db.execute_sql(f'ALTER TABLE "user" ADD COLUMN "{column}" {column_type(db)} '
                           "NOT NULL DEFAULT '{}'")
