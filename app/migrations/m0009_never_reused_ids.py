"""Ids that are never handed out twice, and a random identifier per person that browser
sessions, API tokens, API keys and one-time links are bound to, so that nothing issued to
one person can ever open another's account.

- user.uniquifier: added, and filled with a fresh random value for every existing person.
- token, one_time_link and api_key get user_key, filled with their person's uniquifier, so
  tokens, keys and links issued before the upgrade keep working. Browser sessions do not:
  their cookie does not carry the uniquifier, so everyone logs in again once.
- SQLite: "user", "group", api_key and document are rebuilt with AUTOINCREMENT (SQLite
  cannot add it to an existing table), keeping every row and id, the table's indexes and
  triggers (the people search indexes, the people_count triggers, the documents' full-text
  triggers) and the foreign keys pointing at it. Each sequence starts above the highest id
  the table or the audit log has seen, so the id of someone deleted before the upgrade is
  not handed out again. PostgreSQL's SERIAL sequences never go back, so it needs no
  rebuild.

A database created at this version already has all of it (m0001 creates tables from the
current models); every step checks first.
"""
from __future__ import annotations

import re

from peewee import PostgresqlDatabase, SqliteDatabase

from ..models import new_uniquifier

# The runner turns SQLite's foreign keys off around this migration (they cannot change
# inside a transaction): dropping a rebuilt table must not cascade to its children.
REBUILDS_TABLES = True

BOUND_TABLES = ("token", "one_time_link", "api_key")
# Table -> SQL giving the highest id the audit log names for it (SQLite).
AUTOINCREMENT_TABLES = {
    "user": 'SELECT MAX(MAX(COALESCE(actor_id, 0)), MAX(COALESCE(target_id, 0))) FROM audit_event',
    "group": "SELECT MAX(CAST(json_extract(details, '$.group_id') AS INTEGER)) FROM audit_event "
             "WHERE event = 'group_change' AND json_valid(details)",
    "api_key": "SELECT MAX(CAST(json_extract(details, '$.id') AS INTEGER)) FROM audit_event "
               "WHERE event IN ('api_key_create', 'api_key_revoke') AND json_valid(details)",
    "document": None,
}


def _columns(db, table: str) -> set[str]:
    return {c.name for c in db.get_columns(table)}


def _add_uniquifier(db) -> None:
    postgres = isinstance(db, PostgresqlDatabase)
    if "uniquifier" not in _columns(db, "user"):
        db.execute_sql('ALTER TABLE "user" ADD COLUMN "uniquifier" VARCHAR(64)')
    ids = [row[0] for row in db.execute_sql('SELECT id FROM "user" WHERE uniquifier IS NULL')]
    # Made here (secrets), not by the database's random(): they guard sessions and tokens.
    # A thousand rows per statement: one statement per row is slow on PostgreSQL.
    p = db.param
    for start in range(0, len(ids), 1000):
        batch = ids[start:start + 1000]
        rows = ", ".join([f"({p}, {p})"] * len(batch))
        params = [v for user_id in batch for v in (user_id, new_uniquifier())]
        db.execute_sql(f'UPDATE "user" SET uniquifier = v.column2 FROM (VALUES {rows}) AS v '
                       f'WHERE "user".id = v.column1', params)
    if postgres:
        db.execute_sql('ALTER TABLE "user" ALTER COLUMN "uniquifier" SET NOT NULL')
    # SQLite: NOT NULL comes with the rebuild below.


def _bind_rows(db) -> None:
    for table in BOUND_TABLES:
        if not db.table_exists(table):
            continue
        if "user_key" not in _columns(db, table):
            db.execute_sql(f'ALTER TABLE "{table}" ADD COLUMN "user_key" VARCHAR(64)')
        db.execute_sql(f'UPDATE "{table}" SET user_key = (SELECT uniquifier FROM "user" '
                       f'WHERE "user".id = "{table}".user_id) WHERE user_key IS NULL')


