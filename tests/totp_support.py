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


def assert_code_asked_after_outside_login(app, sign_in, signed_in_as, username: str) -> None:
    """`username` signs in through an outside provider (`sign_in(client, next_path)`, the
    provider's whole round trip) after turning two-factor authentication on here: no
    session and no recorded login until the code, then the session and back to `next`."""
    from conftest import csrf_from
    from keystead.audit.models import AuditEvent
    sign_in(app.test_client())  # the first login creates them
    secret, _ = enable_for(app, username)

    def logins() -> int:
        with app.app_context():
            return AuditEvent.select().where(AuditEvent.event == "login").count()
    before = logins()
    client = app.test_client()
    r = sign_in(client, "/documents")
    assert r.status_code == 303 and r.headers["Location"].endswith("/login/two-factor")
    assert signed_in_as(client) is None and logins() == before
    page = client.get("/login/two-factor").get_data(as_text=True)
    r = client.post("/login/two-factor", data={"csrf_token": csrf_from(page), "code": code_for(secret, 1)})
    assert r.status_code == 303 and r.headers["Location"] == "/documents"
    assert signed_in_as(client) == username and logins() == before + 1
