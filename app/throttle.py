"""Failed-login lockout, kept in the database so it holds across workers, restarts and
hosts. A name that belongs to an account (its username or its email address) counts on
the account's one counter, so guessing through the username and the address together
gets no more tries, and the right password through either is refused during a lockout;
a name that belongs to no account counts on its own, and runs into the same lockout after
the same number of failures, so a lockout reveals nothing about one name. Wrong
second-factor codes and re-entered secrets count on the account's counter too. Whatever
the settings, no counter gets more than HOURLY_CAP failed attempts in an hour."""
from __future__ import annotations

import time

from flask import current_app
from peewee import Case

from .models import LoginThrottle, database

HOURLY_CAP = 100
WINDOW = 3600


def account_throttle_key(user) -> str:
    """The counter of an account, whichever of its names was typed."""
    return f"user:{user.id}"


def submitted_name(login) -> str:
    """A submitted name normalised, so case and Unicode variants are one name."""
    from .accounts import normalise
    return normalise(login.strip())[:395] if isinstance(login, str) else ""


def name_throttle_key(login) -> str:
    """The counter of a submitted name that belongs to no account. Its prefix keeps it
    apart from every account's."""
    return "name:" + submitted_name(login)


def login_throttle_key(login) -> str:
    """The counter a login with the submitted `login` counts on: its account's when the
    name is an account's username or email address (found as the password provider finds
    it), else the name's own. One look-up either way, so an unknown name costs the same."""
    from .accounts import find_user_by_login
    user = find_user_by_login(login)
    return account_throttle_key(user) if user is not None else name_throttle_key(login)


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


def guarded(user, check) -> None:
    """Run `check()`, a password or code check that raises ValidationFailed when wrong, under
    the lockout of `user`'s account: AccountLocked (423) while locked out, and a failure counts
    toward it. Every re-entry of a secret (web sudo, password change, account deletion,
    two-factor changes) is a guess like a login and is guarded the same way. A right
    answer does not reset the count (only a login does): a right password followed by
    wrong codes must still run into the lockout."""
    from .errors import AccountLocked, ValidationFailed
    key = account_throttle_key(user)
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


def lockout_ends_at(user) -> int:
    """When the failed-login lockout of `user`'s account ends (epoch seconds), 0 when none
    is active."""
    row = LoginThrottle.get_or_none(LoginThrottle.key == account_throttle_key(user))
    return row.locked_until if row and row.locked_until > int(time.time()) else 0


def clear_lockout(user) -> None:
    """Forget the failed logins of `user`'s account: an administrator's unlock."""
    LoginThrottle.delete().where(LoginThrottle.key == account_throttle_key(user)).execute()
