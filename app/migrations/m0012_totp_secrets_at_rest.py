"""TOTP secrets encrypted at rest, recovery codes salted (app/totp.py).

The schema part only: `recovery_code.salt` (None marks the 40-bit, unsalted codes of older
releases, still accepted until used or replaced) and room in `totp_setup.secret` for an
encrypted value. Encrypting the secrets themselves needs the app's key, which migrations
are not given (they run from the database alone), so the app factory does it right after
the migrations (`app.totp.seal_clear_secrets`), and a clear secret met later is encrypted
at its first use.
"""
from peewee import CharField, PostgresqlDatabase


def apply(db, migrator):
    from playhouse.migrate import migrate
    # A database created at this version already has the column (m0001 creates the
    # tables from the current models).
    if "salt" not in {c.name for c in db.get_columns("recovery_code")}:
        migrate(migrator.add_column("recovery_code", "salt", CharField(max_length=32, null=True)))
    # SQLite does not enforce a VARCHAR's length; PostgreSQL does, and the encrypted
    # secret is longer than the 64 characters the column had.
    if isinstance(db, PostgresqlDatabase):
        db.execute_sql('ALTER TABLE "totp_setup" ALTER COLUMN "secret" TYPE VARCHAR(255)')
