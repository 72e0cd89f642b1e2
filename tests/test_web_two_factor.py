"""Two-factor authentication in the browser (SPEC 9): the login's second step at
/login/two-factor, setting it up at /profile/two-factor (QR code, the secret as text, one
code, recovery codes shown once) and turning it off (web sudo and a code)."""
from __future__ import annotations

import json
import time

from conftest import STRONG_PASSWORD, UserFactory, csrf_from
from pages import error_beside, flashes, form_errors, login_path, redirect_to, submit
from totp_support import code_for, enable_for, is_enabled, recovery_codes_on, secret_on, wrong_code

from keystead import totp
from keystead.models import User
from keystead.web.auth import PENDING_KEY, PENDING_SECONDS

SECOND_STEP = "/login/two-factor"


def password_step(client, username, password=STRONG_PASSWORD, next_path=None):
    return submit(client, login_path(next_path), {"username": username, "password": password})


def code_step(client, code):
    return submit(client, SECOND_STEP, {"code": code})


def logged_in(client) -> bool:
    return client.get("/profile").status_code == 200


def in_db(app, fn):
    with app.app_context():
        with app.extensions["keystead.db"].connection_context():
            return fn()


def user_row(app, username) -> User:
    return in_db(app, lambda: User.get(User.username_key == username))


# ---------------------------------------------------------------- the login's second step

def test_the_right_password_leads_to_a_second_step_and_the_code_logs_in(app, client, users):
    users.create("ada")
    secret, _ = enable_for(app, "ada")
    r = password_step(client, "ada")
    assert r.status_code == 303 and r.headers["Location"] == SECOND_STEP
    page = client.get(SECOND_STEP)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'name="code"' in html and 'autocomplete="one-time-code"' in html
    assert not logged_in(client)

    r = code_step(client, code_for(secret, 1))
    assert r.status_code == 303 and r.headers["Location"] == "/profile"
    assert logged_in(client)
    assert user_row(app, "ada").last_login_at is not None
    with client.session_transaction() as s:
        assert PENDING_KEY not in s  # spent with the rest of the anonymous session


def test_a_person_without_two_factor_logs_in_in_one_step(client, users):
    users.create("ada")
    r = password_step(client, "ada")
    assert r.status_code == 303 and r.headers["Location"] == "/profile" and logged_in(client)


def test_a_wrong_password_never_reaches_the_second_step(app, client, users):
    users.create("ada")
    enable_for(app, "ada")
    r = password_step(client, "ada", "not-the-password-at-all")
    assert r.status_code == 401
    assert form_errors(r.get_data(as_text=True)) == ["Invalid username or password."]
    r = client.get(SECOND_STEP)
    assert r.status_code == 302 and redirect_to(r)[0] == "/login"


def test_the_pending_step_is_not_a_login(app, client, users):
    users.create("ada")
    enable_for(app, "ada")
    password_step(client, "ada")
    for path in ("/profile", "/profile/two-factor", "/profile/api-keys", "/profile/password", "/sudo"):
        r = client.get(path)
        assert r.status_code == 302 and redirect_to(r)[0] == "/login", path
    # Nor can it be used to act: a POST to the profile is refused as anonymous.
    html = client.get(SECOND_STEP).get_data(as_text=True)
    r = client.post("/profile", data={"csrf_token": csrf_from(html), "first_name": "X", "email": "ada@example.com"})
    assert r.status_code == 302 and redirect_to(r)[0] == "/login"
    assert user_row(app, "ada").first_name == ""
    # The API does not read the session either.
    assert client.get("/api/v1/users/me").status_code == 401


def test_the_second_step_needs_a_password_step_first(client, users):
    r = client.get(SECOND_STEP)
    assert r.status_code == 302 and redirect_to(r)[0] == "/login"
    html = client.get("/login").get_data(as_text=True)
    r = client.post(SECOND_STEP, data={"csrf_token": csrf_from(html), "code": "123456"})
    assert r.status_code == 303 and redirect_to(r)[0] == "/login"
    assert "Log in first." in flashes(client.get("/login").get_data(as_text=True))


def test_next_is_kept_from_the_first_step_and_only_when_safe(app, client, users):
    users.create("ada")
    secret, _ = enable_for(app, "ada")
    r = password_step(client, "ada", next_path="/profile/api-keys")
    assert r.status_code == 303 and r.headers["Location"] == SECOND_STEP
    r = code_step(client, code_for(secret, 1))
    assert r.headers["Location"] == "/profile/api-keys"

    other = app.test_client()
    users.create("grace")
    secret, codes = enable_for(app, "grace")
    password_step(other, "grace", next_path="//evil.example/steal")
    r = code_step(other, codes[0])
    assert r.status_code == 303 and r.headers["Location"] == "/profile"


