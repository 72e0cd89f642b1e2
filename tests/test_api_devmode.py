"""Server.RequireAuthentication = false (R2R's development mode, SPEC 3): requests without
credentials act as the Bootstrap administrator; credentials that are sent still count."""
from __future__ import annotations

import logging

from api_support import API, assert_error, bearer, login, users_of
from conftest import STRONG_PASSWORD

DEV = {"Server.RequireAuthentication": False, "Bootstrap.AdminUsername": "root",
       "Bootstrap.AdminPassword": STRONG_PASSWORD}


def test_without_credentials_the_api_acts_as_the_bootstrap_administrator(make_app, caplog):
    with caplog.at_level(logging.WARNING, logger="keystead"):
        app = make_app(DEV)
    assert any("RequireAuthentication is false" in r.getMessage() and r.levelno == logging.WARNING
               for r in caplog.records)
    client = app.test_client()
    r = client.get(f"{API}/users/me")
    assert r.status_code == 200
    assert r.get_json()["username"] == "root" and r.get_json()["role"] == "administrator"
    r = client.patch(f"{API}/users/me", json={"first_name": "Dev"})
    assert r.status_code == 200 and r.get_json()["first_name"] == "Dev"
    assert client.post(f"{API}/auth/logout").status_code == 204  # nothing to revoke


def test_credentials_sent_in_development_mode_still_count(make_app):
    app = make_app(DEV)
    users_of(app).create("ada")
    client = app.test_client()
    token = login(client, "ada")["access_token"]
    assert client.get(f"{API}/users/me", headers=bearer(token)).get_json()["username"] == "ada"
    # A bad token is refused, never quietly turned into the administrator.
    assert_error(client.get(f"{API}/users/me", headers=bearer("forged")), 401, "invalid_token")


def test_development_mode_without_an_administrator_account_is_still_anonymous(make_app):
    app = make_app({"Server.RequireAuthentication": False})
    assert_error(app.test_client().get(f"{API}/users/me"), 401, "authentication_required")


def test_normal_mode_requires_credentials(make_app):
    app = make_app({"Bootstrap.AdminUsername": "root", "Bootstrap.AdminPassword": STRONG_PASSWORD})
    assert_error(app.test_client().get(f"{API}/users/me"), 401, "authentication_required")
