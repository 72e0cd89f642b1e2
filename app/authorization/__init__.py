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
    "apps.manage",         # register and manage apps
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


def _custom_roles() -> dict:
    from flask import current_app
    return current_app.extensions["keystead.settings"]["Authorization.Roles"]


def known_roles() -> list[str]:
    """The names of every role a person may hold: built-in first, then custom ones."""
    return list(BUILTIN_ROLES) + [name for name in _custom_roles() if name not in BUILTIN_ROLES]


def role_permissions(role: str) -> frozenset[str]:
    """What one role carries (an unknown role carries nothing)."""
    if role in BUILTIN_ROLES:
        return BUILTIN_ROLES[role]
    return frozenset(_custom_roles().get(role, {}).get("permissions", ()))


def permissions_of(user) -> frozenset[str]:
    """Every permission `user` holds (an empty set for nobody)."""
    if user is None or getattr(user, "locked", False):
        return frozenset()
    return role_permissions(user.role)


def can_grant(actor, role: str) -> bool:
    """Whether `actor` may hand `role` to someone (a person, a group or an invitation):
    nobody grants a permission they lack."""
    return role in known_roles() and role_permissions(role) <= permissions_of(actor)


def has_permission(user, permission: str, resource=None) -> bool:
    """Whether `user` holds `permission` (for `resource`, when one is given)."""
    return permission in permissions_of(user)


def require_permission(user, permission: str, resource=None) -> None:
    """Raise PermissionDenied (403 `forbidden`) unless `user` holds `permission`."""
    if not has_permission(user, permission, resource):
        raise PermissionDenied(permission)
