"""PostgreSQL: what keeps the people search fast at a million people
(app/accounts/search_postgres.py, docs/performance.md). SQLite is unchanged: its unique
indexes and m0002's name indexes compare in code-point order and answer its search,
measured at 100,000 people.

- `user_search_prefix`: one row per person and distinct beginning (1 to PREFIX_LENGTH
  characters) of their username key, email key, lower(first name) and lower(last name),
  with the username key, keyed by (prefix, username_key): the people a short word
  matches, in username order, as one range of an index. Triggers on "user" keep it
  (insert, delete, and an update that changes one of the four or the id), whoever writes;
  filled here from the people already there.
- Four covering indexes, one per searched column, in the "C" collation (a prefix is a
  range whatever the database's collation, in the code-point order SQLite sorts in), each
  holding the other columns the search reads, so longer words are answered from indexes
  alone. They replace the four text_pattern_ops indexes of m0002.

At a million people this adds about 7 million rows (about 700 MB with their index) and
400 MB of indexes, and takes a minute or two, during which changes to people wait.
"""
from peewee import PostgresqlDatabase

PREFIX_LENGTH = 3  # app/accounts/search_postgres.py PREFIX_LENGTH

INCLUDED = ("username_key", "email_key", "first_name", "last_name", "status", "id")
COVERING = {
    "user_search_username": ('username_key COLLATE "C"', "username_key"),
    "user_search_email": ('email_key COLLATE "C"', "email_key"),
    "user_search_first_name": ('(lower(first_name) COLLATE "C")', None),
    "user_search_last_name": ('(lower(last_name) COLLATE "C")', None),
}
REPLACED = ("user_username_key_prefix", "user_email_key_prefix", "user_first_name_lower", "user_last_name_lower")
TERMS = "{r}.username_key, {r}.email_key, lower({r}.first_name), lower({r}.last_name)"


def apply(db, migrator):
    if not isinstance(db, PostgresqlDatabase):
        return
    # Filling the table and building the indexes reads every person: at a million, longer
    # than the statement timeout requests have (Server.StatementTimeout). This transaction
    # only.
    db.execute_sql("SET LOCAL statement_timeout = 0")
    db.execute_sql(f"""
        CREATE OR REPLACE FUNCTION keystead_search_prefixes(VARIADIC terms text[]) RETURNS SETOF text
        LANGUAGE sql IMMUTABLE AS $$
          SELECT DISTINCT left(t, n) FROM unnest(terms) AS t, generate_series(1, {PREFIX_LENGTH}) AS n
          WHERE t <> '' AND n <= length(t) $$""")
    db.execute_sql('CREATE TABLE IF NOT EXISTS user_search_prefix (prefix text COLLATE "C" NOT NULL, '
                   'username_key text COLLATE "C" NOT NULL, user_id integer NOT NULL)')
    # A search reads a few hundred entries in order and stops: starting parallel workers
    # for it costs more than the read (the planner would, from the range's size).
    db.execute_sql("ALTER TABLE user_search_prefix SET (parallel_workers = 0)")
    db.execute_sql(f"""
        CREATE OR REPLACE FUNCTION keystead_user_search_prefix() RETURNS trigger AS $$
        BEGIN
          IF TG_OP <> 'INSERT' THEN
            DELETE FROM user_search_prefix WHERE username_key = OLD.username_key COLLATE "C"
              AND prefix IN (SELECT keystead_search_prefixes({TERMS.format(r="OLD")}));
          END IF;
          IF TG_OP <> 'DELETE' THEN
            INSERT INTO user_search_prefix (prefix, username_key, user_id)
              SELECT p, NEW.username_key, NEW.id FROM keystead_search_prefixes({TERMS.format(r="NEW")}) AS p;
          END IF;
          RETURN NULL;
        END $$ LANGUAGE plpgsql""")
    for name in ("user_search_prefix_insert", "user_search_prefix_delete", "user_search_prefix_update"):
        db.execute_sql(f'DROP TRIGGER IF EXISTS {name} ON "user"')
    db.execute_sql('CREATE TRIGGER user_search_prefix_insert AFTER INSERT ON "user" '
                   "FOR EACH ROW EXECUTE FUNCTION keystead_user_search_prefix()")
    db.execute_sql('CREATE TRIGGER user_search_prefix_delete AFTER DELETE ON "user" '
                   "FOR EACH ROW EXECUTE FUNCTION keystead_user_search_prefix()")
    changed = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}"
                          for c in ("id", "username_key", "email_key", "first_name", "last_name"))
    db.execute_sql('CREATE TRIGGER user_search_prefix_update AFTER UPDATE ON "user" '
                   f"FOR EACH ROW WHEN ({changed}) EXECUTE FUNCTION keystead_user_search_prefix()")
    fill_search_prefixes(db)
    for name, (key, column) in COVERING.items():
        included = ", ".join(c for c in INCLUDED if c != column)
        db.execute_sql(f'CREATE INDEX IF NOT EXISTS {name} ON "user" ({key}) INCLUDE ({included})')
    for name in REPLACED:
        db.execute_sql(f"DROP INDEX IF EXISTS {name}")


def fill_search_prefixes(db) -> None:
    """(Re)build user_search_prefix from "user": here, and after a bulk load that ran with
    the triggers off (bench/people_search_pg.py). Inside a transaction: at a million
    people this takes longer than Server.StatementTimeout, lifted for that transaction."""
    db.execute_sql("SET LOCAL statement_timeout = 0")
    db.execute_sql("ALTER TABLE user_search_prefix DROP CONSTRAINT IF EXISTS user_search_prefix_pkey")
    db.execute_sql("TRUNCATE user_search_prefix")
    db.execute_sql("INSERT INTO user_search_prefix (prefix, username_key, user_id) "
                   f'SELECT p, u.username_key, u.id FROM "user" u, keystead_search_prefixes({TERMS.format(r="u")}) AS p')
    db.execute_sql("ALTER TABLE user_search_prefix ADD CONSTRAINT user_search_prefix_pkey "
                   "PRIMARY KEY (prefix, username_key) INCLUDE (user_id)")
    db.execute_sql("ANALYZE user_search_prefix")
