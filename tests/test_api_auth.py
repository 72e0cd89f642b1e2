"""POST /api/v1/auth/register, /login, /logout (SPEC 6), through the real HTTP interface."""
from __future__ import annotations

import pytest

from api_support import API, assert_error, bearer, in_db, login, me_status, refresh, users_of
from keystead import hookimpl
from keystead.models import User
from conftest import STRONG_PASSWORD


def register(client, **body):
    data = {"username": "grace", "email": "grace@example.com", "password": STRONG_PASSWORD}
    data.update(body)
    return client.post(f"{API}/auth/register", json={k: v for k, v in data.items() if v is not ...})


class EventRecorder:
    """A real plugin observing keystead_event, registered like any third-party one."""

    def __init__(self):
        self.events = []

    @hookimpl
    def keystead_event(self, event, actor, target, outcome, details):
        self.events.append((event, actor.username if actor else None, outcome, details))


# ---------------------------------------------------------------- register

def test_the_first_account_to_sign_up_becomes_an_administrator(client):
    r = register(client)
    assert r.status_code == 201
    body = r.get_json()
    assert body["role"] == "administrator" and body["email_verified"] is True


def test_register_returns_the_user_with_the_default_role(make_app):
    app = make_app({"Authorization.DefaultUserRole": "publisher"})
    users_of(app).create("first")
    r = register(app.test_client(), first_name="Grace", last_name="Hopper")
    assert r.status_code == 201
    body = r.get_json()
    assert body["username"] == "grace" and body["email"] == "grace@example.com"
    assert body["first_name"] == "Grace" and body["last_name"] == "Hopper"
    assert body["role"] == "publisher" and body["locked"] is False
    assert body["groups"] == [] and body["last_login_at"] is None
    assert body["created_at"].endswith("Z") and isinstance(body["id"], int)
    assert set(body) == {"id", "username", "email", "first_name", "last_name", "role", "locked",
                         "email_verified", "created_at", "last_login_at", "groups", "provider", "status",
                         "terms_accepted_version", "terms_accepted_at",
                         "fields", "metadata"}
    assert not any("$2b$" in str(v) for v in body.values())  # no hash, ever
    assert "verification_email_sent" not in body  # no verification asked for
    # The account logs in.
    assert login(app.test_client(), "grace")["token_type"] == "bearer"


def test_register_refuses_role_locked_and_email_verified_in_the_body(make_app):
    """Mass assignment: the keys a sign-up may not set are refused, each named (422), and
    nothing is created; without them the same sign-up gets the default role."""
    app = make_app({"Password.RequireEmailVerification": True})
    users_of(app).create("first")
    extra = {"role": "administrator", "locked": True, "email_verified": True, "provider": "ldap",
             "id": 1, "session_epoch": 5}
    e = assert_error(register(app.test_client(), **extra), 422, "validation_failed")
    assert e["fields"] == {name: "Unknown field." for name in extra}
    assert in_db(app, lambda: User.select().where(User.username == "grace").count()) == 0
    r = register(app.test_client())
    assert r.status_code == 201
    body = r.get_json()
    assert body["role"] == "viewer" and body["locked"] is False
    assert body["email_verified"] is False and body["provider"] == "password" and body["id"] != 1


def test_register_closed_answers_403_registration_closed(make_app):
    app = make_app({"Password.SelfRegistration": False})
    client = app.test_client()
    # The first account may still sign up (it becomes the administrator)...
    assert register(client, username="boss", email="boss@example.com").status_code == 201
    # ...after that, SelfRegistration decides.
    assert_error(register(client), 403, "registration_closed")


def test_register_taken_username_or_email_is_409_with_the_field(client, users):
    users.create("grace", email="other@example.com")
    users.create("someone", email="grace@example.com")
    e = assert_error(register(client, username="GRACE", email="new@example.com"), 409, "taken")
    assert set(e["fields"]) == {"username"}
    e = assert_error(register(client, username="newname", email="Grace@Example.com"), 409, "taken")
    assert set(e["fields"]) == {"email"}


def test_register_invalid_fields_are_422_with_a_map_of_every_problem(client, users):
    users.create("first")
    e = assert_error(register(client, username="1x", email="not-an-email", password="short"),
                     422, "validation_failed")
    assert set(e["fields"]) == {"username", "email", "password"}
    e = assert_error(register(client, username="login"), 422)  # reserved
    assert "username" in e["fields"]
    e = assert_error(register(client, password="password"), 422)  # common
    assert "password" in e["fields"]
    e = assert_error(client.post(f"{API}/auth/register", json={}), 422)
    assert set(e["fields"]) == {"username", "email", "password"}


# ---------------------------------------------------------------- login

def test_login_returns_a_token_pair_with_the_configured_lifetime(make_app):
    app = make_app({"Authentication.AccessTokenLifetime": "5m"})
    users_of(app).create("ada")
    client = app.test_client()
    pair = login(client, "ada")
    assert set(pair) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert pair["token_type"] == "bearer" and pair["expires_in"] == 300
    assert pair["access_token"] != pair["refresh_token"]
    r = client.get(f"{API}/users/me", headers=bearer(pair["access_token"]))
    assert r.status_code == 200 and r.get_json()["username"] == "ada"
    assert r.get_json()["last_login_at"] is not None


def test_login_by_email_and_case_insensitively(client, users):
    users.create("ada", email="ada@example.com")
    for body in ({"email": "ADA@example.com", "password": STRONG_PASSWORD},
                 {"username": "ada@example.com", "password": STRONG_PASSWORD},
                 {"username": "ADA", "password": STRONG_PASSWORD}):
        r = client.post(f"{API}/auth/login", json=body)
        assert r.status_code == 200, body


