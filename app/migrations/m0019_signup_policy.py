"""The sign-up policy's columns on "user": `status` (active, pending, rejected: sign-up
approval) and the terms of service a person accepted (`terms_accepted_version`,
`terms_accepted_at`). Everyone already here is active and has accepted no version yet."""
from peewee import CharField, DateTimeField


def apply(db, migrator):
    from playhouse.migrate import migrate

    from ..models import User

    # A database created at this version already has the columns (m0001 creates the tables
    # from the current models). Added as nullable columns: a NOT NULL one makes SQLite
    # rebuild "user", which would cascade-delete its children (see m0010). The code always
    # writes `status`.
    columns = {c.name for c in db.get_columns("user")}
    if "status" not in columns:
        migrate(migrator.add_column("user", "status", CharField(max_length=10, null=True)),
                migrator.add_index("user", ("status",), False))
        User.update(status="active").execute()
    if "terms_accepted_version" not in columns:
        migrate(migrator.add_column("user", "terms_accepted_version", CharField(max_length=200, null=True)))
    if "terms_accepted_at" not in columns:
        migrate(migrator.add_column("user", "terms_accepted_at", DateTimeField(null=True)))
