"""Groups: the one place the browser, the API and the CLI create, rename and
delete groups and change their members. Names are unique after the same normalisation
as usernames (NFKC, case-folded), kept in Group.name_key where the database enforces it.

Every change is reported to plugins as a `group_change` event whose details say what
happened (`action`: create, rename, delete, add_member, remove_member) and to which group.
"""
from __future__ import annotations

import unicodedata

from peewee import JOIN, IntegrityError, fn

from .accounts import keyed_names, normalise
from .errors import Conflict, NotFound, ValidationFailed
from .models import Group, Membership, User, database
from .plugins import hook

NAME_MAX = 100


def group_name_problem(name) -> str | None:
    """Why `name` cannot name a group, or None."""
    if not isinstance(name, str) or not name.strip():
        return "Enter a group name."
    name = unicodedata.normalize("NFKC", name.strip())
    if len(name) > NAME_MAX or len(normalise(name)) > NAME_MAX:
        return f"Use at most {NAME_MAX} characters."
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in name):
        return "Control characters are not allowed."
    return None


def _clean_name(name) -> str:
    if p := group_name_problem(name):
        raise ValidationFailed({"name": p})
    return unicodedata.normalize("NFKC", name.strip())


def _taken(name: str) -> Conflict:
    message = f"A group named {name!r} already exists."
    return Conflict(message, {"name": message}, code="taken")


def _event(actor: User | None, group: Group, action: str, **details) -> None:
    from .authorization.membership import forget
    forget()  # memberships changed: this request's permissions are worked out again
    hook().keystead_event(event="group_change", actor=actor, target=details.pop("member", None),
                          outcome="success",
                          details={"action": action, "group": group.name, "group_id": group.id, **details})


# ---------------------------------------------------------------- look-ups

def get_group(group_id) -> Group:
    try:
        group_id = int(group_id)
    except (TypeError, ValueError):
        group_id = 0
    group = Group.get_or_none(Group.id == group_id) if 0 < group_id < 2**63 else None
    if group is None:
        raise NotFound("No such group.")
    return group


def find_group(name_or_id: str) -> Group:
    """The group named `name_or_id` (case-insensitive), else the one with that id (CLI)."""
    group = None
    if isinstance(name_or_id, str) and name_or_id.strip():
        group = Group.get_or_none(Group.name_key == normalise(name_or_id.strip()))
        if group is None and name_or_id.strip().isdigit():
            try:
                group = get_group(name_or_id.strip())
            except NotFound:
                group = None
    if group is None:
        raise NotFound(f"No group named {name_or_id!r}.")
    return group


def list_groups(q: str = "", page: int = 1, per_page: int = 50) -> tuple[list[tuple[Group, int]], int]:
    """A page of groups (by name) with their member counts, and the total: two queries."""
    counted = Group.select(fn.COUNT(Group.id))
    members = fn.COUNT(Membership.id).alias("member_count")
    rows = (Group.select(Group, members)
            .join(Membership, JOIN.LEFT_OUTER, on=(Membership.group == Group.id)))
    q = (q or "").replace("\x00", "").strip()  # NUL cannot be sent to PostgreSQL
    if q:
        # Groups are few next to people: a substring match is cheap enough here.
        where = Group.name_key.contains(normalise(q))
        counted, rows = counted.where(where), rows.where(where)
    total = counted.scalar()
    rows = (rows.group_by(Group.id)
            .order_by(Group.name_key)
            .paginate(page, per_page))
    return [(g, g.member_count) for g in rows], total


def member_count(group: Group) -> int:
    return Membership.select(fn.COUNT(Membership.id)).where(Membership.group == group.id).scalar()


def members_of(group: Group, page: int = 1, per_page: int = 50) -> tuple[list[User], int]:
    """A page of the group's members (by username), and how many there are."""
    total = member_count(group)
    rows = (User.select().join(Membership, on=(Membership.user == User.id))
            .where(Membership.group == group.id)
            .order_by(User.username_key)
            .paginate(page, per_page))
    return list(rows), total


def group_names_of(user_ids: list[int]) -> dict[int, list[str]]:
    """{user id: [group names]} for many people in one query (lists of people)."""
    out: dict[int, list[str]] = {uid: [] for uid in user_ids}
    if not user_ids:
        return out
    rows = (Membership.select(Membership.user, Group.name)
            .join(Group, on=(Membership.group == Group.id))
            .where(Membership.user.in_(user_ids))
            .order_by(Group.name_key).tuples())
    for user_id, name in rows:
        out[user_id].append(name)
    return out


def groups_of_user(user: User) -> list[Group]:
    return list(Group.select().join(Membership, on=(Membership.group == Group.id))
                .where(Membership.user == user.id).order_by(Group.name_key))


# ---------------------------------------------------------------- changes