def test_a_wrong_code_is_shown_beside_the_field_and_the_right_one_still_works(app, client, users):
    users.create("ada")
    secret, _ = enable_for(app, "ada")
    password_step(client, "ada")
    r = code_step(client, wrong_code(secret))
    assert r.status_code == 401
    assert error_beside(r.get_data(as_text=True), "code").startswith("The code is not correct.")
    assert not logged_in(client)
    r = code_step(client, "")
    assert r.status_code == 400
    assert error_beside(r.get_data(as_text=True), "code") == "Enter the code from your authenticator app."
    assert code_step(client, code_for(secret, 1)).status_code == 303 and logged_in(client)


def test_a_code_is_accepted_only_once(app, client, users):
    users.create("ada")
    secret, _ = enable_for(app, "ada")  # spent the current step
    code = code_for(secret, 1)
    password_step(client, "ada")
    assert code_step(client, code).status_code == 303

    other = app.test_client()
    password_step(other, "ada")
    for replayed in (code, code_for(secret, 0)):  # the same step again, and an earlier one
        r = code_step(other, replayed)
        assert r.status_code == 401, replayed
        assert error_beside(r.get_data(as_text=True), "code").startswith("The code is not correct.")
    assert not logged_in(other)


def test_a_recovery_code_logs_in_once(app, client, users):
    users.create("ada")
    _, codes = enable_for(app, "ada")
    password_step(client, "ada")
    r = code_step(client, codes[3].upper())  # case and the dash do not matter
    assert r.status_code == 303 and logged_in(client)
    page = client.get("/profile/two-factor").get_data(as_text=True)
    assert "<strong>9</strong> of 10 recovery codes left" in page

    other = app.test_client()
    password_step(other, "ada")
    r = code_step(other, codes[3])
    assert r.status_code == 401 and not logged_in(other)
    assert code_step(other, codes[4].replace("-", "")).status_code == 303 and logged_in(other)


def test_wrong_codes_count_toward_the_lockout_with_wrong_passwords(make_app):
    app = make_app({"Password.LockoutThreshold": 3})
    UserFactory(app).create("ada")
    secret, _ = enable_for(app, "ada")
    client = app.test_client()
    assert password_step(client, "ada", "not-the-password-at-all").status_code == 401
    password_step(client, "ada")
    assert code_step(client, wrong_code(secret)).status_code == 401
    assert code_step(client, wrong_code(secret)).status_code == 401  # the third failure: locked out now

    r = code_step(client, code_for(secret, 1))  # even the right code, while locked out
    assert r.status_code == 423 and int(r.headers["Retry-After"]) > 0
    assert form_errors(r.get_data(as_text=True)) == ["Too many failed logins. Try again later."]
    assert not logged_in(client)
    assert password_step(app.test_client(), "ada").status_code == 423

    from keystead.audit.models import AuditEvent
    reasons = in_db(app, lambda: [json.loads(e.details).get("reason") for e in AuditEvent.select()
                                  .where(AuditEvent.event == "login_failed").order_by(AuditEvent.id)])
    assert reasons.count("wrong_second_factor") == 2


def test_the_second_step_expires_after_five_minutes(app, client, users):
    users.create("ada")
    secret, _ = enable_for(app, "ada")
    password_step(client, "ada")
    with client.session_transaction() as s:
        s[PENDING_KEY] = {**s[PENDING_KEY], "at": int(time.time()) - PENDING_SECONDS - 1}
    html = client.get("/login").get_data(as_text=True)
    r = client.post(SECOND_STEP, data={"csrf_token": csrf_from(html), "code": code_for(secret, 1)})
    assert r.status_code == 303 and redirect_to(r)[0] == "/login"
    assert "That took too long. Log in again." in flashes(client.get("/login").get_data(as_text=True))
    assert not logged_in(client)
    with client.session_transaction() as s:
        assert PENDING_KEY not in s
    # The code was not spent: a fresh password step takes it.
    password_step(client, "ada")
    assert code_step(client, code_for(secret, 1)).status_code == 303 and logged_in(client)


def test_ending_the_persons_sessions_ends_a_pending_step(app, client, users):
    from keystead import accounts
    users.create("ada")
    secret, _ = enable_for(app, "ada")
    password_step(client, "ada")
    in_db(app, lambda: accounts.end_browser_sessions(User.get(User.username_key == "ada")))
    html = client.get("/login").get_data(as_text=True)
    r = client.post(SECOND_STEP, data={"csrf_token": csrf_from(html), "code": code_for(secret, 1)})
    assert r.status_code == 303 and redirect_to(r)[0] == "/login" and not logged_in(client)
    assert "Log in again." in flashes(client.get("/login").get_data(as_text=True))


