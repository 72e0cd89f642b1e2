"""The token life cycle (SPEC 6): Bearer on every call, rotation with reuse detection,
expiry from the configured lifetimes, revocation at logout, lock, deletion, password
change; and browser sessions and tokens kept apart."""
from __future__ import annotations

import time

import pytest
from flask_login import current_user
from itsdangerous import URLSafeSerializer

from api_support import API, assert_error, bearer, in_db, login, me_status, refresh, users_of
from keystead.models import Token, User
from conftest import STRONG_PASSWORD


def expire(app, token_kind: str):
    """Move every record of `token_kind` into the past (what time would do)."""
    in_db(app, lambda: Token.update(expires_at=int(time.time()) - 1)
          .where(Token.kind == token_kind).execute())


@pytest.fixture
def ada(users):
    return users.create("ada")[0]


# ---------------------------------------------------------------- refresh

def test_refresh_rotates_the_pair(client, ada):
    first = login(client, "ada")
    r = refresh(client, first["refresh_token"])
    assert r.status_code == 200
    second = r.get_json()
    assert set(second) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert second["refresh_token"] != first["refresh_token"]
    assert me_status(client, second["access_token"]) == 200
    # The earlier access token of the session ends with the refresh token it came with.
    assert me_status(client, first["access_token"]) == 401
    # A refresh token works once; the next one works in turn.
    third = refresh(client, second["refresh_token"]).get_json()
    assert me_status(client, third["access_token"]) == 200


def test_reusing_a_spent_refresh_token_revokes_the_whole_family(client, ada):
    first = login(client, "ada")
    other_session = login(client, "ada")
    second = refresh(client, first["refresh_token"]).get_json()
    assert_error(refresh(client, first["refresh_token"]), 401, "invalid_token")  # replayed
    # The thief's or the owner's newest pair: both stop.
    assert me_status(client, second["access_token"]) == 401
    assert_error(refresh(client, second["refresh_token"]), 401, "invalid_token")
    # Another session of the person is another family and goes on.
    assert me_status(client, other_session["access_token"]) == 200


def test_a_refresh_token_is_no_access_token_nor_the_reverse(client, ada):
    pair = login(client, "ada")
    assert_error(client.get(f"{API}/users/me", headers=bearer(pair["refresh_token"])), 401, "invalid_token")
    assert_error(refresh(client, pair["access_token"]), 401, "invalid_token")
    # Neither attempt spent anything.
    assert me_status(client, pair["access_token"]) == 200
    assert refresh(client, pair["refresh_token"]).status_code == 200


def test_refresh_of_a_locked_person_fails(app, client, users, ada):
    from keystead.accounts import set_locked
    users.create("boss", role="administrator")
    pair = login(client, "ada")
    in_db(app, lambda: set_locked(ada, True))
    assert_error(refresh(client, pair["refresh_token"]), 401, "invalid_token")


# ---------------------------------------------------------------- lifetimes and expiry

def test_lifetimes_come_from_the_configuration(make_app):
    app = make_app({"Authentication.AccessTokenLifetime": "2m", "Authentication.RefreshTokenLifetime": "3d"})
    users_of(app).create("ada")
    client = app.test_client()
    before = int(time.time())
    pair = login(client, "ada")
    assert pair["expires_in"] == 120
    rows = in_db(app, lambda: {t.kind: t.expires_at for t in Token.select()})
    assert before + 120 <= rows["access"] <= int(time.time()) + 120
    assert before + 3 * 86400 <= rows["refresh"] <= int(time.time()) + 3 * 86400


def test_an_expired_access_token_is_refused_and_refresh_still_works(app, client, ada):
    pair = login(client, "ada")
    expire(app, "access")
    e = assert_error(client.get(f"{API}/users/me", headers=bearer(pair["access_token"])), 401, "invalid_token")
    assert e["fields"] == {}
    fresh = refresh(client, pair["refresh_token"])
    assert fresh.status_code == 200
    assert me_status(client, fresh.get_json()["access_token"]) == 200


def test_an_expired_refresh_token_is_refused(app, client, ada):
    pair = login(client, "ada")
    expire(app, "refresh")
    assert_error(refresh(client, pair["refresh_token"]), 401, "invalid_token")


# ---------------------------------------------------------------- bad tokens

def _tampered(token: str) -> str:
    i = len(token) - 3
    return token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1:]


def test_bad_tokens_all_get_the_same_401(app, client, ada):
    pair = login(client, "ada")
    good = pair["access_token"]
    with app.app_context():
        foreign_key = URLSafeSerializer("another-secret", salt="keystead.token.access").dumps("x")
        unknown_record = URLSafeSerializer(app.extensions["keystead.secret_key"],
                                           salt="keystead.token.access").dumps("no-such-record")
    headers = [
        bearer(_tampered(good)),
        bearer(good.split(".")[0]),                # signature cut off
        bearer(good + "x"),
        bearer(foreign_key),                       # signed with another key
        bearer(unknown_record),                    # signed right, never issued
        bearer("x" * 10240),                       # 10 KB
        bearer("not.a.token"),
        bearer("é∂ƒ".encode().decode("latin-1")),  # bytes that are no token
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer    "},
        {"Authorization": f"Basic {good}"},
        {"Authorization": good},
    ]
    bodies = set()
    for h in headers:
        r = client.get(f"{API}/users/me", headers=h)
        assert_error(r, 401, "invalid_token")
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
        bodies.add(r.get_data())
    assert len(bodies) == 1
    assert me_status(client, good) == 200  # none of it harmed the real token