def _rebuilt_sql(sql: str, table: str, new_name: str) -> str:
    """The CREATE TABLE of `table` under `new_name`, its id AUTOINCREMENT and (on "user")
    uniquifier NOT NULL; anything unexpected stops the migration rather than guess."""
    sql, renamed = re.subn(rf'^CREATE TABLE\s+("{re.escape(table)}"|{re.escape(table)})\s*\(',
                           f'CREATE TABLE "{new_name}" (', sql, count=1)
    sql, keyed = re.subn(r'("id"|\bid)\s+INTEGER\s+NOT\s+NULL\s+PRIMARY\s+KEY\b',
                         '"id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT', sql, count=1, flags=re.I)
    if not (renamed and keyed):
        raise RuntimeError(f'm0009: unexpected schema of table "{table}"; not rebuilt')
    if table == "user":
        sql = re.sub(r'"uniquifier" VARCHAR\(64\)(?!\s+NOT NULL)', '"uniquifier" VARCHAR(64) NOT NULL', sql)
    return sql


def _rebuild_with_autoincrement(db, table: str, audit_max_sql: str | None) -> None:
    """SQLite's way to change a table (https://sqlite.org/lang_altertable.html#otheralter),
    foreign keys being off: make the new table, copy, drop the old, rename, then recreate
    the old table's indexes and triggers from their recorded SQL."""
    row = db.execute_sql("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone()
    if row is None or "AUTOINCREMENT" in row[0].upper():
        return
    new_name = f"{table}_m0009"
    attached = db.execute_sql(
        "SELECT sql FROM sqlite_master WHERE type IN ('index', 'trigger') AND tbl_name = ? "
        "AND sql IS NOT NULL ORDER BY type, name", (table,)).fetchall()
    columns = ", ".join(f'"{c}"' for c in
                        (r[1] for r in db.execute_sql(f'PRAGMA table_info("{table}")').fetchall()))
    db.execute_sql(_rebuilt_sql(row[0], table, new_name))
    db.execute_sql(f'INSERT INTO "{new_name}" ({columns}) SELECT {columns} FROM "{table}"')
    db.execute_sql(f'DROP TABLE "{table}"')
    # Legacy rename: only the table's own definition changes (nothing else names it).
    db.execute_sql("PRAGMA legacy_alter_table = ON")
    try:
        db.execute_sql(f'ALTER TABLE "{new_name}" RENAME TO "{table}"')
    finally:
        db.execute_sql("PRAGMA legacy_alter_table = OFF")
    for (sql,) in attached:
        db.execute_sql(sql)
    highest = db.execute_sql(f'SELECT COALESCE(MAX(id), 0) FROM "{table}"').fetchone()[0]
    if audit_max_sql and db.table_exists("audit_event"):
        highest = max(highest, db.execute_sql(audit_max_sql).fetchone()[0] or 0)
    if db.execute_sql("SELECT 1 FROM sqlite_sequence WHERE name = ?", (table,)).fetchone():
        db.execute_sql("UPDATE sqlite_sequence SET seq = MAX(seq, ?) WHERE name = ?", (highest, table))
    else:
        db.execute_sql("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", (table, highest))


def apply(db, migrator):
    _add_uniquifier(db)
    _bind_rows(db)
    if isinstance(db, SqliteDatabase):
        broken_before = set(db.execute_sql("PRAGMA foreign_key_check").fetchall())
        for table, audit_max_sql in AUTOINCREMENT_TABLES.items():
            if db.table_exists(table):
                _rebuild_with_autoincrement(db, table, audit_max_sql)
        broken = set(db.execute_sql("PRAGMA foreign_key_check").fetchall()) - broken_before
        if broken:
            raise RuntimeError(f"m0009: the rebuild would break foreign keys: {sorted(broken)[:5]}")
    db.execute_sql('CREATE UNIQUE INDEX IF NOT EXISTS "user_uniquifier" ON "user" ("uniquifier")')