def create_group(name, actor: User | None = None) -> Group:
    """A new group; ValidationFailed for a bad name, Conflict when the name is taken."""
    name = _clean_name(name)
    key = normalise(name)
    if Group.select().where(Group.name_key == key).exists():
        raise _taken(name)
    try:
        with database.atomic():
            group = Group.create(name=name, name_key=key)
            _event(actor, group, "create")
    except IntegrityError:  # created by another request between the check and the insert
        raise _taken(name) from None
    return group


def rename_group(group: Group, name, actor: User | None = None) -> Group:
    name = _clean_name(name)
    key = normalise(name)
    if name == group.name:
        return group
    if key != group.name_key and Group.select().where(Group.name_key == key).exists():
        raise _taken(name)
    try:
        with database.atomic():
            Group.update(name=name, name_key=key).where(Group.id == group.id).execute()
            _event(actor, group, "rename", old_name=group.name, new_name=name)
    except IntegrityError:
        raise _taken(name) from None
    return Group.get_by_id(group.id)


def delete_group(group: Group, actor: User | None = None) -> None:
    """Delete a group and its memberships (the people stay). `actor` must be able to grant
    every role the group carries (403 otherwise)."""
    _require_grant_of_group_roles(group, actor)
    with database.atomic():
        _event(actor, group, "delete")
        Membership.delete().where(Membership.group == group.id).execute()
        Group.delete().where(Group.id == group.id).execute()


def is_member(group: Group, user: User) -> bool:
    return Membership.select().where((Membership.group == group.id) & (Membership.user == user.id)).exists()


def _require_grant_of_group_roles(group: Group, actor: User | None) -> None:
    """A membership hands out the group's roles: only someone who could grant each of them
    adds or removes members (nobody grants a permission they lack)."""
    from .authorization import require_grant
    from .authorization.group_roles import roles_of_group
    if actor is not None:
        for role in roles_of_group(group):
            require_grant(actor, role)


def add_member(group: Group, user: User, actor: User | None = None) -> bool:
    """Add `user` to `group`; False when they already were a member (nothing changes).
    `actor` must be able to grant every role the group carries (403 otherwise)."""
    if is_member(group, user):
        return False
    _require_grant_of_group_roles(group, actor)
    try:
        with database.atomic():
            Membership.create(group=group.id, user=user.id)
            _event(actor, group, "add_member", member=user, username=user.username)
    except IntegrityError:  # added by another request meanwhile: the outcome is the same
        return False
    return True


def remove_member(group: Group, user: User, actor: User | None = None) -> None:
    """Take `user` out of `group`; NotFound when they are not a member. `actor` must be able
    to grant every role the group carries (403 otherwise)."""
    _require_grant_of_group_roles(group, actor)
    with database.atomic():
        removed = (Membership.delete()
                   .where((Membership.group == group.id) & (Membership.user == user.id)).execute())
        if not removed:
            raise NotFound(f"{user.username} is not a member of {group.name}.", code="not_a_member")
        _event(actor, group, "remove_member", member=user, username=user.username)


MAX_PRESET_GROUPS = 100


def presettable_groups(actor: User | None) -> list[Group]:
    """The groups `actor` may put a new person in (an invitation's, or a person an
    administrator creates): every group with `groups.manage` (or on the command line),
    else those they belong to."""
    from .authorization import has_permission
    q = Group.select().order_by(Group.name_key)
    if actor is not None and not has_permission(actor, "groups.manage"):
        q = q.join(Membership, on=(Membership.group == Group.id)).where(Membership.user == actor.id)
    return list(q)


def find_groups_named(names) -> tuple[list[Group], list[str]]:
    """The groups `names` name (compared as group names are), in the order named and each
    once, and the names no group has."""
    keys = keyed_names(names)
    by_key = {g.name_key: g for g in Group.select().where(Group.name_key.in_(list(keys)))} if keys else {}
    return [by_key[k] for k in keys if k in by_key], [n for k, n in keys.items() if k not in by_key]


def groups_to_preset(actor: User | None, names) -> list[Group]:
    """The groups `names` name (each must exist: 422 `groups` otherwise), for a new person;
    someone without groups.manage may name only groups they belong to (403)."""
    from .authorization import PermissionDenied, has_permission
    names = [n.strip() for n in (names or []) if n.strip()]
    if len(names) > MAX_PRESET_GROUPS:
        raise ValidationFailed({"groups": f"Name at most {MAX_PRESET_GROUPS} groups."})
    found, missing = find_groups_named(names)
    if missing:
        raise ValidationFailed({"groups": "No such group: " + ", ".join(repr(n[:100]) for n in missing) + "."})
    if actor is not None and not has_permission(actor, "groups.manage"):
        own = {g.id for g in presettable_groups(actor)}
        foreign = [g.name for g in found if g.id not in own]
        if foreign:
            raise PermissionDenied("groups.manage", "Putting a person in a group you do not belong to "
                                                    f"needs the permission groups.manage: {', '.join(foreign)}.")
    return found
