"""The audit trail. Actor and target are kept by id and name without foreign keys, so the
trail outlives the people it names; each name also in the form names are compared in
(accounts.normalise: NFKC, case-folded), so the person filters match any script's case
(SQLite's LOWER folds ASCII only)."""
from peewee import CharField, DateTimeField, IntegerField, TextField

from ..models import BaseModel, utcnow


class AuditEvent(BaseModel):
    created_at = DateTimeField(default=utcnow, index=True)
    event = CharField(max_length=32, index=True)
    outcome = CharField(max_length=10)  # success | failure
    actor_id = IntegerField(null=True, index=True)
    actor_name = CharField(max_length=64, null=True)
    actor_key = CharField(max_length=256, null=True, index=True)
    target_id = IntegerField(null=True, index=True)
    target_name = CharField(max_length=64, null=True)
    target_key = CharField(max_length=256, null=True, index=True)
    client = CharField(max_length=64, null=True)
    details = TextField(default="{}")  # JSON of non-secret facts
