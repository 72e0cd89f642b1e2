"""The audit log's actor and target names in the form names are compared in (NFKC,
case-folded: AuditEvent.actor_key, target_key), so the person filters match names in any
script whatever their case; existing events get theirs from the names they kept."""
from peewee import CharField


def apply(db, migrator):
    from playhouse.migrate import migrate

    from ..audit.models import AuditEvent
    from ..audit.plugin import name_key

    # A database created at this version already has the columns (m0001/m0004 create the
    # tables from the current models).
    columns = {c.name for c in db.get_columns("audit_event")}
    for role in ("actor", "target"):
        key_column = f"{role}_key"
        if key_column in columns:
            continue
        migrate(migrator.add_column("audit_event", key_column, CharField(max_length=256, null=True)),
                migrator.add_index("audit_event", (key_column,), False))
        name_field = getattr(AuditEvent, f"{role}_name")
        names = AuditEvent.select(name_field).where(name_field.is_null(False)).distinct().tuples()
        for (name,) in list(names):
            (AuditEvent.update({getattr(AuditEvent, key_column): name_key(name)})
             .where(name_field == name).execute())
