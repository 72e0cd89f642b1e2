"""Several hosts, one deployment (issue 6, item 8): two `gunicorn wsgi:app` servers on two
ports, each with its own instance folder, share one PostgreSQL database and one
Server.SecretKey, and act as one: a token or a session cookie from one works on the other,
logging out or locking on one ends it on the other, and a lockout counts failures made on
both. (Rate limits count in the shared database too with the default database://
storage; tests/test_trust_rate_limits.py shows it.)
"""
from __future__ import annotations

import re
import secrets

import pytest
import requests
from conftest import POSTGRES_URL, STRONG_PASSWORD
from servers import ADMIN_PASSWORD, ADMIN_USERNAME, gunicorn_servers  # noqa: F401  (fixture)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not POSTGRES_URL, reason="needs a PostgreSQL server: set KEYSTEAD_TEST_POSTGRES_URL="
                       "postgresql://user@host:port/db (.ci/run starts one and sets it)"),
]

WRONG = "not-the-password-at-all"


@pytest.fixture
def two_hosts(gunicorn_servers, tmp_path, database_url):  # noqa: F811
    shared = {"Server.DatabaseURL": database_url, "Server.SecretKey": secrets.token_hex(32),
              "Server.RateLimits": False, "Password.LockoutThreshold": 3, "Password.LockoutDuration": "15m"}
    a = gunicorn_servers.start(tmp_path / "host-a", shared)
    b = gunicorn_servers.start(tmp_path / "host-b", shared)
    assert a.port != b.port
    return a, b


def test_a_token_from_one_host_works_on_the_other(two_hosts):
    a, b = two_hosts
    assert a.register("grace").status_code == 201
    pair = b.login("grace", STRONG_PASSWORD).json()
    me = a.api("GET", "/users/me", token=pair["access_token"])
    assert me.status_code == 200 and me.json()["username"] == "grace"

    # Refresh on A with B's refresh token; replaying the spent one on B revokes the family.
    fresh = a.api("POST", "/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert fresh.status_code == 200
    assert b.api("POST", "/auth/refresh", json={"refresh_token": pair["refresh_token"]}).status_code == 401
    assert a.api("GET", "/users/me", token=fresh.json()["access_token"]).status_code == 401


def test_logout_on_one_host_revokes_on_the_other(two_hosts):
    a, b = two_hosts
    assert a.register("grace").status_code == 201
    token = a.token("grace", STRONG_PASSWORD)
    other = a.token("grace", STRONG_PASSWORD)  # a second session, left alone
    assert b.api("POST", "/auth/logout", token=token).status_code == 204
    assert a.api("GET", "/users/me", token=token).status_code == 401
    assert b.api("GET", "/users/me", token=token).status_code == 401
    assert a.api("GET", "/users/me", token=other).status_code == 200

    # A password change on B ends every other token, also those used on A.
    r = b.api("POST", "/users/me/password", token=other,
              json={"current_password": STRONG_PASSWORD, "new_password": "a-brand-new-passphrase-7"})
    assert r.status_code == 204
    third = a.token("grace", "a-brand-new-passphrase-7")
    admin = b.token(ADMIN_USERNAME, ADMIN_PASSWORD)
    grace_id = a.api("GET", "/users/me", token=third).json()["id"]
    # An administrator's lock on B stops grace's token on A at once.
    assert b.api("PATCH", f"/users/{grace_id}", token=admin, json={"locked": True}).status_code == 200
    assert a.api("GET", "/users/me", token=third).status_code == 401


def test_a_browser_session_from_one_host_is_one_session_on_both(two_hosts):
    a, b = two_hosts
    assert a.register("grace").status_code == 201
    browser = requests.Session()  # cookies for 127.0.0.1 go to both ports, as to one site

    def csrf(server, path):
        page = browser.get(server.url + path, timeout=10).text
        return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)

    r = browser.post(a.url + "/login", timeout=30, allow_redirects=False,
                     data={"csrf_token": csrf(a, "/login"), "username": "grace", "password": STRONG_PASSWORD})
    assert r.status_code == 303
    assert browser.get(b.url + "/profile", timeout=10, allow_redirects=False).status_code == 200
    copy = dict(browser.cookies)  # a copy of the cookie, as a thief would keep it
    r = browser.post(b.url + "/logout", timeout=10, allow_redirects=False, data={"csrf_token": csrf(b, "/profile")})
    assert r.status_code == 303
    replay = requests.get(a.url + "/profile", cookies=copy, timeout=10, allow_redirects=False)
    assert replay.status_code == 302 and "/login" in replay.headers["Location"]


def test_a_lockout_counts_failures_on_both_hosts(two_hosts):
    a, b = two_hosts
    assert a.register("grace").status_code == 201
    assert a.login("grace", WRONG).status_code == 401
    assert b.login("grace", WRONG).status_code == 401
    assert a.login("grace", WRONG).status_code == 401  # the third, on either host: locked out
    for server in (b, a):
        r = server.login("grace", STRONG_PASSWORD)
        assert r.status_code == 423 and int(r.headers["Retry-After"]) > 0
    # Unknown names are counted the same way, across hosts too.
    for server in (a, b, a):
        assert server.login("nobody", WRONG).status_code == 401
    assert b.login("nobody", WRONG).status_code == 423
