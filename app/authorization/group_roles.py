"""Roles a group carries: every member holds them while a member. Set through the API
(PATCH /api/v1/groups/{id} with `roles`), the group's admin page and `keystead groups
roles`; all of them call set_group_roles."""
from __future__ import annotations

from ..errors import ValidationFailed
from ..models import Group, User, database
from . import known_roles, require_grant, roles_problem
from .membership import forget
from .models import GroupRole


def roles_of_group(group: Group) -> list[str]:
    """The group's roles, in the order of known_roles() (unknown ones last)."""
    return _ordered(r for (r,) in GroupRole.select(GroupRole.role).where(GroupRole.group == group.id).tuples())


def roles_of_groups(group_ids: list[int]) -> dict[int, list[str]]:
    """{group id: [roles]} for many groups in one query (lists of groups)."""
    found: dict[int, list[str]] = {gid: [] for gid in group_ids}
    if group_ids:
        for gid, role in (GroupRole.select(GroupRole.group, GroupRole.role)
                          .where(GroupRole.group.in_(group_ids)).tuples()):
            found[gid].append(role)
    return {gid: _ordered(roles) for gid, roles in found.items()}


def _ordered(roles) -> list[str]:
    order = {name: i for i, name in enumerate(known_roles())}
    return sorted(set(roles), key=lambda r: (order.get(r, len(order)), r))


def clean_roles(value) -> list[str]:
    """A list of role names from input (API, form, CLI); ValidationFailed on `roles`."""
    if not isinstance(value, list) or not all(isinstance(r, str) for r in value):
        raise ValidationFailed({"roles": "Must be a list of role names."})
    roles = list(dict.fromkeys(r.strip() for r in value))
    if any("\x00" in r for r in roles):
        raise ValidationFailed({"roles": "Must not contain NUL characters."})
    if problem := roles_problem(roles):
        raise ValidationFailed({"roles": problem})
    return roles


def set_group_roles(group: Group, roles, actor: User | None = None) -> list[str]:
    """Make `roles` the group's roles (replacing the old ones). Each role added or taken
    away must be one `actor` could grant (403 naming the permission they lack): nobody
    hands out, or takes from others, more than they hold. `actor` None: the command line."""
    from ..plugins import hook
    wanted = clean_roles(roles)
    before = roles_of_group(group)
    for role in set(wanted) ^ set(before):
        if role in known_roles():
            require_grant(actor, role)
    if set(wanted) == set(before):
        return before
    with database.atomic():
        GroupRole.delete().where(GroupRole.group == group.id).execute()
        for role in wanted:
            GroupRole.create(group=group.id, role=role)
        hook().keystead_event(event="group_change", actor=actor, target=None, outcome="success",
                              details={"action": "set_roles", "group": group.name, "group_id": group.id,
                                       "from": before, "to": _ordered(wanted)})
    forget()
    return _ordered(wanted)
