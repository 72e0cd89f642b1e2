"""Checked once at start-up, after the plugins are loaded: the permission names plugins
define, and custom roles that name only known permissions."""
from __future__ import annotations

from ..config import ConfigError
from . import BUILTIN_ROLES, PERMISSIONS

_NAME_MAX = 100


def load_permissions(app, pm, settings) -> None:
    """Record every valid permission (the core's and those plugins define, from
    keystead_permissions(user=None)) and refuse start-up, with one line, for a custom role
    that shadows a built-in one or names an unknown permission."""
    names = list(PERMISSIONS)
    with app.app_context():
        results = pm.hook.keystead_permissions(user=None)
    for result in results:
        for name in ([result] if isinstance(result, str) else (result or ())):
            if not isinstance(name, str) or not name or len(name) > _NAME_MAX:
                raise ConfigError(f"a plugin defines the permission {name!r}: a permission is a "
                                  f"non-empty string of at most {_NAME_MAX} characters")
            if name not in names:
                names.append(name)
    for role, table in settings["Authorization.Roles"].items():
        if role in BUILTIN_ROLES:
            raise ConfigError(f"invalid setting Authorization.Roles: the custom role '{role}' has the "
                              f"name of a built-in role ({', '.join(BUILTIN_ROLES)}); choose another name")
        for permission in table.get("permissions", ()):
            if permission not in names:
                raise ConfigError(f"invalid setting Authorization.Roles: the role '{role}' names the "
                                  f"unknown permission '{permission}'; allowed are {', '.join(names)}")
    app.extensions["keystead.permissions"] = tuple(names)
    app.extensions["keystead.all_permissions"] = frozenset(names)
