"""The audit log table."""
from ..audit.models import AuditEvent


def apply(db, migrator):
    db.create_tables([AuditEvent], safe=True)
