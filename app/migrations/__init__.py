"""Numbered schema migrations, each applied once and recorded in SchemaVersion.

A migration is a module `mNNNN_<name>.py` here with `apply(db, migrator)`, using the
released `playhouse.migrate` API. `upgrade` runs the missing ones in order, each in its
own transaction, holding a lock so workers starting together do not race.

m0001 and the other create-table migrations create tables from the current models
(`create_tables(safe=True)`), so on a new database they already have every column. A
later migration that adds a column to an existing table must therefore skip it when the
column is there (check `db.get_columns(table)` first), or it would fail on new databases.

A migration that rebuilds SQLite tables (drop and re-create: SQLite's only way to change a
column or key) sets `REBUILDS_TABLES = True`: the runner turns foreign keys off around it,
which SQLite allows only outside a transaction, so dropping the old table does not cascade
to its children; the migration checks `PRAGMA foreign_key_check` before it ends.
"""
from __future__ import annotations

import importlib
import logging
import pkgutil
import re

from peewee import PostgresqlDatabase, SqliteDatabase
from playhouse.migrate import PostgresqlMigrator, SchemaMigrator, SqliteMigrator

from ..models import SchemaVersion, utcnow

log = logging.getLogger("keystead")


def available_migrations() -> list[tuple[int, str, object]]:
    found = []
    for info in pkgutil.iter_modules(__path__):
        m = re.match(r"^m(\d{4})_(\w+)$", info.name)
        if m:
            module = importlib.import_module(f"{__name__}.{info.name}")
            found.append((int(m.group(1)), m.group(2), module))
    return sorted(found, key=lambda t: t[0])


def _migrator(db) -> SchemaMigrator:
    if isinstance(db, SqliteDatabase):
        return SqliteMigrator(db)
    if isinstance(db, PostgresqlDatabase):
        return PostgresqlMigrator(db)
    return SchemaMigrator.from_database(db)


def _lock(db):
    """Serialise concurrent upgrades: IMMEDIATE on SQLite, an advisory lock on PostgreSQL."""
    if isinstance(db, SqliteDatabase):
        return db.atomic("IMMEDIATE")
    return db.atomic()


def current_version(db) -> int:
    if not db.table_exists(SchemaVersion._meta.table_name):
        return 0
    latest = SchemaVersion.select(SchemaVersion.version).order_by(SchemaVersion.version.desc()).first()
    return latest.version if latest else 0


def upgrade(db) -> int:
    """Apply every migration not yet recorded; return the schema version. Idempotent."""
    migrator = _migrator(db)
    with db.connection_context():
        for version, name, module in available_migrations():
            rebuilds = getattr(module, "REBUILDS_TABLES", False) and isinstance(db, SqliteDatabase)
            if rebuilds:
                db.execute_sql("PRAGMA foreign_keys = OFF")
            try:
                _apply_once(db, migrator, version, name, module)
            finally:
                if rebuilds:
                    db.execute_sql("PRAGMA foreign_keys = ON")
        return current_version(db)


def _apply_once(db, migrator, version: int, name: str, module) -> None:
    with _lock(db):
        if isinstance(db, PostgresqlDatabase):
            db.execute_sql("SELECT pg_advisory_xact_lock(7263546)")
        db.create_tables([SchemaVersion], safe=True)
        if SchemaVersion.get_or_none(SchemaVersion.version == version):
            return
        module.apply(db, migrator)
        SchemaVersion.create(version=version, name=name, applied_at=utcnow())
        log.info("applied schema migration %04d %s", version, name)
