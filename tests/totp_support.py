"""Helpers for the two-factor tests (tests/test_web_two_factor.py, test_api_totp.py,
test_browser_two_factor.py): codes for fresh 30-second steps, a code that is surely wrong,
and turning two-factor authentication on through the service."""
from __future__ import annotations

import re
import time

import pyotp


def code_for(secret: str, steps_ahead: int = 0) -> str:
    """The code of the current step (0) or the next (1). Each is accepted once, and only
    after an earlier accepted step: use 0 for the set-up, then 1."""
    totp = pyotp.TOTP(secret)
    return totp.at(time.time() + steps_ahead * totp.interval)


def wrong_code(secret: str) -> str:
    """Six digits that no step around now accepts."""
    totp = pyotp.TOTP(secret)
    now = time.time()
    valid = {totp.at(now + k * totp.interval) for k in range(-3, 4)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in valid)


def enable_for(app, username: str) -> tuple[str, list[str]]:
    """Turn two-factor authentication on for `username` with the current step's code;
    returns (secret, recovery codes). The next code to use is code_for(secret, 1)."""
    from keystead import totp
    from keystead.models import User
    with app.test_request_context():
        with app.extensions["keystead.db"].connection_context():
            user = User.get(User.username_key == username.lower())
            secret, _ = totp.begin_setup(user)
            codes = totp.confirm_setup(user, code_for(secret))
    return secret, codes


def is_enabled(app, username: str) -> bool:
    from keystead import totp
    from keystead.models import User
    with app.app_context():
        with app.extensions["keystead.db"].connection_context():
            return totp.totp_enabled(User.get(User.username_key == username.lower()))


def secret_on(page: str) -> str:
    """The secret shown as text on the set-up page."""
    m = re.search(r'id="totp-secret">\s*([A-Z2-7]+)\s*<', page)
    assert m, "no secret on the page"
    return m.group(1)


def recovery_codes_on(page: str) -> list[str]:
    m = re.search(r'<ul class="recovery-codes[^"]*" id="recovery-codes">(.*?)</ul>', page, re.S)
    assert m, "no recovery codes on the page"
    return re.findall(r"<li>([a-z2-7]{4}(?:-[a-z2-7]{4}){5})</li>", m.group(1))
