"""Helpers for the API tests (tests/test_api_*.py, test_tokens.py, test_mail.py)."""
from __future__ import annotations

from conftest import STRONG_PASSWORD

API = "/api/v1"


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def assert_error(response, status: int, code: str | None = None) -> dict:
    """The response is the one error shape with `status` (and `code`); returns its body."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "fields"}, body
    assert isinstance(body["error"]["code"], str) and body["error"]["code"]
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["fields"], dict)
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]


def login(client, username: str, password: str = STRONG_PASSWORD, **extra) -> dict:
    """Log in through the API (`extra`: more body fields, such as accept_terms=True); returns
    the token pair."""
    r = client.post(f"{API}/auth/login", json={"username": username, "password": password, **extra})
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_json()


def me_status(client, access_token: str) -> int:
    return client.get(f"{API}/users/me", headers=bearer(access_token)).status_code


def refresh(client, refresh_token: str):
    return client.post(f"{API}/auth/refresh", json={"refresh_token": refresh_token})


def in_db(app, fn):
    """Run fn() inside an app context with a database connection (for set-up and checks)."""
    with app.app_context():
        with app.extensions["keystead.db"].connection_context():
            return fn()


def users_of(app):
    """The `users` factory for an app made with make_app (the fixture serves `app`)."""
    from conftest import UserFactory
    return UserFactory(app)
