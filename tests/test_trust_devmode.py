"""Issue 12 item 19: development mode (Server.RequireAuthentication = false) answers only the
PublicURL's host, localhost, 127.0.0.1 and [::1], so a DNS-rebinding page gets nothing;
refuses unsafe requests sent by pages of other sites, so a cross-site form cannot act as
the administrator; never acts as a missing or locked Bootstrap administrator, and says
why in the log and the banner; and Server.TrustedHosts limits the host names in every mode."""
from __future__ import annotations

import io
import logging

import pytest

from api_support import API, assert_error, in_db, users_of
from conftest import STRONG_PASSWORD
from documents_support import document_count

from keystead.config import ConfigError
from keystead.models import User

DEV = {"Server.RequireAuthentication": False, "Server.PublicURL": "http://keystead.test:8000",
       "Bootstrap.AdminUsername": "root", "Bootstrap.AdminPassword": STRONG_PASSWORD}
EVIL_ORIGIN = "https://evil.example"


def host(name: str) -> dict:
    return {"Host": name}


def user_count(app) -> int:
    return in_db(app, lambda: User.select().count())


def set_locked(app, username: str, locked: bool) -> None:
    in_db(app, lambda: User.update(locked=locked).where(User.username == username).execute())


def text_of(response) -> str:
    """The page's text with runs of white space made one space (templates wrap lines)."""
    return " ".join(response.get_data(as_text=True).split())


def warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


# ---------------------------------------------------------------- host names (DNS rebinding)

@pytest.mark.parametrize("evil", ["evil.example", "evil.example:8000", "127.0.0.1.evil.example",
                                  "localhost.evil.example:8000", "keystead.test.evil.example"])
def test_development_mode_refuses_other_host_names_on_pages_and_api(make_app, evil):
    client = make_app(DEV).test_client()
    page = client.get("/profile", headers=host(evil))
    assert page.status_code == 400 and page.mimetype == "text/plain"
    assert "root" not in page.get_data(as_text=True)
    assert_error(client.get(f"{API}/users/me", headers=host(evil)), 400, "unknown_host")
    # an unsafe request does nothing either
    assert_error(client.post(f"{API}/groups", json={"name": "rebound"}, headers=host(evil)), 400, "unknown_host")
    assert client.get(f"{API}/groups").get_json()["total"] == 0


@pytest.mark.parametrize("name", ["keystead.test", "keystead.test:8000", "localhost", "localhost:8000",
                                  "LOCALHOST:5000", "127.0.0.1", "127.0.0.1:8000", "[::1]:8000"])
def test_development_mode_answers_its_own_hosts_with_any_port(make_app, name):
    client = make_app(DEV).test_client()
    me = client.get(f"{API}/users/me", headers=host(name))
    assert me.status_code == 200 and me.get_json()["username"] == "root"
    page = client.get("/profile", headers=host(name))
    assert page.status_code == 200 and "Development mode" in page.get_data(as_text=True)


def test_development_mode_ignores_trusted_hosts_that_would_widen_it(make_app):
    client = make_app({**DEV, "Server.TrustedHosts": ["evil.example"]}).test_client()
    assert_error(client.get(f"{API}/users/me", headers=host("evil.example")), 400, "unknown_host")
    assert client.get(f"{API}/users/me", headers=host("localhost:8000")).status_code == 200


def test_behind_a_trusted_proxy_the_forwarded_host_is_judged(make_app):
    client = make_app({**DEV, "Server.TrustedProxies": 1}).test_client()
    forwarded_evil = {"Host": "127.0.0.1:8000", "X-Forwarded-Host": "evil.example"}
    assert_error(client.get(f"{API}/users/me", headers=forwarded_evil), 400, "unknown_host")
    forwarded_own = {"Host": "127.0.0.1:8000", "X-Forwarded-Host": "keystead.test"}
    assert client.get(f"{API}/users/me", headers=forwarded_own).status_code == 200


# ---------------------------------------------------------------- cross-site unsafe requests

CROSS_SITE = [{"Origin": EVIL_ORIGIN}, {"Sec-Fetch-Site": "cross-site"}, {"Origin": "null"},
              {"Origin": "http://localhost:9999"}]


@pytest.mark.parametrize("headers", CROSS_SITE)
def test_a_cross_site_form_upload_is_refused_and_stores_nothing(make_app, headers):
    app = make_app(DEV)
    client = app.test_client()
    form = {"file": (io.BytesIO(b"planted by another site"), "planted.txt", "text/plain")}
    r = client.post(f"{API}/documents", data=form, content_type="multipart/form-data", headers=headers)
    assert_error(r, 403, "cross_site_refused")
    assert document_count(app) == 0


@pytest.mark.parametrize("headers", CROSS_SITE)
def test_a_cross_site_request_cannot_create_a_user(make_app, headers):
    app = make_app(DEV)
    client = app.test_client()
    before = user_count(app)
    r = client.post(f"{API}/users", json={"username": "mallory", "password": STRONG_PASSWORD,
                                          "role": "administrator"}, headers=headers)
    assert_error(r, 403, "cross_site_refused")
    assert user_count(app) == before
    assert_error(client.patch(f"{API}/users/me", json={"first_name": "Pwned"}, headers=headers),
                 403, "cross_site_refused")
    assert_error(client.delete(f"{API}/users/me", headers=headers), 403, "cross_site_refused")
    assert client.get(f"{API}/users/me").get_json()["first_name"] != "Pwned"


def test_a_cross_site_page_form_is_refused_with_a_page(make_app):
    client = make_app(DEV).test_client()
    r = client.post("/logout", data={}, headers={"Origin": EVIL_ORIGIN})
    assert r.status_code == 403 and "other sites" in r.get_data(as_text=True)


