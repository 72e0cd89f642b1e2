"""Issue 15: forward-auth for reverse proxies. /api/v1/authz/auth-request (nginx) and
/api/v1/authz/forward-auth (Traefik, Caddy) answer from the original request's headers: 200
with the Remote-* identity headers for a person allowed to use the app at that host, 401 or
a 302 to the login page for nobody signed in, 403 for a person not allowed or a host no app
has; the login page sends people back only to registered apps' hosts."""
from __future__ import annotations

from urllib.parse import quote

import pytest

from conftest import STRONG_PASSWORD
from test_query_counts import counting_queries

API = "/api/v1"
AUTH_REQUEST = f"{API}/authz/auth-request"
FORWARD_AUTH = f"{API}/authz/forward-auth"
APP_URL = "https://grafana.example.com/d/home?orgId=1"


def original(url=APP_URL, **extra):
    return {"X-Original-URL": url, **extra}


@pytest.fixture
def world(app, client, users, admin_h):
    """An app open to the group "ops" (ada is a member, bob is not) at grafana.example.com,
    and an app open to everyone at wiki.example.com:8443."""
    from keystead.groups import add_member, create_group
    ada = users.create("ada", first_name="Ada", last_name="Lovelace")[0]
    users.create("bob")
    with app.app_context(), app.extensions["keystead.db"].connection_context():
        add_member(create_group("ops"), ada)
        add_member(create_group("Écrivains"), ada)
    for body in ({"name": "Grafana", "hosts": ["grafana.example.com"], "allowed_groups": ["ops"]},
                 {"name": "Wiki", "hosts": ["wiki.example.com:8443"]}):
        r = client.post(f"{API}/apps", headers=admin_h, json=body)
        assert r.status_code == 201, r.get_data(as_text=True)
    return app


def browser_login(client, username):
    from conftest import post_form
    r = post_form(client, "/login", {"username": username, "password": STRONG_PASSWORD})
    assert r.status_code == 303, r.get_data(as_text=True)


def test_a_signed_in_member_gets_200_with_identity_headers(world, client):
    browser_login(client, "ada")
    for path in (AUTH_REQUEST, FORWARD_AUTH):
        r = client.get(path, headers=original())
        assert r.status_code == 200, r.get_data(as_text=True)
        assert r.headers["Remote-User"] == "ada"
        assert r.headers["Remote-Email"] == "ada@example.com"
        assert r.headers["Remote-Name"] == "Ada Lovelace"
        # UTF-8 on the wire, as the proxies pass it on.
        groups = r.headers["Remote-Groups"].encode("latin-1").decode("utf-8")
        assert sorted(groups.split(",")) == ["ops", "Écrivains"]


def test_nobody_signed_in_gets_401_from_auth_request_and_a_login_redirect_from_forward_auth(world, client):
    assert client.get(AUTH_REQUEST, headers=original()).status_code == 401
    r = client.get(FORWARD_AUTH, headers=original())
    assert r.status_code == 302
    assert r.headers["Location"] == "http://keystead.test/login?next=" + quote(APP_URL, safe="")


def test_the_original_request_may_come_in_x_forwarded_headers(world, client):
    browser_login(client, "ada")
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "grafana.example.com",
               "X-Forwarded-Uri": "/d/home", "X-Forwarded-Method": "POST"}
    assert client.get(FORWARD_AUTH, headers=headers).headers["Remote-User"] == "ada"
    r = world.test_client().get(FORWARD_AUTH, headers=headers)  # a browser without the cookie
    assert r.headers["Location"].endswith("next=" + quote("https://grafana.example.com/d/home", safe=""))


def test_a_member_of_no_allowed_group_gets_403_json_or_a_page_saying_who_they_are(world, client):
    browser_login(client, "bob")
    r = client.get(AUTH_REQUEST, headers=original())
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "not_allowed"
    assert "Remote-User" not in r.headers
    page = client.get(FORWARD_AUTH, headers=original(Accept="text/html,application/xhtml+xml"))
    assert page.status_code == 403 and page.mimetype == "text/html"
    text = page.get_data(as_text=True)
    assert "bob" in text and "Grafana" in text and "ask for access" in " ".join(text.split()).lower()


