"""The Bootstrap administrator (Bootstrap.* settings): created once, never duplicated."""
from __future__ import annotations

import logging
import secrets

from flask import current_app

from .accounts import create_user, normalise
from .config import ConfigError
from .errors import Conflict, ServiceError
from .initialisation import claim_initialisation, is_initialised
from .models import User, database

log = logging.getLogger("keystead")


def _settings():
    return current_app.extensions["keystead.settings"]


def ensure_configured_admin() -> User | None:
    """With Bootstrap.AdminPassword set, create that administrator at start-up on a database
    never initialised with an account, and say in the log whether it was created or already
    exists. A database that had accounts does not get it back once deleted (its configured
    password may be what someone removed it for): the log says so, and `keystead init`
    creates it again on purpose. Several workers may start at once: initialisation is
    claimed in the creating transaction, so exactly one creates it."""
    s = _settings()
    password = s["Bootstrap.AdminPassword"]
    if not password:
        return None
    username = s["Bootstrap.AdminUsername"]
    existing = User.get_or_none(User.username_key == normalise(username))
    if existing is None and not is_initialised():
        try:
            with database.atomic():
                if claim_initialisation():
                    user = create_user(username, s["Bootstrap.AdminEmail"], password, role="administrator",
                                       email_verified=True, event="user_create")
                    log.info("created the Bootstrap administrator %s", user.username)
                    return user
        except Conflict:
            pass  # another worker created it meanwhile
        except ServiceError as e:
            detail = "; ".join(f"{k}: {v}" for k, v in e.fields.items()) or e.message
            raise ConfigError(f"invalid Bootstrap administrator (Bootstrap.AdminUsername / AdminEmail / "
                              f"AdminPassword): {detail}") from None
        existing = User.get_or_none(User.username_key == normalise(username))
    if existing is not None:
        log.info("the Bootstrap administrator %s already exists", existing.username)
        return existing
    log.warning("the Bootstrap administrator %s does not exist, and this database had accounts "
                "before (it was deleted or renamed): it is not recreated at start-up. Run "
                "`keystead init` to create it again.", username)
    return None


def init_admin() -> tuple[User | None, str | None, str]:
    """What `keystead init` does: create the Bootstrap administrator unless it, or any
    administrator, exists; the operator's way to get an administrator back on a database
    that lost them. Returns (user, generated password or None, message)."""
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
    again = is_initialised()
    user = create_user(username, s["Bootstrap.AdminEmail"], password, role="administrator",
                       email_verified=True, event="user_create")
    if again:
        log.warning("keystead init: this database had accounts and no administrator; created the "
                    "administrator %s", user.username)
        return user, generated, (f"This database had accounts before and has no administrator: "
                                 f"created the administrator {user.username}.")
    return user, generated, f"Created the administrator {user.username}."

