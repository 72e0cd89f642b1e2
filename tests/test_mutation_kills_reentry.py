"""Issue 18: a re-entered password is a guess like a login. Password change and account
deletion, through the API (a stolen token) and the browser (a stolen session), run into
the account's lockout after Password.LockoutThreshold wrong passwords: even the right
password is then refused with 423, and nothing is changed or deleted. Without the guard
(a plain check) both would be unlimited password-guessing endpoints."""
from __future__ import annotations

import pytest
from api_support import API, bearer, in_db, login, users_of
from conftest import STRONG_PASSWORD, AuthActions
from pages import submit

from keystead.models import User

THRESHOLD = 3
WRONG = "not-the-password-at-all"
NEW_PASSWORD = "Another-Long-Secret-456"


@pytest.fixture
def locking_app(make_app):
    return make_app({"Password.LockoutThreshold": THRESHOLD, "Password.LockoutDuration": "15m"})


@pytest.fixture
def alan(locking_app):
    factory = users_of(locking_app)
    factory.create("root", role="administrator")
    return factory.create("alan", email="alan@example.com")[0]


def _still_there(app, user) -> bool:
    return in_db(app, lambda: User.get_or_none(User.id == user.id) is not None)


def _assert_locked_out(response) -> None:
    assert response.status_code == 423, response.get_data(as_text=True)
    assert int(response.headers["Retry-After"]) > 0


def _api_client(app):
    client = app.test_client()
    return client, bearer(login(client, "alan")["access_token"])


def test_api_account_deletion_runs_into_the_lockout_after_wrong_passwords(locking_app, alan):
    client, headers = _api_client(locking_app)
    for _ in range(THRESHOLD):
        r = client.delete(f"{API}/users/me", headers=headers, json={"password": WRONG})
        assert r.status_code == 422, r.get_data(as_text=True)
        assert set(r.get_json()["error"]["fields"]) == {"password"}
    _assert_locked_out(client.delete(f"{API}/users/me", headers=headers, json={"password": STRONG_PASSWORD}))
    assert _still_there(locking_app, alan)
    # The lockout is the account's: a login is refused too.
    _assert_locked_out(locking_app.test_client().post(
        f"{API}/auth/login", json={"username": "alan", "password": STRONG_PASSWORD}))


def test_api_password_change_runs_into_the_lockout_after_wrong_passwords(locking_app, alan):
    client, headers = _api_client(locking_app)
    for _ in range(THRESHOLD):
        r = client.post(f"{API}/users/me/password", headers=headers,
                        json={"current_password": WRONG, "new_password": NEW_PASSWORD})
        assert r.status_code == 422
        assert set(r.get_json()["error"]["fields"]) == {"current_password"}
    _assert_locked_out(client.post(f"{API}/users/me/password", headers=headers,
                                   json={"current_password": STRONG_PASSWORD, "new_password": NEW_PASSWORD}))
    # The password did not change: once the lockout is over the old one is still the one.
    from keystead.throttle import clear_lockout
    in_db(locking_app, lambda: clear_lockout(alan))
    login(locking_app.test_client(), "alan", STRONG_PASSWORD)


def _browser(app):
    client = app.test_client()
    assert AuthActions(client).login("alan").status_code == 303
    return client


def test_browser_account_deletion_runs_into_the_lockout_after_wrong_passwords(locking_app, alan):
    client = _browser(locking_app)
    for _ in range(THRESHOLD):
        r = submit(client, "/profile/delete", {"password": WRONG, "confirm": "y"})
        assert r.status_code == 422, r.status_code
        assert "The password is not correct." in r.get_data(as_text=True)
    r = submit(client, "/profile/delete", {"password": STRONG_PASSWORD, "confirm": "y"})
    _assert_locked_out(r)
    assert _still_there(locking_app, alan)


def test_browser_password_change_runs_into_the_lockout_after_wrong_passwords(locking_app, alan):
    client = _browser(locking_app)
    form = {"new_password": NEW_PASSWORD, "new_password_confirm": NEW_PASSWORD}
    for _ in range(THRESHOLD):
        r = submit(client, "/profile/password", {"current_password": WRONG, **form})
        assert r.status_code == 422, r.status_code
        assert "The current password is not correct." in r.get_data(as_text=True)
    _assert_locked_out(submit(client, "/profile/password", {"current_password": STRONG_PASSWORD, **form}))
    from keystead.throttle import clear_lockout
    in_db(locking_app, lambda: clear_lockout(alan))
    login(locking_app.test_client(), "alan", STRONG_PASSWORD)


def test_a_password_account_with_no_password_yet_gets_403_password_required(app, client, users):
    """An account of the password provider that has no password (it signs in through a
    linked outside identity) has nothing to re-enter: 403 password_required, never a check
    of a guess against no password."""
    from api_support import assert_error

    from keystead.tokens import issue_token_pair
    nova, _ = users.create("nova", password=None)
    token = in_db(app, lambda: issue_token_pair(nova))["access_token"]
    for body in ({"name": "script"}, {"name": "script", "current_password": "anything-at-all"}):
        assert_error(client.post(f"{API}/users/me/api-keys", json=body, headers=bearer(token)),
                     403, "password_required")
