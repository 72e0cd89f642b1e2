"""A group's roles: every member holds them while a member (app/authorization)."""
from __future__ import annotations

from peewee import CharField, ForeignKeyField

from ..models import BaseModel, Group


class GroupRole(BaseModel):
    """One role a group carries (built-in or custom, by name)."""
    group = ForeignKeyField(Group, backref="roles", on_delete="CASCADE")
    role = CharField(max_length=20)

    class Meta:
        indexes = ((("group", "role"), True),)


MODELS = [GroupRole]
