"""Browser log in and out, sessions (Lifetime, Inactivity, logout everywhere), `next`,
CSRF on every form, lockout, web sudo, and the login page's providers."""
from __future__ import annotations

import time

import pytest
from conftest import STRONG_PASSWORD, UserFactory, csrf_from
from pages import (SESSION_COOKIE, blank_tokens, error_beside, flashes, form_errors, login_path,
                   redirect_to, session_cookie, submit)

from keystead import ProviderInfo, hookimpl


def login(client, username, password=STRONG_PASSWORD, next_path=None):
    return submit(client, login_path(next_path), {"username": username, "password": password})


def signed_in(client) -> bool:
    r = client.get("/profile")
    return r.status_code == 200


# ---------------------------------------------------------------- log in

def test_login_starts_a_session_and_redirects_to_profile(client, users):
    user, password = users.create("ada", first_name="Ada")
    assert not signed_in(client)
    r = login(client, "ada", password)
    assert r.status_code == 303
    assert r.headers["Location"] == "/profile"
    assert session_cookie(client)
    page = client.get("/profile")
    assert page.status_code == 200
    assert "ada@example.com" in page.get_data(as_text=True)


def test_login_with_email_and_any_case(client, users):
    users.create("grace")
    r = login(client, "GRACE@Example.com")
    assert r.status_code == 303 and signed_in(client)


def test_login_makes_a_new_session(client, users):
    """Nothing of the anonymous session survives a login (no fixation): the CSRF secret
    of the form used before logging in no longer works afterwards."""
    users.create("ada")
    before = csrf_from(client.get("/login").get_data(as_text=True))
    with client.session_transaction() as s:
        s["planted"] = "by an attacker"
    assert login(client, "ada").status_code == 303
    with client.session_transaction() as s:
        assert "planted" not in s
    r = client.post("/profile", data={"csrf_token": before, "first_name": "X", "email": "ada@example.com"})
    assert r.status_code == 400


def test_wrong_password_and_unknown_user_get_the_same_page(client, users):
    users.create("ada")
    wrong = login(client, "ada", "not-the-password-at-all")
    unknown = login(client, "nobody", "not-the-password-at-all")
    assert wrong.status_code == unknown.status_code == 401
    assert form_errors(wrong.get_data(as_text=True)) == ["Invalid username or password."]
    same_wrong = blank_tokens(wrong.get_data(as_text=True)).replace('value="ada"', 'value="X"')
    same_unknown = blank_tokens(unknown.get_data(as_text=True)).replace('value="nobody"', 'value="X"')
    assert same_wrong == same_unknown
    assert not signed_in(client)


def test_empty_login_fields_are_shown_beside_them(client):
    r = submit(client, "/login", {"username": "", "password": ""})
    assert r.status_code == 400
    page = r.get_data(as_text=True)
    assert error_beside(page, "username") == "Enter your username or email."
    assert error_beside(page, "password") == "Enter your password."


@pytest.mark.parametrize("target", ["/profile?tab=password", "/sudo?next=/profile"])
def test_next_leads_to_local_paths(client, users, target):
    users.create("ada")
    r = login(client, "ada", next_path=target)
    assert r.status_code == 303 and r.headers["Location"] == target


@pytest.mark.parametrize("target", ["//evil.com", "https://evil.com", "/\\evil.com", "javascript:alert(1)",
                                    "\\\\evil.com", "http:/evil.com", " //evil.com", "/\\/evil.com",
                                    "//evil.com/%2F..", "/\t/evil.com", "https:evil.com"])
def test_next_never_leaves_the_site(client, users, target):
    users.create("ada")
    page = client.get(login_path(target)).get_data(as_text=True)
    assert "evil.com" not in page  # the form does not carry it on either
    r = login(client, "ada", next_path=target)
    assert r.status_code == 303
    assert r.headers["Location"] == "/profile"


def test_administrator_lock_answers_423_only_to_the_right_password(app, client, users):
    from keystead.accounts import set_locked
    user, password = users.create("ada")
    with app.app_context():
        set_locked(user, True)
    assert login(client, "ada", "wrong-password-here").status_code == 401
    r = login(client, "ada", password)
    assert r.status_code == 423
    assert "locked" in form_errors(r.get_data(as_text=True))[0]
    assert not signed_in(client)


def test_lockout_after_failed_logins(make_app):
    app = make_app({"Password.LockoutThreshold": 3})
    UserFactory(app).create("ada")
    client = app.test_client()
    for _ in range(3):
        assert login(client, "ada", "wrong-password-here").status_code == 401
    r = login(client, "ada")  # even the right password, during the lockout
    assert r.status_code == 423
    assert int(r.headers["Retry-After"]) > 0
    assert form_errors(r.get_data(as_text=True)) == ["Too many failed logins. Try again later."]
    assert not signed_in(client)


