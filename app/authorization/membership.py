"""A person's groups and the roles those groups carry, read in one query and kept for the
rest of the request: GET /users/me shows the group names and the permissions, and the
permission checks of one request all need the same answer."""
from __future__ import annotations

from flask import has_request_context, request
from peewee import JOIN

from ..db import CompiledQuery
from ..models import Group, Membership
from .models import GroupRole

_CACHE = "keystead_memberships"


def _cache() -> dict | None:
    """This request's cache (None outside a request: the CLI asks the database each time).
    Kept on the request, not on flask.g, which an app context may share between requests."""
    if not has_request_context():
        return None
    found = getattr(request, _CACHE, None)
    if found is None:
        found = {}
        setattr(request, _CACHE, found)
    return found


def group_names_and_roles(user_id: int) -> tuple[tuple[str, ...], frozenset[str]]:
    """(names of the person's groups in name order, the roles those groups carry)."""
    cache = _cache()
    if cache is not None and user_id in cache:
        return cache[user_id]
    names: dict[str, None] = {}
    roles = set()
    for name, role in _GROUPS_AND_ROLES.run(user_id):
        names[name] = None
        if role is not None:
            roles.add(role)
    found = (tuple(names), frozenset(roles))
    if cache is not None:
        cache[user_id] = found
    return found


def forget() -> None:
    """Drop what this request knows of memberships and permissions (after changing them)."""
    if has_request_context():
        for name in (_CACHE, "keystead_permissions"):
            if hasattr(request, name):
                delattr(request, name)


_GROUPS_AND_ROLES = CompiledQuery(
    "group_names_and_roles",
    lambda user_id: (Group.select(Group.name, GroupRole.role)
                     .join(Membership, on=(Membership.group == Group.id))
                     .join_from(Group, GroupRole, JOIN.LEFT_OUTER, on=(GroupRole.group == Group.id))
                     .where(Membership.user == user_id)
                     .order_by(Group.name_key, GroupRole.role)),
    markers=(-747474,))