def test_a_host_no_app_has_is_refused_even_for_a_signed_in_person(world, client):
    browser_login(client, "ada")
    for url in ("https://evil.example.com/", "https://grafana.example.com.evil.com/",
                "https://ada@evil.example.com/", "https://grafana.example.com:444/", "ftp://grafana.example.com/"):
        r = client.get(AUTH_REQUEST, headers=original(url))
        assert r.status_code == 403, url
        assert r.get_json()["error"]["code"] == "unknown_app", url


def test_hosts_match_with_their_port_and_without_the_default_one(world, client):
    browser_login(client, "bob")  # the wiki is open to everyone signed in
    assert client.get(AUTH_REQUEST, headers=original("https://wiki.example.com:8443/x")).status_code == 200
    assert client.get(AUTH_REQUEST, headers=original("https://wiki.example.com/x")).status_code == 403
    browser_login(client, "ada")
    assert client.get(AUTH_REQUEST, headers=original("https://GRAFANA.example.com:443/")).status_code == 200


def test_without_an_original_request_the_answer_says_what_the_proxy_must_send(world, client):
    r = client.get(AUTH_REQUEST)
    assert r.status_code == 400 and "X-Original-URL" in r.get_json()["error"]["message"]


def test_bearer_tokens_and_api_keys_are_credentials_too(world, client):
    from api_support import login
    token = login(client, "ada")["access_token"]
    r = client.get(AUTH_REQUEST, headers=original(Authorization=f"Bearer {token}"))
    assert r.status_code == 200 and r.headers["Remote-User"] == "ada"
    key = client.post(f"{API}/users/me/api-keys", headers={"Authorization": f"Bearer {token}"},
                      json={"name": "proxy", "current_password": STRONG_PASSWORD}).get_json()["key"]
    r = client.get(AUTH_REQUEST, headers=original(Authorization=f"Key {key}"))
    assert r.status_code == 200 and r.headers["Remote-User"] == "ada"
    assert client.get(AUTH_REQUEST, headers=original(Authorization="Bearer forged")).status_code == 401


def test_after_logout_the_next_check_needs_a_login_again(world, client, auth):
    browser_login(client, "ada")
    cookie = client.get_cookie(world.config["SESSION_COOKIE_NAME"]).value
    assert client.get(AUTH_REQUEST, headers=original()).status_code == 200
    auth.logout()
    # Even a copy of the old cookie (the epoch moved on).
    client.set_cookie(world.config["SESSION_COOKIE_NAME"], cookie)
    assert client.get(AUTH_REQUEST, headers=original()).status_code == 401


def test_a_locked_person_is_refused_at_once(world, client, admin_h):
    browser_login(client, "ada")
    assert client.get(AUTH_REQUEST, headers=original()).status_code == 200
    from keystead.models import User
    with world.app_context(), world.extensions["keystead.db"].connection_context():
        ada_id = User.get(User.username_key == "ada").id
    assert client.patch(f"{API}/users/{ada_id}", headers=admin_h, json={"locked": True}).status_code == 200
    assert client.get(AUTH_REQUEST, headers=original()).status_code == 401


def test_a_check_costs_at_most_one_query_and_none_when_cached(world, client):
    from keystead.apps.forward_auth import cache_of
    browser_login(client, "ada")
    assert client.get(AUTH_REQUEST, headers=original()).status_code == 200  # warm: registry, app_sign_in
    cache_of(world).decisions.clear()  # as when the short-lived decision has expired
    with counting_queries(world) as executed:
        assert client.get(AUTH_REQUEST, headers=original()).status_code == 200
    assert len(executed) <= 1, executed
    with counting_queries(world) as executed:
        assert client.get(AUTH_REQUEST, headers=original("https://grafana.example.com/other")).status_code == 200
    assert executed == []