# ---------------------------------------------------------------- log out

def test_logout_is_post_only(client, users):
    users.create("ada")
    login(client, "ada")
    assert client.get("/logout").status_code == 405
    assert signed_in(client)


def test_logout_ends_every_copy_of_the_cookie(app, client, users):
    users.create("ada")
    login(client, "ada")
    captured = session_cookie(client)
    replay = app.test_client()
    replay.set_cookie(SESSION_COOKIE, captured)
    assert signed_in(replay)  # the copy works while the session lives

    r = submit(client, "/logout", {}, page="/profile")
    assert r.status_code == 303 and r.headers["Location"] == "/login"
    assert "You have logged out." in flashes(client.get("/login").get_data(as_text=True))
    assert not signed_in(client)

    replay = app.test_client()
    replay.set_cookie(SESSION_COOKIE, captured)
    r = replay.get("/profile")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")


def test_logout_is_recorded_as_an_event(make_app):
    events = []

    class Observer:
        @hookimpl
        def keystead_event(self, event, actor, target, outcome, details):
            events.append((event, actor.username if actor else None))

    app = make_app(plugins=[Observer()])
    UserFactory(app).create("ada")
    client = app.test_client()
    login(client, "ada")
    submit(client, "/logout", {}, page="/profile")
    assert ("login", "ada") in events and events[-1] == ("logout", "ada")


# ---------------------------------------------------------------- session limits

@pytest.fixture
def limited(make_app):
    app = make_app({"Authentication.Lifetime": "24h", "Authentication.Inactivity": "8h"})
    UserFactory(app).create("ada")
    client = app.test_client()
    login(client, "ada")
    return client


def _age_session(client, login_ago: int, seen_ago: int):
    now = int(time.time())
    with client.session_transaction() as s:
        s["login_at"] = now - login_ago
        s["seen_at"] = now - seen_ago


def test_session_within_its_limits_goes_on(limited):
    _age_session(limited, login_ago=23 * 3600, seen_ago=7 * 3600)
    assert signed_in(limited)


def test_session_ends_after_lifetime(limited):
    _age_session(limited, login_ago=24 * 3600 + 5, seen_ago=60)
    r = limited.get("/profile")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")
    assert "Your session has ended. Please log in again." in flashes(limited.get("/login").get_data(as_text=True))
    assert not signed_in(limited)


def test_session_ends_after_inactivity(limited):
    _age_session(limited, login_ago=9 * 3600, seen_ago=8 * 3600 + 5)
    r = limited.get("/profile")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")
    assert not signed_in(limited)


def test_activity_keeps_an_idle_session_alive(limited):
    _age_session(limited, login_ago=3600, seen_ago=7 * 3600)
    assert signed_in(limited)  # seen now
    with limited.session_transaction() as s:
        assert int(time.time()) - s["seen_at"] < 60


# ---------------------------------------------------------------- CSRF on every form

ANONYMOUS_FORMS = [
    ("/login", {"username": "ada", "password": STRONG_PASSWORD}),
    ("/register", {"username": "newbie", "email": "newbie@example.com", "password": STRONG_PASSWORD,
                   "password_confirm": STRONG_PASSWORD}),
    ("/verify-email", {"email": "ada@example.com"}),
    ("/reset-password", {"email": "ada@example.com"}),
]
SIGNED_IN_FORMS = [
    ("/logout", {}),
    ("/sudo", {"password": STRONG_PASSWORD}),
    ("/profile", {"first_name": "Changed", "email": "ada@example.com"}),
    ("/profile/password", {"current_password": STRONG_PASSWORD, "new_password": "another-long-passphrase-9",
                           "new_password_confirm": "another-long-passphrase-9"}),
    ("/profile/delete", {"password": STRONG_PASSWORD, "confirm": "y"}),
]


@pytest.mark.parametrize("path,data", ANONYMOUS_FORMS, ids=[p for p, _ in ANONYMOUS_FORMS])
@pytest.mark.parametrize("token", ["missing", "forged"])
def test_anonymous_forms_refuse_a_missing_or_forged_csrf_token(client, users, path, data, token):
    users.create("ada")
    client.get(path)  # the session has a CSRF secret; the post does not carry its token
    if token == "forged":
        data = {**data, "csrf_token": "IjAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwIg.aaaaaa.bbbbbbbb"}
    r = client.post(path, data=data)
    assert r.status_code == 400
    assert "Could not verify the form" in r.get_data(as_text=True)
    assert not signed_in(client)


def test_link_forms_refuse_a_missing_csrf_token(app, client, users):
    from keystead.links import make_link
    user, _ = users.create("ada")
    with app.app_context():
        reset = make_link(user, "reset").split("keystead.test", 1)[1]
        confirm = make_link(user, "confirm").split("keystead.test", 1)[1]
    for path in (reset, confirm):
        assert client.get(path).status_code == 200
        r = client.post(path, data={"new_password": "brand-new-passphrase-77",
                                    "new_password_confirm": "brand-new-passphrase-77"})
        assert r.status_code == 400
    assert login(client, "ada").status_code == 303  # the password did not change