def test_unknown_user_and_wrong_password_get_the_same_401(client, users):
    users.create("ada")
    wrong = client.post(f"{API}/auth/login", json={"username": "ada", "password": "wrong-password-1"})
    unknown = client.post(f"{API}/auth/login", json={"username": "nobody", "password": "wrong-password-1"})
    assert_error(wrong, 401, "invalid_credentials")
    assert wrong.status_code == unknown.status_code
    assert wrong.get_data() == unknown.get_data()


def test_login_missing_fields_is_422(client):
    e = assert_error(client.post(f"{API}/auth/login", json={"password": "x"}), 422)
    assert set(e["fields"]) == {"username"}
    e = assert_error(client.post(f"{API}/auth/login", json={"username": "ada"}), 422)
    assert set(e["fields"]) == {"password"}


def test_lockout_answers_423_with_retry_after_even_to_the_right_password(make_app):
    app = make_app({"Password.LockoutThreshold": 3, "Password.LockoutDuration": "10m"})
    users_of(app).create("ada")
    client = app.test_client()
    for _ in range(3):
        assert client.post(f"{API}/auth/login", json={"username": "ada", "password": "nope-nope-1"}).status_code == 401
    r = client.post(f"{API}/auth/login", json={"username": "ada", "password": STRONG_PASSWORD})
    assert_error(r, 423, "locked")
    assert 0 < int(r.headers["Retry-After"]) <= 600
    # An unknown name locks out the same way: the 423 reveals nothing.
    for _ in range(3):
        client.post(f"{API}/auth/login", json={"username": "ghost", "password": "nope-nope-1"})
    r2 = client.post(f"{API}/auth/login", json={"username": "ghost", "password": "nope-nope-1"})
    assert_error(r2, 423, "locked")
    assert r2.get_json() == r.get_json()


def test_an_account_locked_by_an_administrator_answers_423_only_to_the_right_password(app, client, users):
    from keystead.accounts import set_locked
    users.create("boss", role="administrator")
    user, _ = users.create("ada")
    in_db(app, lambda: set_locked(user, True))
    assert_error(client.post(f"{API}/auth/login", json={"username": "ada", "password": "wrong-one-1"}),
                 401, "invalid_credentials")
    assert_error(client.post(f"{API}/auth/login", json={"username": "ada", "password": STRONG_PASSWORD}),
                 423, "locked")


def test_email_not_verified_only_for_the_right_password(make_app):
    app = make_app({"Password.RequireEmailVerification": True})
    users_of(app).create("first")
    client = app.test_client()
    assert register(client).status_code == 201
    assert_error(client.post(f"{API}/auth/login", json={"username": "grace", "password": "wrong-one-1"}),
                 401, "invalid_credentials")
    assert_error(client.post(f"{API}/auth/login", json={"username": "grace", "password": STRONG_PASSWORD}),
                 403, "email_not_verified")


# ---------------------------------------------------------------- logout

def test_logout_revokes_this_sessions_tokens_only_and_fires_the_event(make_app):
    recorder = EventRecorder()
    app = make_app(plugins=[recorder])
    users_of(app).create("ada")
    client = app.test_client()
    mine, other = login(client, "ada"), login(client, "ada")
    r = client.post(f"{API}/auth/logout", headers=bearer(mine["access_token"]))
    assert r.status_code == 204 and r.get_data() == b""
    assert me_status(client, mine["access_token"]) == 401
    assert_error(refresh(client, mine["refresh_token"]), 401, "invalid_token")
    # Another session of the same person goes on.
    assert me_status(client, other["access_token"]) == 200
    assert refresh(client, other["refresh_token"]).status_code == 200
    assert ("logout", "ada", "success") in [e[:3] for e in recorder.events]


def test_logout_needs_a_token(client):
    assert_error(client.post(f"{API}/auth/logout"), 401, "authentication_required")
    assert_error(client.post(f"{API}/auth/logout", headers=bearer("nonsense")), 401, "invalid_token")


def test_login_and_failed_login_fire_events(make_app):
    recorder = EventRecorder()
    app = make_app(plugins=[recorder])
    users_of(app).create("ada")
    client = app.test_client()
    login(client, "ada")
    client.post(f"{API}/auth/login", json={"username": "ada", "password": "wrong-one-1"})
    kinds = [e[0] for e in recorder.events]
    assert "login" in kinds and "login_failed" in kinds


@pytest.mark.parametrize("path", ["/auth/login", "/auth/register", "/auth/refresh"])
def test_auth_endpoints_answer_only_post(client, path):
    r = client.get(API + path)
    assert_error(r, 405)
    assert "POST" in r.headers["Allow"]



def test_login_with_two_factor_authentication_needs_the_otp(app, client, users):
    import pyotp
    from keystead import totp
    user = users.create("ada")[0]

    def enable():
        secret, _ = totp.begin_setup(user)
        return secret, totp.confirm_setup(user, pyotp.TOTP(secret).now())
    secret, recovery_codes = in_db(app, enable)
    body = {"username": "ada", "password": STRONG_PASSWORD}
    e = assert_error(client.post(f"{API}/auth/login", json=body), 401, "otp_required")
    assert "otp" in e["fields"]
    assert_error(client.post(f"{API}/auth/login", json={**body, "otp": "12345x"}), 401, "invalid_otp")
    assert_error(client.post(f"{API}/auth/login", json={**body, "otp": 123456}), 422)
    # The wrong password with any code is the usual 401, revealing nothing about the code.
    assert_error(client.post(f"{API}/auth/login", json={**body, "password": "wrong-one-1", "otp": "1"}),
                 401, "invalid_credentials")
    r = client.post(f"{API}/auth/login", json={**body, "otp": recovery_codes[0]})
    assert r.status_code == 200 and r.get_json()["token_type"] == "bearer"