def test_the_second_step_form_needs_its_csrf_token(app, client, users):
    users.create("ada")
    secret, _ = enable_for(app, "ada")
    password_step(client, "ada")
    r = client.post(SECOND_STEP, data={"code": code_for(secret, 1)})
    assert r.status_code == 400 and not logged_in(client)


def test_a_new_password_step_replaces_an_earlier_login(app, client, users):
    """Logging in as someone else starts over: the earlier session is not kept beside the
    pending step."""
    users.create("grace")
    users.create("ada")
    enable_for(app, "ada")
    password_step(client, "grace")
    assert logged_in(client)
    password_step(client, "ada")
    assert not logged_in(client)


# ---------------------------------------------------------------- setting it up

def start_setup(client):
    r = submit(client, "/profile/two-factor/setup", {"start": "1"}, page="/profile/two-factor")
    assert r.status_code == 303 and r.headers["Location"] == "/profile/two-factor/setup"
    return client.get("/profile/two-factor/setup").get_data(as_text=True)


def test_setting_it_up_shows_a_qr_code_and_the_secret_then_the_recovery_codes_once(app, client, users):
    users.create("ada")
    password_step(client, "ada")
    profile = client.get("/profile").get_data(as_text=True)
    assert 'href="/profile/two-factor"' in profile and "Off: logging in asks only for your password." in profile
    page = client.get("/profile/two-factor").get_data(as_text=True)
    assert "It is off" in page and "Set up two-factor authentication" in page

    setup = start_setup(client)
    secret = secret_on(setup)
    assert secret == in_db(app, lambda: totp.pending_secret(User.get(User.username_key == "ada")))
    svg = setup[setup.index('<div class="qr"'):setup.index("</svg>")]
    assert "<svg" in svg and "<script" not in svg and "style=" not in svg
    assert not is_enabled(app, "ada")

    r = submit(client, "/profile/two-factor/setup", {"code": wrong_code(secret)})
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert error_beside(html, "code").startswith("The code is not correct.")
    assert secret_on(html) == secret  # the same set-up goes on
    assert not is_enabled(app, "ada")

    r = submit(client, "/profile/two-factor/setup", {"code": code_for(secret)})
    assert r.status_code == 200
    codes = recovery_codes_on(r.get_data(as_text=True))
    assert len(codes) == 10 and len(set(codes)) == 10
    assert is_enabled(app, "ada")

    # Shown once: no page shows them again, and the set-up page is gone.
    for path in ("/profile", "/profile/two-factor"):
        html = client.get(path).get_data(as_text=True)
        assert not any(c in html for c in codes) and secret not in html
    assert "<strong>10</strong> of 10 recovery codes left" in client.get("/profile/two-factor").get_data(as_text=True)
    r = client.get("/profile/two-factor/setup")
    assert r.status_code == 303 and r.headers["Location"] == "/profile/two-factor"
    assert "On: logging in asks for a code" in client.get("/profile").get_data(as_text=True)

    # The shown codes are the person's: one logs in.
    other = app.test_client()
    password_step(other, "ada")
    assert code_step(other, codes[0]).status_code == 303 and logged_in(other)


def test_the_setup_code_cannot_be_replayed_at_login(app, client, users):
    users.create("ada")
    password_step(client, "ada")
    secret = secret_on(start_setup(client))
    code = code_for(secret)
    assert submit(client, "/profile/two-factor/setup", {"code": code}).status_code == 200
    other = app.test_client()
    password_step(other, "ada")
    assert code_step(other, code).status_code == 401


def test_starting_over_gives_a_new_secret(app, client, users):
    users.create("ada")
    password_step(client, "ada")
    first = secret_on(start_setup(client))
    second = secret_on(start_setup(client))
    assert first != second
    r = submit(client, "/profile/two-factor/setup", {"code": code_for(first)})
    assert r.status_code == 422 and not is_enabled(app, "ada")


def test_setting_it_up_needs_web_sudo(make_app):
    app = make_app({"Password.WebSudoMode": True})
    UserFactory(app).create("ada")
    client = app.test_client()
    password_step(client, "ada")
    page = client.get("/profile/two-factor").get_data(as_text=True)
    assert "You will be asked for your password first." in page

    r = submit(client, "/profile/two-factor/setup", {"start": "1"}, page="/profile/two-factor")
    assert r.status_code == 302 and redirect_to(r) == ("/sudo", {"next": "/profile/two-factor/setup"})
    assert in_db(app, lambda: totp.pending_secret(User.get(User.username_key == "ada"))) is None
    r = client.get("/profile/two-factor/setup")
    assert r.status_code == 302 and redirect_to(r)[0] == "/sudo"

    r = submit(client, "/sudo?next=/profile/two-factor/setup", {"password": STRONG_PASSWORD})
    assert r.status_code == 303 and r.headers["Location"] == "/profile/two-factor/setup"
    page = client.get("/profile/two-factor/setup").get_data(as_text=True)
    assert 'name="start"' in page and 'id="totp-secret"' not in page
    secret = secret_on(start_setup(client))
    assert submit(client, "/profile/two-factor/setup", {"code": code_for(secret)}).status_code == 200
    assert is_enabled(app, "ada")


