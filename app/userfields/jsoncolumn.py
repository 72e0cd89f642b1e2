"""A column holding a JSON object: `jsonb` on PostgreSQL (so it can be queried, e.g.
`fields->>'team'`), JSON text on SQLite. Never NULL: an empty object is `{}`."""
from __future__ import annotations

import json

from peewee import SQL, Field, PostgresqlDatabase


def dump_object(value: dict) -> str:
    """The compact JSON text of `value`, as stored and as its size is measured."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def column_type(database) -> str:
    """The SQL type of a JSON-object column on `database` (a peewee Database or its proxy)."""
    return "JSONB" if isinstance(getattr(database, "obj", database), PostgresqlDatabase) else "TEXT"


class JSONObjectField(Field):
    """A dict stored as jsonb (PostgreSQL) or JSON text (SQLite), default {}."""

    field_type = "TEXT"

    def __init__(self, **kwargs):
        kwargs.setdefault("default", dict)
        kwargs.setdefault("constraints", [SQL("DEFAULT '{}'")])
        super().__init__(**kwargs)

    def ddl_datatype(self, ctx):
        return SQL(column_type(self.model._meta.database))

    def db_value(self, value):
        return dump_object(value if value is not None else {})

    def python_value(self, value):
        if value is None:
            return {}
        if isinstance(value, (bytes, str)):  # SQLite text; psycopg2 already decodes jsonb
            return json.loads(value)
        return value
