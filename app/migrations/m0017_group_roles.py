"""Roles carried by groups (Authorization: every member holds them while a member)."""
from ..authorization.models import GroupRole


def apply(db, migrator):
    db.create_tables([GroupRole], safe=True)
