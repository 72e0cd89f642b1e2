"""Record whether the database was ever initialised with an account (app/initialisation.py):
the table keystead_state, a trigger on "user" that records initialisation with the first
account of any kind, and the record itself for a database that already had people (it
holds accounts, its audit log names people, or its id sequence for people has moved: a
database that lost its rows is not new)."""
from __future__ import annotations

from peewee import PostgresqlDatabase

from ..initialisation import INITIALISED, STATE_TABLE
from ..models import utcnow


def _had_people(db) -> bool:
    if db.execute_sql('SELECT 1 FROM "user" LIMIT 1').fetchone():
        return True
    if db.table_exists("audit_event") and db.execute_sql(
            "SELECT 1 FROM audit_event WHERE actor_id IS NOT NULL OR target_id IS NOT NULL LIMIT 1").fetchone():
        return True
    if isinstance(db, PostgresqlDatabase):
        (sequence,) = db.execute_sql("SELECT pg_get_serial_sequence('\"user\"', 'id')").fetchone()
        return bool(sequence) and db.execute_sql(f"SELECT is_called FROM {sequence}").fetchone()[0]
    if db.execute_sql("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'").fetchone():
        row = db.execute_sql("SELECT seq FROM sqlite_sequence WHERE name = 'user'").fetchone()
        return bool(row and row[0])
    return False


def apply(db, migrator):
    db.execute_sql(f"CREATE TABLE IF NOT EXISTS {STATE_TABLE} "
                   "(name VARCHAR(64) NOT NULL PRIMARY KEY, value TEXT NOT NULL)")
    if isinstance(db, PostgresqlDatabase):
        db.execute_sql(f"""
            CREATE OR REPLACE FUNCTION keystead_record_initialisation() RETURNS trigger AS $$
            BEGIN
              INSERT INTO {STATE_TABLE} (name, value)
                VALUES ('{INITIALISED}', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
                ON CONFLICT (name) DO NOTHING;
              RETURN NULL;
            END $$ LANGUAGE plpgsql""")
        db.execute_sql('DROP TRIGGER IF EXISTS record_initialisation ON "user"')
        db.execute_sql('CREATE TRIGGER record_initialisation AFTER INSERT ON "user" '
                       "FOR EACH ROW EXECUTE FUNCTION keystead_record_initialisation()")
    else:
        db.execute_sql(f'CREATE TRIGGER IF NOT EXISTS record_initialisation AFTER INSERT ON "user" '
                       f"BEGIN INSERT OR IGNORE INTO {STATE_TABLE} (name, value) "
                       f"VALUES ('{INITIALISED}', strftime('%Y-%m-%dT%H:%M:%SZ', 'now')); END")
    if _had_people(db):
        p = db.param
        db.execute_sql(f"INSERT INTO {STATE_TABLE} (name, value) VALUES ({p}, {p}) ON CONFLICT (name) DO NOTHING",
                       (INITIALISED, utcnow().replace(microsecond=0).isoformat() + "Z"))