def test_sign_ins_and_refusals_are_in_the_audit_log_once_per_session_and_app(world, client, admin_h):
    browser_login(client, "ada")
    for _ in range(3):
        client.get(AUTH_REQUEST, headers=original())
    browser_login(client, "bob")
    client.get(AUTH_REQUEST, headers=original())
    events = client.get(f"{API}/audit?per_page=100", headers=admin_h).get_json()["results"]
    logins = [(e["actor"]["username"], e["details"]["app"]) for e in events if e["event"] == "app_sign_in"]
    refusals = [(e["actor"]["username"], e["details"]["app"]) for e in events if e["event"] == "app_refused"]
    assert logins == [("ada", "Grafana")] and refusals == [("bob", "Grafana")]


@pytest.mark.parametrize("target", [
    "https://evil.example.com/", "//evil.example.com/", "///evil.example.com/",
    "https://grafana.example.com@evil.example.com/",
    "https:\\\\evil.example.com", "/\\evil.example.com", "https://evil.example.com\\@grafana.example.com/",
    "https://grafana.example.com.evil.example.com/", "javascript:alert(1)", "https://grafana.example.com:8443/",
    " https://evil.example.com/", "https://evil.example.com#https://grafana.example.com/",
    "https://gra\tfana.example.com/", "http://[::1]/",
])
def test_the_login_page_never_sends_people_to_other_hosts(world, client, target):
    r = client.post("/login?next=" + quote(target, safe=""), data={})  # the form's token first
    from conftest import post_form
    r = post_form(client, "/login?next=" + quote(target, safe=""), {"username": "ada", "password": STRONG_PASSWORD})
    assert r.status_code == 303 and r.headers["Location"] in ("/profile", "/apps"), (target, r.headers["Location"])


def test_the_login_page_sends_people_back_to_a_registered_app(world, client):
    from conftest import post_form
    r = post_form(client, "/login?next=" + quote(APP_URL, safe=""), {"username": "ada", "password": STRONG_PASSWORD})
    assert r.status_code == 303 and r.headers["Location"] == APP_URL


def test_the_login_pages_let_their_form_lead_back_to_the_app_and_nowhere_else(world, client):
    """Chromium applies form-action to the redirects after a form: the login page of a
    forward-auth login names the app's origin there, and only a registered app's."""
    r = client.get("/login?next=" + quote(APP_URL, safe=""))
    assert "form-action 'self' https://grafana.example.com;" in r.headers["Content-Security-Policy"]
    r = client.get("/login?next=" + quote("https://evil.example.com/", safe=""))
    assert "form-action 'self';" in r.headers["Content-Security-Policy"]
    assert "evil" not in r.headers["Content-Security-Policy"]


def test_behind_trusted_proxies_the_original_request_still_comes_from_its_headers(make_app, users):
    """Server.TrustedProxies makes X-Forwarded-Host this request's host for every other
    route; forward-auth still reads it as the app's host, and Server.TrustedHosts does not
    refuse it."""
    app = make_app({"Server.TrustedProxies": 1, "Server.TrustedHosts": ["keystead.test"]})
    client = app.test_client()
    from conftest import UserFactory
    UserFactory(app).create("root", role="administrator")
    r = client.post(f"{API}/auth/login", headers={"Host": "keystead.test"},
                    json={"username": "root", "password": STRONG_PASSWORD})
    assert r.status_code == 200, r.get_data(as_text=True)
    headers = {"Authorization": "Bearer " + r.get_json()["access_token"], "Host": "keystead.test"}
    assert client.post(f"{API}/apps", headers=headers, json={"name": "G", "hosts": ["grafana.example.com"]}).status_code == 201
    r = client.get(FORWARD_AUTH, headers={**headers, "X-Forwarded-Proto": "https",
                                          "X-Forwarded-Host": "grafana.example.com", "X-Forwarded-Uri": "/"})
    assert r.status_code == 200 and r.headers["Remote-User"] == "root"
    assert client.get(f"{API}/users/me", headers={**headers, "X-Forwarded-Host": "grafana.example.com"}).status_code == 400
