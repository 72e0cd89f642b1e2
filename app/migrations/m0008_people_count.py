"""An exact count of people kept by the database itself, so the people list's total costs
one row read instead of a count over every account (100,000 and more): a one-row table
that triggers on "user" keep up to date, whoever inserts or deletes."""
from peewee import PostgresqlDatabase


def apply(db, migrator):
    db.execute_sql("CREATE TABLE IF NOT EXISTS people_count (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)")
    db.execute_sql('INSERT INTO people_count (id, n) SELECT 1, COUNT(*) FROM "user" '
                   "WHERE NOT EXISTS (SELECT 1 FROM people_count WHERE id = 1)")
    if isinstance(db, PostgresqlDatabase):
        db.execute_sql("""
            CREATE OR REPLACE FUNCTION keystead_people_count() RETURNS trigger AS $$
            BEGIN
              IF TG_OP = 'INSERT' THEN UPDATE people_count SET n = n + 1 WHERE id = 1;
              ELSE UPDATE people_count SET n = n - 1 WHERE id = 1; END IF;
              RETURN NULL;
            END $$ LANGUAGE plpgsql""")
        db.execute_sql('DROP TRIGGER IF EXISTS people_count_change ON "user"')
        db.execute_sql('CREATE TRIGGER people_count_change AFTER INSERT OR DELETE ON "user" '
                       "FOR EACH ROW EXECUTE FUNCTION keystead_people_count()")
    else:
        db.execute_sql('CREATE TRIGGER IF NOT EXISTS people_count_insert AFTER INSERT ON "user" '
                       "BEGIN UPDATE people_count SET n = n + 1 WHERE id = 1; END")
        db.execute_sql('CREATE TRIGGER IF NOT EXISTS people_count_delete AFTER DELETE ON "user" '
                       "BEGIN UPDATE people_count SET n = n - 1 WHERE id = 1; END")