def test_no_credentials_is_401_authentication_required(client):
    r = client.get(f"{API}/users/me")
    assert_error(r, 401, "authentication_required")
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_revoked_token_is_refused(app, client, ada):
    pair = login(client, "ada")
    in_db(app, lambda: Token.update(revoked=True).execute())
    assert_error(client.get(f"{API}/users/me", headers=bearer(pair["access_token"])), 401, "invalid_token")


# ---------------------------------------------------------------- revocation at once

def test_locking_revokes_at_once_and_unlocking_does_not_bring_tokens_back(app, client, users, ada):
    from keystead.accounts import set_locked
    users.create("boss", role="administrator")
    pair = login(client, "ada")
    in_db(app, lambda: set_locked(ada, True))
    assert me_status(client, pair["access_token"]) == 401
    in_db(app, lambda: set_locked(User.get_by_id(ada.id), False))
    assert me_status(client, pair["access_token"]) == 401
    assert_error(refresh(client, pair["refresh_token"]), 401)
    assert me_status(client, login(client, "ada")["access_token"]) == 200


def test_deleting_the_account_ends_its_tokens(client, ada):
    pair, other = login(client, "ada"), login(client, "ada")
    r = client.delete(f"{API}/users/me", json={"password": STRONG_PASSWORD}, headers=bearer(pair["access_token"]))
    assert r.status_code == 204
    assert me_status(client, pair["access_token"]) == 401
    assert me_status(client, other["access_token"]) == 401
    assert_error(refresh(client, other["refresh_token"]), 401)


def test_password_change_ends_every_other_session_but_this_one(client, ada):
    mine, other = login(client, "ada"), login(client, "ada")
    r = client.post(f"{API}/users/me/password", headers=bearer(mine["access_token"]),
                    json={"current_password": STRONG_PASSWORD, "new_password": "a-brand-new-passphrase-7"})
    assert r.status_code == 204
    assert me_status(client, other["access_token"]) == 401
    assert_error(refresh(client, other["refresh_token"]), 401)
    # The caller's own session goes on, refresh included.
    assert me_status(client, mine["access_token"]) == 200
    renewed = refresh(client, mine["refresh_token"])
    assert renewed.status_code == 200
    assert me_status(client, renewed.get_json()["access_token"]) == 200


# ---------------------------------------------------------------- sessions and tokens apart

def _add_whoami(app):
    """A page that says who the browser session is: shows what a cookie authenticates."""
    @app.get("/test-whoami")
    def whoami():
        return current_user.username if current_user.is_authenticated else "anonymous"


def _browser_session(client, user):
    """What a browser login leaves in the session cookie (Flask-Login's user id)."""
    with client.session_transaction() as sess:
        now = int(time.time())
        sess.update({"_user_id": user.get_id(), "_fresh": True, "login_at": now, "seen_at": now})


def test_a_browser_session_cookie_never_authenticates_the_api(app, ada):
    _add_whoami(app)
    client = app.test_client()
    _browser_session(client, ada)
    assert client.get("/test-whoami").get_data(as_text=True) == "ada"  # the cookie is a login...
    assert_error(client.get(f"{API}/users/me"), 401, "authentication_required")  # ...not for the API
    assert_error(client.post(f"{API}/auth/logout"), 401)


def test_a_bearer_token_never_authenticates_browser_pages(app, ada):
    _add_whoami(app)
    client = app.test_client()
    pair = login(client, "ada")
    # Logging in through the API sets no cookie.
    assert client.get_cookie("keystead_session") is None
    assert client.get("/test-whoami", headers=bearer(pair["access_token"])).get_data(as_text=True) == "anonymous"
    r = client.get("/profile", headers=bearer(pair["access_token"]))
    assert r.status_code in (302, 303) and r.headers["Location"].startswith("/login"), r.status_code


def test_token_responses_are_not_cached(client, ada):
    r = client.post(f"{API}/auth/login", json={"username": "ada", "password": STRONG_PASSWORD})
    assert "no-store" in r.headers["Cache-Control"]


# ---------------------------------------------------------------- the service functions

def test_prune_expired_tokens_deletes_only_long_dead_records(app, client, ada):
    from keystead.tokens import prune_expired_tokens
    login(client, "ada")
    live = login(client, "ada")
    # Age exactly the first session's records.
    first_family = in_db(app, lambda: Token.select().order_by(Token.created_at).first().family)
    in_db(app, lambda: Token.update(expires_at=int(time.time()) - 2 * 86400)
          .where(Token.family == first_family).execute())
    assert in_db(app, prune_expired_tokens) == 2
    assert in_db(app, lambda: Token.select().where(Token.family == first_family).count()) == 0
    assert me_status(client, live["access_token"]) == 200