@pytest.mark.parametrize("headers", [{}, {"Origin": "http://localhost:8000"}, {"Sec-Fetch-Site": "same-origin"},
                                     {"Sec-Fetch-Site": "none"}])
def test_same_origin_and_non_browser_requests_still_work(make_app, headers):
    app = make_app(DEV)
    client = app.test_client()
    r = client.post(f"{API}/users", json={"username": "ada", "password": STRONG_PASSWORD},
                    headers={"Host": "localhost:8000", **headers})
    assert r.status_code == 201, r.get_data(as_text=True)
    r = client.get(f"{API}/users/me", headers={"Origin": EVIL_ORIGIN, "Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 200  # reading is not refused (the same-origin policy hides the answer)


def test_normal_mode_keeps_answering_cross_site_token_requests(make_app):
    # The API reads only tokens and keys there: nothing ambient for another site to use.
    app = make_app()
    users_of(app).create("ada")
    r = app.test_client().post(f"{API}/auth/login", json={"username": "ada", "password": STRONG_PASSWORD},
                               headers={"Origin": EVIL_ORIGIN, "Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 200


# ---------------------------------------------------------------- the Bootstrap administrator

def test_a_locked_bootstrap_administrator_is_never_acted_as(make_app, caplog):
    app = make_app(DEV)
    client = app.test_client()
    assert client.get(f"{API}/users/me").status_code == 200
    set_locked(app, "root", True)
    with caplog.at_level(logging.WARNING, logger="keystead"):
        error = assert_error(client.get(f"{API}/users/me"), 401, "authentication_required")
        assert "locked" in error["message"]
        page = client.get("/profile")
        assert page.status_code == 401
        text = text_of(page)
        assert "is locked" in text and "every visitor acts as the administrator" not in text
        assert client.get("/admin/people").status_code == 401
        login_page = text_of(client.get("/login"))
        assert "root&#34; is locked" in login_page
    assert any('"root" is locked' in m and "401" in m for m in warnings(caplog))
    # Unlocked again, development mode acts as it again, and the log says so.
    caplog.clear()
    set_locked(app, "root", False)
    with caplog.at_level(logging.WARNING, logger="keystead"):
        assert client.get(f"{API}/users/me").get_json()["username"] == "root"
    assert any("acts as the administrator root" in m for m in warnings(caplog))


def test_a_missing_bootstrap_administrator_is_named_in_the_log_and_banner(make_app, caplog):
    with caplog.at_level(logging.WARNING, logger="keystead"):
        app = make_app({"Server.RequireAuthentication": False, "Bootstrap.AdminUsername": "root"})
    logged = warnings(caplog)
    assert any('"root" (Bootstrap.AdminUsername) does not exist' in m and "401" in m for m in logged), logged
    assert not any("acts as the administrator" in m for m in logged)
    client = app.test_client()
    page = client.get("/login")
    text = text_of(page)
    assert page.status_code == 200 and "Development mode" in text
    assert "does not exist" in text and "keystead init" in text
    assert "every visitor acts as the administrator" not in text
    error = assert_error(client.get(f"{API}/users/me"), 401, "authentication_required")
    assert "does not exist" in error["message"]
    profile = client.get("/profile")
    assert profile.status_code == 401 and "does not exist" in profile.get_data(as_text=True)


def test_a_bootstrap_administrator_created_later_is_acted_as(make_app):
    app = make_app({"Server.RequireAuthentication": False, "Bootstrap.AdminUsername": "root"})
    client = app.test_client()
    assert client.get(f"{API}/users/me").status_code == 401
    users_of(app).create("root", role="administrator")
    assert client.get(f"{API}/users/me").get_json()["username"] == "root"
    assert "every visitor acts as the administrator" in text_of(client.get("/login"))


# ---------------------------------------------------------------- Server.TrustedHosts, every mode

def test_trusted_hosts_in_normal_mode_refuses_other_hosts(make_app):
    app = make_app({"Server.TrustedHosts": ["auth.example.com", ".corp.example"]})
    client = app.test_client()
    for refused in ("evil.example", "localhost", "auth.example.com.evil.example", "xcorp.example:443"):
        assert_error(client.get(f"{API}/health", headers=host(refused)), 400, "unknown_host")
        assert client.get("/login", headers=host(refused)).status_code == 400
    for answered in ("auth.example.com", "AUTH.example.com:443", "corp.example", "eu.corp.example:8443"):
        assert client.get(f"{API}/health", headers=host(answered)).status_code == 200, answered
        assert client.get("/login", headers=host(answered)).status_code == 200, answered


def test_without_trusted_hosts_normal_mode_answers_any_host(make_app):
    client = make_app().test_client()
    assert client.get("/login", headers=host("anything.example:8080")).status_code == 200


def test_trusted_hosts_from_the_environment(make_app, monkeypatch):
    monkeypatch.setenv("KEYSTEAD_SERVER_TRUSTEDHOSTS", "auth.example.com")
    client = make_app().test_client()
    assert client.get("/login", headers=host("auth.example.com")).status_code == 200
    assert client.get("/login", headers=host("evil.example")).status_code == 400


@pytest.mark.parametrize("value", [["auth.example.com:443"], ["bad host"], "a..b", [7], {"a": 1}, ["-x.example"]])
def test_a_wrong_trusted_hosts_value_refuses_start_up(make_app, value):
    with pytest.raises(ConfigError) as e:
        make_app({"Server.TrustedHosts": value})
    assert "Server.TrustedHosts" in str(e.value) and "host names without ports" in str(e.value)
