"""Only members of the owner's team may read a document, or share it on (a Keystead
authorization plugin).

"Team" means any group the owner belongs to: a reader must share at least one with the
owner. Someone other than the owner who may change the document (people.manage) shares it
with another group only from inside the team, or when they manage groups. The plugin only
refuses (False) or leaves the decision to the roles (None); it never grants, so it can
only narrow what the built-in rules allow.
"""
from __future__ import annotations

import os

from keystead import hookimpl

BYPASS = "documents.read_any_team"


def _ignored_groups() -> set[str]:
    raw = os.environ.get("KEYSTEAD_PLUGIN_TEAMDOCS_IGNORE", "")
    return {name.strip().casefold() for name in raw.split(",") if name.strip()}


def _team_group_ids(user_id: int) -> set[int]:
    from keystead.models import Group, Membership
    ignored = _ignored_groups()
    rows = (Membership.select(Membership.group, Group.name)
            .join(Group, on=(Membership.group == Group.id))
            .where(Membership.user == user_id).tuples())
    return {group_id for group_id, name in rows if name.casefold() not in ignored}


@hookimpl
def keystead_permissions(user):
    # Called with None at start-up: the permission this plugin defines.
    return [BYPASS] if user is None else None


@hookimpl
def keystead_authorize(user, permission, resource):
    owner_id = getattr(resource, "owner_id", None)
    if permission not in ("documents.read", "documents.share") or owner_id in (None, user.id):
        return None  # not a document read or share, or the owner's own: the roles decide
    from keystead.authorization import permissions_of
    # Reading every team's documents is not handing them on: each rule has its own bypass.
    if (BYPASS if permission == "documents.read" else "groups.manage") in permissions_of(user):
        return None
    if _team_group_ids(user.id) & _team_group_ids(owner_id):
        return None  # a team mate: the roles (and the document's shares) decide
    return False  # a read answers 404 (the document is not revealed), a share 403
