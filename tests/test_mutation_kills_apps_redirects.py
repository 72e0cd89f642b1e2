"""Issue 18: the login page sends a person back to an absolute URL only on a registered
app's host, exactly as registered (`host` or `host:port`, the scheme's default port
dropped, http or https), at most 4000 characters, and never one with a space, a control
character, a backslash, a user name, a bad or empty port or a trailing dot. Written to
kill the mutants mutmut found surviving in app/apps/redirects.py (docs/testing.md).

The login page names the app's origin in its form-action exactly when it would send the
person back there (app/web/auth.py): a GET of the page shows the decision, and one real
login shows it leads there."""
from __future__ import annotations

from urllib.parse import quote

import pytest

from conftest import STRONG_PASSWORD, post_form

API = "/api/v1"


@pytest.fixture
def apps(client, users, admin_h):
    """Grafana at grafana.example.com (default ports), the wiki at wiki.example.com:8443."""
    users.create("ada")
    for body in ({"name": "Grafana", "hosts": ["grafana.example.com"]},
                 {"name": "Wiki", "hosts": ["wiki.example.com:8443"]}):
        r = client.post(f"{API}/apps", headers=admin_h, json=body)
        assert r.status_code == 201, r.get_data(as_text=True)
    return client


def leads_back_to(client, target: str) -> bool:
    """Whether the login page would send the person on to `target` (its form may go there)."""
    r = client.get("/login?next=" + quote(target, safe=""))
    assert r.status_code == 200
    policy = r.headers["Content-Security-Policy"]
    return "form-action 'self';" not in policy


def _long_url(length: int) -> str:
    start = "https://grafana.example.com/"
    return start + "a" * (length - len(start))


@pytest.mark.parametrize("target", [
    "https://grafana.example.com/d/home?orgId=1",
    "https://grafana.example.com:443/d/home",      # the default port, written out
    "http://grafana.example.com/d/home",           # http too
    "http://grafana.example.com:80/d/home",
    "https://GRAFANA.Example.COM/d/home",          # host names are case-insensitive
    "https://wiki.example.com:8443/page",
    "http://wiki.example.com:8443/page",
    "https://grafana.example.com/a!b~c",            # printable characters past the space
    "https://grafana.example.com/d/é",
])
def test_a_registered_apps_url_is_where_the_login_page_leads_back(apps, target):
    assert leads_back_to(apps, target)


@pytest.mark.parametrize("target", [
    "https://grafana.example.com/a b",              # a space inside
    "https://grafana.example.com/a\x7fb",           # DEL
    "https://grafana.example.com/a\x1fb",
    "https://grafana.example.com/a\\b",
    "https://grafana.example.com:abc/",              # not a port
    "https://grafana.example.com:99999/",
    "https://grafana.example.com:/",                 # an empty port
    "https://grafana.example.com./",                 # a trailing dot
    "https://wiki.example.com.:8443/page", "https://grafana.example.com:443./",
    "https://grafana.example.com:80/",               # https on http's port
    "http://grafana.example.com:443/",               # http on https's port
    "https://grafana.example.com:8443/",
    "https://wiki.example.com/page",                 # the wiki answers on 8443 only
    "https://wiki.example.com:443/page",
    "https://ada@grafana.example.com/",
    "https://:443/", "https:///grafana.example.com/", "https:grafana.example.com/",
    "ftp://grafana.example.com/", "grafana.example.com/",
    "https://[::1]/", "https://grafana_example.com/",
])
def test_anything_else_is_not_where_the_login_page_leads(apps, target):
    assert not leads_back_to(apps, target)


def test_an_app_url_of_4000_characters_is_followed_and_a_longer_one_is_not(apps):
    assert leads_back_to(apps, _long_url(4000))
    assert not leads_back_to(apps, _long_url(4001))


def test_after_login_the_person_is_sent_on_to_the_app_with_the_default_port_written_out(apps):
    target = "https://grafana.example.com:443/d/home"
    r = post_form(apps, "/login?next=" + quote(target, safe=""), {"username": "ada", "password": STRONG_PASSWORD})
    assert r.status_code == 303 and r.headers["Location"] == target


def test_after_login_a_url_with_a_space_falls_back_to_the_start_page(apps):
    target = "https://grafana.example.com/a b"
    r = post_form(apps, "/login?next=" + quote(target, safe=""), {"username": "ada", "password": STRONG_PASSWORD})
    assert r.status_code == 303 and r.headers["Location"] in ("/profile", "/apps")
