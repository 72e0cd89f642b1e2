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


def permissions_of(user) -> frozenset[str]:
    """Every permission `user` holds (an empty set for nobody)."""
    if user is None or getattr(user, "locked", False):
        return frozenset()
    return BUILTIN_ROLES.get(user.role, frozenset())


def has_permission(user, permission: str, resource=None) -> bool:
    """Whether `user` holds `permission` (for `resource`, when one is given)."""
    return permission in permissions_of(user)


def require_permission(user, permission: str, resource=None) -> None:
    """Raise PermissionDenied (403 `forbidden`) unless `user` holds `permission`."""
    if not has_permission(user, permission, resource):
        raise PermissionDenied(permission)
