"""Per-account lockout (SPEC 3/4), kept in the database so it holds across workers,
restarts and hosts. Counted per submitted name, whether or not such an account exists,
so a lockout reveals nothing. Whatever the settings, no name gets more than
HOURLY_CAP failed attempts in an hour."""
from __future__ import annotations

import time

from flask import current_app
from peewee import Case

from .models import LoginThrottle, database

HOURLY_CAP = 100
WINDOW = 3600


def throttle_key(login) -> str:
    from .accounts import normalise
    return normalise(login.strip())[:400] if isinstance(login, str) else ""


def seconds_locked(key: str) -> int:
    """Seconds left of a lockout of `key` (0 when not locked out)."""
    row = LoginThrottle.get_or_none(LoginThrottle.key == key)
    now = int(time.time())
    return max(0, row.locked_until - now) if row else 0


def record_failure(key: str) -> bool:
    """Count a failed login of `key`; True when it has just been locked out."""
    settings = current_app.extensions["keystead.settings"]
    threshold = settings["Password.LockoutThreshold"]
    now = int(time.time())
    stale = LoginThrottle.window_start < now - WINDOW
    with database.atomic():
        LoginThrottle.insert(key=key, window_start=now).on_conflict_ignore().execute()
        LoginThrottle.update(
            failures=LoginThrottle.failures + 1,
            window_failures=Case(None, [(stale, 1)], LoginThrottle.window_failures + 1),
            window_start=Case(None, [(stale, now)], LoginThrottle.window_start),
        ).where(LoginThrottle.key == key).execute()
        row = LoginThrottle.get(LoginThrottle.key == key)
        until = 0
        if threshold and row.failures >= threshold:
            until = now + settings["Password.LockoutDuration"]
        if row.window_failures >= HOURLY_CAP:
            until = max(until, row.window_start + WINDOW)
        if until:
            LoginThrottle.update(locked_until=until, failures=0).where(LoginThrottle.key == key).execute()
            return True
    return False


def guarded(login: str, check) -> None:
    """Run `check()`, a password or code check that raises ValidationFailed when wrong, under
    the lockout of `login`: AccountLocked (423) while locked out, and a failure counts
    toward it. Every re-entry of a secret (web sudo, password change, account deletion,
    two-factor changes) is a guess like a login and is guarded the same way. A right
    answer does not reset the count (only a login does): a right password followed by
    wrong codes must still run into the lockout."""
    from .errors import AccountLocked, ValidationFailed
    key = throttle_key(login)
    remaining = seconds_locked(key)
    if remaining:
        raise AccountLocked("Too many failed attempts. Try again later.", retry_after=remaining)
    try:
        check()
    except ValidationFailed:
        record_failure(key)
        raise


def record_success(key: str) -> None:
    LoginThrottle.update(failures=0).where((LoginThrottle.key == key) & (LoginThrottle.failures > 0)).execute()