def test_the_setup_forms_need_their_csrf_token(app, client, users):
    users.create("ada")
    password_step(client, "ada")
    assert client.post("/profile/two-factor/setup", data={"start": "1"}).status_code == 400
    secret = secret_on(start_setup(client))
    assert client.post("/profile/two-factor/setup", data={"code": code_for(secret)}).status_code == 400
    assert not is_enabled(app, "ada")


def test_the_two_factor_pages_need_a_login(client):
    for path in ("/profile/two-factor", "/profile/two-factor/setup", "/profile/two-factor/disable"):
        r = client.get(path)
        assert r.status_code == 302 and redirect_to(r)[0] == "/login", path


# ---------------------------------------------------------------- turning it off

def test_turning_it_off_needs_web_sudo_and_a_code(make_app):
    app = make_app({"Password.WebSudoMode": True})
    UserFactory(app).create("ada")
    client = app.test_client()
    password_step(client, "ada")  # logged in before it was on; the session goes on
    secret, _ = enable_for(app, "ada")
    page = client.get("/profile/two-factor").get_data(as_text=True)
    assert "It is on" in page and 'name="code"' not in page  # a link to /sudo first, no form

    html = client.get("/profile").get_data(as_text=True)
    r = client.post("/profile/two-factor/disable", data={"csrf_token": csrf_from(html), "code": code_for(secret, 1)})
    assert r.status_code == 302 and redirect_to(r) == ("/sudo", {"next": "/profile/two-factor/disable"})
    assert is_enabled(app, "ada")

    submit(client, "/sudo?next=/profile/two-factor/disable", {"password": STRONG_PASSWORD})
    assert 'name="code"' in client.get("/profile/two-factor").get_data(as_text=True)
    r = submit(client, "/profile/two-factor/disable", {"code": ""})
    assert r.status_code == 400 and error_beside(r.get_data(as_text=True), "code")
    r = submit(client, "/profile/two-factor/disable", {"code": wrong_code(secret)})
    assert r.status_code == 422 and error_beside(r.get_data(as_text=True), "code") == "The code is not correct."
    assert is_enabled(app, "ada")

    r = submit(client, "/profile/two-factor/disable", {"code": code_for(secret, 1)})
    assert r.status_code == 303 and r.headers["Location"] == "/profile/two-factor"
    page = client.get("/profile/two-factor").get_data(as_text=True)
    assert "Two-factor authentication is off." in " ".join(flashes(page)) and "It is off" in page
    assert not is_enabled(app, "ada")
    assert in_db(app, lambda: totp.RecoveryCode.select().count()) == 0
    # Logging in takes the password alone again.
    other = app.test_client()
    r = password_step(other, "ada")
    assert r.status_code == 303 and r.headers["Location"] == "/profile"


def test_turning_it_off_with_a_recovery_code(app, client, users):
    users.create("ada")
    _, codes = enable_for(app, "ada")
    password_step(client, "ada")
    code_step(client, codes[0])
    r = submit(client, "/profile/two-factor/disable", {"code": codes[0]})  # spent at login
    assert r.status_code == 422 and is_enabled(app, "ada")
    r = submit(client, "/profile/two-factor/disable", {"code": codes[1]})
    assert r.status_code == 303 and not is_enabled(app, "ada")


def test_wrong_codes_when_turning_it_off_count_toward_the_lockout(make_app):
    app = make_app({"Password.LockoutThreshold": 2})
    UserFactory(app).create("ada")
    client = app.test_client()
    password_step(client, "ada")
    secret, _ = enable_for(app, "ada")
    for _ in range(2):
        assert submit(client, "/profile/two-factor/disable", {"code": wrong_code(secret)}).status_code == 422
    r = submit(client, "/profile/two-factor/disable", {"code": code_for(secret, 1)})
    assert r.status_code == 423 and int(r.headers["Retry-After"]) > 0
    assert form_errors(r.get_data(as_text=True)) == ["Too many failed attempts. Try again later."]
    assert is_enabled(app, "ada")


def test_turning_it_off_when_it_is_off_goes_back_to_the_page(client, users):
    users.create("ada")
    password_step(client, "ada")
    r = client.get("/profile/two-factor/disable")
    assert r.status_code == 303 and r.headers["Location"] == "/profile/two-factor"