@pytest.mark.parametrize("path,data", SIGNED_IN_FORMS, ids=[p for p, _ in SIGNED_IN_FORMS])
def test_signed_in_forms_refuse_a_missing_csrf_token(app, client, users, path, data):
    users.create("ada")
    login(client, "ada")
    r = client.post(path, data=data)
    assert r.status_code == 400
    assert signed_in(client)  # nothing happened: still signed in, account and password as before
    with app.app_context():
        from keystead.models import User
        ada = User.get(User.username_key == "ada")
        assert ada.first_name == ""
    client2 = app.test_client()
    assert login(client2, "ada").status_code == 303


# ---------------------------------------------------------------- web sudo

@pytest.fixture
def sudo_app(make_app):
    return make_app({"Password.WebSudoMode": True, "Password.WebSudoModeDuration": "5m"})


def test_sudo_asks_for_the_password_before_a_sensitive_page(sudo_app):
    UserFactory(sudo_app).create("ada")
    client = sudo_app.test_client()
    login(client, "ada")
    r = client.get("/profile/password")
    assert r.status_code == 302
    assert redirect_to(r) == ("/sudo", {"next": "/profile/password"})

    wrong = submit(client, "/sudo?next=/profile/password", {"password": "not-my-password"})
    assert wrong.status_code == 401
    assert error_beside(wrong.get_data(as_text=True), "password") == "The password is not correct."
    assert client.get("/profile/password").status_code == 302

    right = submit(client, "/sudo?next=/profile/password", {"password": STRONG_PASSWORD})
    assert right.status_code == 303 and right.headers["Location"] == "/profile/password"
    assert client.get("/profile/password").status_code == 200


def test_sudo_lapses_after_its_duration(sudo_app):
    UserFactory(sudo_app).create("ada")
    client = sudo_app.test_client()
    login(client, "ada")
    submit(client, "/sudo", {"password": STRONG_PASSWORD})
    assert client.get("/profile/delete").status_code == 200
    with client.session_transaction() as s:
        s["sudo_until"] = int(time.time()) - 1
    assert client.get("/profile/delete").status_code == 302


@pytest.mark.parametrize("target", ["//evil.com", "https://evil.com", "/\\evil.com", "javascript:alert(1)"])
def test_sudo_next_never_leaves_the_site(sudo_app, target):
    UserFactory(sudo_app).create("ada")
    client = sudo_app.test_client()
    login(client, "ada")
    r = submit(client, login_path(target).replace("/login", "/sudo"), {"password": STRONG_PASSWORD})
    assert r.status_code == 303 and r.headers["Location"] == "/profile"


def test_sudo_guesses_count_toward_the_lockout(make_app):
    app = make_app({"Password.WebSudoMode": True, "Password.LockoutThreshold": 2})
    UserFactory(app).create("ada")
    client = app.test_client()
    login(client, "ada")
    for _ in range(2):
        assert submit(client, "/sudo", {"password": "guess-guess-guess"}).status_code == 401
    r = submit(client, "/sudo", {"password": STRONG_PASSWORD})
    assert r.status_code == 423
    assert client.get("/profile/password").status_code == 302


def test_sudo_needs_a_login(client):
    r = client.get("/sudo")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")


# ---------------------------------------------------------------- providers on the login page

class ExampleSSO:
    """A redirect-based provider: a button on the login page, no passwords here."""

    @hookimpl
    def keystead_provider_info(self):
        return ProviderInfo(name="examplesso", title="Log in with Example SSO",
                            login_url="/auth/examplesso/login")


def test_login_page_offers_each_redirect_provider(make_app):
    app = make_app({"Authentication.Provider": ["password", "examplesso"]}, plugins=[ExampleSSO()])
    page = app.test_client().get("/login").get_data(as_text=True)
    assert 'href="/auth/examplesso/login"' in page and "Log in with Example SSO" in page
    assert 'name="password"' in page


def test_without_a_password_provider_there_is_no_password_form(make_app):
    app = make_app({"Authentication.Provider": ["examplesso"]}, plugins=[ExampleSSO()])
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    assert 'href="/auth/examplesso/login"' in page
    assert 'name="password"' not in page
    token = csrf_from(client.get("/verify-email").get_data(as_text=True))
    r = client.post("/login", data={"csrf_token": token, "username": "ada", "password": STRONG_PASSWORD})
    assert r.status_code == 404


def test_default_login_page_has_only_the_password_form(client):
    page = client.get("/login").get_data(as_text=True)
    assert 'name="username"' in page and 'name="password"' in page
    assert 'class="providers"' not in page
    assert 'href="/reset-password"' in page
