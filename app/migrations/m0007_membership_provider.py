"""Membership.provider: which provider's group claim made a membership, so that a later
login can take away the groups the provider no longer names (app.identities.sync_groups)
without touching memberships an administrator added."""
from peewee import CharField


def apply(db, migrator):
    from playhouse.migrate import migrate
    # A database created at this version already has the column (m0001 creates the
    # tables from the current models).
    if "provider" not in {c.name for c in db.get_columns("membership")}:
        migrate(migrator.add_column("membership", "provider", CharField(max_length=64, null=True)))
