"""Indexes behind the people search (accounts.search_users): a search is a prefix match on
the username, the email address, the first name or the last name, and each of the four
must be answerable from an index so that a search over 100,000 people reads only the rows
that match.

- username_key and email_key already have unique indexes; SQLite answers a prefix as a
  range on them. PostgreSQL answers `LIKE 'x%'` from an index only with the
  text_pattern_ops operator class (its unique index follows the locale's collation), so
  it gets one more index on each (on PostgreSQL, m0021_people_search_prefixes replaces
  all four by what keeps the search fast at a million people).
- Names are searched case-insensitively through lower(): expression indexes on
  lower(first_name) and lower(last_name) (peewee's add_index takes columns only, hence
  the SQL).
"""
from peewee import PostgresqlDatabase


def apply(db, migrator):
    postgres = isinstance(db, PostgresqlDatabase)
    ops = " text_pattern_ops" if postgres else ""
    for column in ("first_name", "last_name"):
        db.execute_sql(f'CREATE INDEX IF NOT EXISTS user_{column}_lower ON "user" (lower({column}){ops})')
    if postgres:
        for column in ("username_key", "email_key"):
            db.execute_sql(f'CREATE INDEX IF NOT EXISTS user_{column}_prefix ON "user" ({column}{ops})')
