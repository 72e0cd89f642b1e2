"""Trust in email addresses: each one-time link remembers the address it was sent to
(OneTimeLink.email_fingerprint), each person whether any address of theirs was ever
verified (User.email_ever_verified), and the notices module the client addresses a person
logged in from, as keyed digests (KnownClient)."""
from peewee import BooleanField, CharField


def apply(db, migrator):
    from playhouse.migrate import migrate

    from ..links import address_fingerprint
    from ..models import OneTimeLink, User
    from ..notices import KnownClient

    # A database created at this version already has the columns (m0001 creates the
    # tables from the current models). Added here as nullable columns: a NOT NULL one
    # makes SQLite rebuild the table, and rebuilding "user" (dropping the old one, with
    # foreign keys on, inside this transaction) would cascade-delete every person's links,
    # tokens and memberships. The code always writes both columns.
    if "email_fingerprint" not in {c.name for c in db.get_columns("one_time_link")}:
        migrate(migrator.add_column("one_time_link", "email_fingerprint", CharField(max_length=64, null=True)))
        # Links still unused were sent to the address their person has now: keep them working.
        pending = (OneTimeLink.select(OneTimeLink.id, User.email_key).join(User)
                   .where(OneTimeLink.used_at.is_null()).tuples())
        for link_id, email_key in pending:
            OneTimeLink.update(email_fingerprint=address_fingerprint(email_key)).where(
                OneTimeLink.id == link_id).execute()
    if "email_ever_verified" not in {c.name for c in db.get_columns("user")}:
        migrate(migrator.add_column("user", "email_ever_verified", BooleanField(null=True)))
        # Someone verified, or who has logged in before, is past the first verification.
        past = (User.email_verified == True) | User.last_login_at.is_null(False)  # noqa: E712
        User.update(email_ever_verified=True).where(past).execute()
        User.update(email_ever_verified=False).where(~past).execute()
    db.create_tables([KnownClient], safe=True)
