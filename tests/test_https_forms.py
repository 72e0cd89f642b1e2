"""Issue 13 item 1, the rule itself: over https a browser form is accepted with its token
when the browser says it came from this site (Sec-Fetch-Site, else Origin, else Referer),
whatever Referer it sent; anything else is refused with a page that says the form could
not be verified (not that it expired) and a log line that says why."""
from __future__ import annotations

import logging

import pytest

from conftest import csrf_from

SITE = "https://keystead.test"


@pytest.fixture
def https_app(make_app):
    return make_app({"Server.PublicURL": SITE})


@pytest.fixture
def https_client(https_app):
    return https_app.test_client()


def post_sign_up(client, headers: dict, username: str = "ada"):
    """GET the sign-up form over https, then POST it with its token and `headers`."""
    token = csrf_from(client.get("/register", base_url=SITE).get_data(as_text=True))
    data = {"csrf_token": token, "username": username, "email": f"{username}@example.com",
            "password": "granite-otter-lantern-vivid-31", "password_confirm": "granite-otter-lantern-vivid-31"}
    return client.post("/register", base_url=SITE, data=data, headers=headers)


def test_the_pages_send_no_path_as_a_referer(https_client):
    """Issue 13 item 1: the Referrer-Policy lets the browser name this site (origin only,
    so link tokens in paths never travel) instead of suppressing it."""
    assert https_client.get("/login", base_url=SITE).headers["Referrer-Policy"] == "strict-origin"


@pytest.mark.parametrize("headers", [
    {"Sec-Fetch-Site": "same-origin", "Origin": "null"},  # Chromium under Referrer-Policy no-referrer
    {"Origin": SITE},                                     # a browser without Sec-Fetch-Site
    {"Referer": SITE + "/"},                              # an old browser: the origin as the Referer
], ids=["sec-fetch-site", "origin", "referer"])
def test_a_form_from_this_site_over_https_is_accepted_without_a_full_referer(https_client, headers):
    """Issue 13 item 1: a sign-up posted over https from this site's page is accepted
    whichever of Sec-Fetch-Site, Origin or an origin-only Referer the browser sent."""
    r = post_sign_up(https_client, headers)
    assert r.status_code == 303, r.get_data(as_text=True)
    assert r.headers["Location"] == "/profile"


@pytest.mark.parametrize("headers,reason", [
    ({"Sec-Fetch-Site": "cross-site", "Origin": SITE}, "Sec-Fetch-Site is cross-site"),
    ({"Sec-Fetch-Site": "same-site"}, "Sec-Fetch-Site is same-site"),
    ({"Origin": "https://evil.example"}, "Origin is https://evil.example"),
    ({"Origin": "http://keystead.test"}, "Origin is http://keystead.test"),
    ({"Referer": "https://evil.example/page"}, "the Referer is from https://evil.example:443"),
    ({}, "sent no Sec-Fetch-Site, Origin or Referer header"),
], ids=["cross-site", "same-site", "other-origin", "plain-http-origin", "other-referer", "no-headers"])
def test_a_form_from_elsewhere_over_https_is_refused_logged_and_explained(https_app, https_client, caplog,
                                                                          headers, reason):
    """Issue 13 item 1: with a valid token but from another site (or unknown origin) over
    https: 400, a page saying the form could not be verified, a log line with the reason,
    and no account made."""
    with caplog.at_level(logging.WARNING, logger="keystead"):
        r = post_sign_up(https_client, headers)
    assert r.status_code == 400
    page = r.get_data(as_text=True)
    assert "Could not verify the form" in page and "expired" not in page
    assert "Nothing was changed" in page
    refusals = [rec.getMessage() for rec in caplog.records if "refused a form" in rec.getMessage()]
    assert len(refusals) == 1 and "POST /register" in refusals[0] and reason in refusals[0], refusals
    with https_app.app_context():
        from keystead.models import User
        assert not User.select().where(User.username == "ada").exists()


@pytest.mark.parametrize("case,expected", [
    ("missing", "arrived without its security token"),
    ("other session", "belongs to another session"),
    ("no session", "your session had ended"),
])
def test_a_refused_token_is_explained_truthfully_and_logged(make_app, caplog, case, expected):
    """Issue 13 item 1: the refusal page says what was wrong with the token (never
    "expired" when it did not expire), and the log says Flask-WTF's reason."""
    app = make_app()
    client = app.test_client()
    token = csrf_from(client.get("/login").get_data(as_text=True))
    data = {"username": "ada", "password": "whatever-it-is"}
    if case == "other session":
        other = app.test_client()
        data["csrf_token"] = csrf_from(other.get("/login").get_data(as_text=True))
    elif case == "no session":
        data["csrf_token"] = token
        client = app.test_client()  # a browser without the cookie the form belongs to
    with caplog.at_level(logging.WARNING, logger="keystead"):
        r = client.post("/login", data=data)
    assert r.status_code == 400
    page = r.get_data(as_text=True)
    assert "Could not verify the form" in page and expected in page and "expired" not in page
    assert any("refused a form: POST /login" in rec.getMessage() and "CSRF" in rec.getMessage()
               for rec in caplog.records)
