"""The Bootstrap administrator (Bootstrap.* settings): created once, never duplicated."""
from __future__ import annotations

import logging
import secrets

from flask import current_app

from .accounts import create_user, normalise
from .config import ConfigError
from .errors import Conflict, ServiceError
from .models import User

log = logging.getLogger("keystead")


def _settings():
    return current_app.extensions["keystead.settings"]


def ensure_configured_admin() -> User | None:
    """With Bootstrap.AdminPassword set, create that administrator at start-up if absent.
    Several workers may try at once; the database's unique username keeps it to one."""
    s = _settings()
    password = s["Bootstrap.AdminPassword"]
    if not password:
        return None
    username = s["Bootstrap.AdminUsername"]
    existing = User.get_or_none(User.username_key == normalise(username))
    if existing:
        return existing
    try:
        return create_user(username, s["Bootstrap.AdminEmail"], password, role="administrator",
                           email_verified=True, event="user_create")
    except Conflict:
        return User.get_or_none(User.username_key == normalise(username))  # another worker won
    except ServiceError as e:
        detail = "; ".join(f"{k}: {v}" for k, v in e.fields.items()) or e.message
        raise ConfigError(f"invalid Bootstrap administrator (Bootstrap.AdminUsername / AdminEmail / "
                          f"AdminPassword): {detail}") from None


def init_admin() -> tuple[User | None, str | None, str]:
    """What `keystead init` does: create the Bootstrap administrator unless it, or any
    administrator, exists. Returns (user, generated password or None, message)."""
    s = _settings()
    username = s["Bootstrap.AdminUsername"]
    existing = User.get_or_none(User.username_key == normalise(username))
    if existing:
        return existing, None, f"The administrator {existing.username} already exists."
    if User.select().where(User.role == "administrator").exists():
        return None, None, "An administrator already exists; no Bootstrap administrator was created."
    password = s["Bootstrap.AdminPassword"]
    generated = None
    if not password:
        generated = password = secrets.token_urlsafe(15)
    user = create_user(username, s["Bootstrap.AdminEmail"], password, role="administrator",
                       email_verified=True, event="user_create")
    return user, generated, f"Created the administrator {user.username}."

