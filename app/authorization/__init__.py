"""Who may do what: permissions are named strings, roles are sets of them, and one function,
`has_permission`, answers for the web pages, the API and the CLI alike.

Built-in roles follow Posit Connect: a viewer reads what is shared with them and manages
their own account; a publisher also uploads and shares documents (with groups they belong
to) and manages the apps they own; an administrator holds every permission.
"""
from __future__ import annotations

from ..errors import Forbidden

#: Every permission the core checks. Plugins may add their own (keystead_permissions).
PERMISSIONS = (
    "documents.read",      # what is shared with you (and your own)
    "documents.create",    # upload
    "documents.share",     # share your documents with groups you belong to
    "documents.read_all",  # ?all=true and search over every document
    "people.read",         # list and read people
    "people.manage",       # create, change, lock, delete people
    "people.invite",       # invite people by email
    "people.approve",      # approve or reject pending sign-ups
    "groups.manage",       # create, rename, delete groups and change members
    "audit.read",          # the audit log
    "settings.read",       # the effective settings
    "keys.manage_all",     # list and revoke anyone's API keys
    "apps.manage",         # register apps and manage those you created
    "apps.manage_all",     # manage every app
)

_VIEWER = frozenset({"documents.read"})
_PUBLISHER = _VIEWER | {"documents.create", "documents.share", "apps.manage"}

#: The built-in roles and what they carry.
BUILTIN_ROLES: dict[str, frozenset[str]] = {
    "viewer": _VIEWER,
    "publisher": frozenset(_PUBLISHER),
    "administrator": frozenset(PERMISSIONS),
}


class PermissionDenied(Forbidden):
    """403 `forbidden` naming the permission that was missing."""

    def __init__(self, permission: str, message: str | None = None):
        super().__init__(message or f"This needs the permission {permission}.")
        self.permission = permission


ADMINISTRATOR = "administrator"
_PERMISSIONS_CACHE = "keystead_permissions"


def _custom_roles() -> dict:
    from flask import current_app
    return current_app.extensions["keystead.settings"]["Authorization.Roles"]


def known_permissions() -> tuple[str, ...]:
    """Every valid permission name: the core's, then those plugins define
    (keystead_permissions with user=None, asked once at start-up)."""
    from flask import current_app
    return current_app.extensions["keystead.permissions"]  # app/authorization/startup.py


def known_roles() -> list[str]:
    """The names of every role a person may hold: built-in first, then custom ones."""
    return list(BUILTIN_ROLES) + [name for name in _custom_roles() if name not in BUILTIN_ROLES]


def role_title(role: str) -> str:
    """How pages name a role: a custom role's `title`, else the name capitalised."""
    custom = _custom_roles().get(role)  # never a built-in name (refused at start-up)
    return custom["title"] if custom and custom["title"] != role else role.capitalize()


def role_permissions(role: str) -> frozenset[str]:
    """What one role carries (an unknown role carries nothing; an administrator every
    permission, those plugins define included)."""
    if role == ADMINISTRATOR:
        from flask import current_app
        return current_app.extensions["keystead.all_permissions"]
    if role in BUILTIN_ROLES:
        return BUILTIN_ROLES[role]
    custom = _custom_roles().get(role)  # app/config.py gives each its `permissions` and `title`
    return frozenset(custom["permissions"]) if custom else frozenset()


def roles_problem(roles) -> str | None:
    """Why `roles` (names) cannot be assigned, or None."""
    known = known_roles()
    unknown = [r for r in roles if r not in known]
    if unknown:
        return f"Unknown role {unknown[0]!r}: choose from {', '.join(known)}."
    return None


def permissions_of(user) -> frozenset[str]:
    """Every permission `user` holds (an empty set for nobody, or a locked person): those
    of their role, of the roles of their groups, and those plugins add
    (keystead_permissions). Worked out once per request and person."""
    if user is None or getattr(user, "locked", False):
        return frozenset()
    from flask import has_request_context, request
    cache = None
    if has_request_context():
        cache = getattr(request, _PERMISSIONS_CACHE, None)
        if cache is None:
            cache = {}
            setattr(request, _PERMISSIONS_CACHE, cache)
        key = (user.id, user.role)
        if key in cache:
            return cache[key]
    held = set(role_permissions(user.role))
    if user.id is not None:
        from .membership import group_names_and_roles
        for role in group_names_and_roles(user.id)[1]:
            held |= role_permissions(role)
    from ..plugins import hook
    for added in hook().keystead_permissions(user=user):
        if isinstance(added, str):
            held.add(added)
        elif added:
            held.update(p for p in added if isinstance(p, str))
    found = frozenset(held)
    if cache is not None:
        cache[(user.id, user.role)] = found
    return found


def can_grant(actor, role: str) -> bool:
    """Whether `actor` may hand `role` to someone (a person, a group or an invitation):
    nobody grants a permission they lack. `actor` None is the command line, which may."""
    if role not in known_roles():
        return False
    return actor is None or role_permissions(role) <= permissions_of(actor)


def require_grant(actor, role: str) -> None:
    """PermissionDenied naming the first permission of `role` that `actor` lacks (a role no
    longer configured carries nothing: anyone may take it away)."""
    if actor is None or role not in known_roles() or can_grant(actor, role):
        return
    missing = sorted(role_permissions(role) - permissions_of(actor))  # never empty here
    raise PermissionDenied(missing[0],
                           f"You cannot grant the role {role}: it carries {', '.join(missing[:3])}, "
                           "which you do not hold.")


def require_outranks(actor, target) -> None:
    """PermissionDenied unless `actor` holds every (known) permission `target` holds: a
    person who manages people may not change someone who can do more than they can (send
    them a reset link, lock them, change their role). `actor` None is the command line."""
    if actor is None or actor.id == target.id:
        return
    missing = (permissions_of(target) - permissions_of(actor)) & set(known_permissions())
    if missing:
        raise PermissionDenied(sorted(missing)[0],
                               f"You cannot change {target.username}: they hold permissions you do "
                               f"not ({', '.join(sorted(missing)[:3])}).")


def authorize(user, permission: str, resource) -> bool | None:
    """What plugins say about `user` using `permission` on `resource`
    (keystead_authorize): False when any refuses, else True when any allows, else None."""
    from ..plugins import hook
    verdicts = hook().keystead_authorize(user=user, permission=permission, resource=resource)
    if any(v is False for v in verdicts):
        return False
    if any(v is True for v in verdicts):
        return True
    return None


def has_permission(user, permission: str, resource=None) -> bool:
    """Whether `user` holds `permission` (for `resource`, when one is given: plugins may
    refuse or allow it there, app/hookspecs.py keystead_authorize)."""
    if user is None or getattr(user, "locked", False):
        return False
    if resource is not None:
        verdict = authorize(user, permission, resource)
        if verdict is not None:
            return verdict
    # The role alone answers most checks, without asking for the person's groups.
    if permission in role_permissions(user.role):
        return True
    return permission in permissions_of(user)


def require_permission(user, permission: str, resource=None) -> None:
    """Raise PermissionDenied (403 `forbidden`) unless `user` holds `permission`."""
    if not has_permission(user, permission, resource):
        raise PermissionDenied(permission)
