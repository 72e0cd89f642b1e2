"""Issue 18: browser sessions hold only for the person, epoch and uniquifier they were made
for; the API neither reads nor writes a session cookie; web sudo is skipped with
WebSudoMode off except where a credential is handed out; `next` never leaves the site.
Written to kill the mutants mutmut found surviving in app/web/session.py
(docs/testing.md)."""
from __future__ import annotations

import pytest
from api_support import API, in_db
from conftest import STRONG_PASSWORD, UserFactory
from pages import submit

from keystead.models import User
from keystead.web.session import safe_next


@pytest.fixture
def ada_client(app):
    UserFactory(app).create("ada")
    client = app.test_client()
    r = submit(client, "/login", {"username": "ada", "password": STRONG_PASSWORD})
    assert r.status_code == 303
    return client


def _signed_in(client) -> bool:
    return client.get("/profile").status_code == 200


def _session_id(client) -> str:
    with client.session_transaction() as s:
        return s["_user_id"]


def _set_session_id(client, value) -> None:
    with client.session_transaction() as s:
        s["_user_id"] = value


@pytest.mark.parametrize("forged", ["", "garbage", "1:2", "x:0:abc", "1:y:abc", "1:0:abc:extra"])
def test_a_malformed_session_id_signs_nobody_in(ada_client, forged):
    assert _signed_in(ada_client)
    _set_session_id(ada_client, forged)
    assert not _signed_in(ada_client)


def test_a_session_holds_only_for_its_uniquifier_and_epoch(app, ada_client):
    user_id, epoch, uniquifier = _session_id(ada_client).split(":")
    for forged in (f"{user_id}:{epoch}:{uniquifier[:-1]}x", f"{user_id}:{int(epoch) + 1}:{uniquifier}",
                   f"{int(user_id) + 1}:{epoch}:{uniquifier}"):
        _set_session_id(ada_client, forged)
        assert not _signed_in(ada_client), forged
    _set_session_id(ada_client, f"{user_id}:{epoch}:{uniquifier}")
    assert _signed_in(ada_client)


def test_a_locked_persons_session_ends(app, ada_client):
    in_db(app, lambda: User.update(locked=True).where(User.username == "ada").execute())
    assert not _signed_in(ada_client)


def test_the_api_never_sets_a_session_cookie_and_ignores_the_browsers(app, ada_client):
    r = ada_client.get(f"{API}/users/me")
    assert r.status_code == 401
    assert not any(h.startswith("session=") or "session" in h.split("=")[0]
                   for h in r.headers.getlist("Set-Cookie"))
    r = ada_client.post(f"{API}/auth/login", json={"username": "ada", "password": STRONG_PASSWORD})
    assert r.status_code == 200 and not r.headers.getlist("Set-Cookie")


def test_a_login_starts_a_session_with_nothing_of_the_anonymous_one(app):
    UserFactory(app).create("ada")
    client = app.test_client()
    client.get("/login")
    with client.session_transaction() as s:
        s["planted"] = "by someone else"
    assert submit(client, "/login", {"username": "ada", "password": STRONG_PASSWORD}).status_code == 303
    with client.session_transaction() as s:
        assert "planted" not in s and s.permanent
        assert s["login_at"] == s["seen_at"]


def test_with_websudomode_off_sensitive_pages_open_but_credentials_still_ask(app, ada_client):
    assert app.extensions["keystead.settings"]["Password.WebSudoMode"] is False
    assert ada_client.get("/profile/delete").status_code == 200
    r = submit(ada_client, "/profile/api-keys", {"name": "script"})
    assert r.status_code == 302 and r.headers["Location"].startswith("/sudo")


def test_a_password_account_without_a_password_is_asked_for_sudo_not_waved_through(make_app):
    """Only people with no password here count a fresh login as re-entry; a person with a
    password re-enters it."""
    app = make_app({"Password.WebSudoMode": True})
    UserFactory(app).create("ada")
    client = app.test_client()
    assert submit(client, "/login", {"username": "ada", "password": STRONG_PASSWORD}).status_code == 303
    r = client.get("/profile/delete")
    assert r.status_code == 302 and r.headers["Location"].startswith("/sudo")


@pytest.mark.parametrize("target, expected", [
    (None, "/profile"), ("", "/profile"), (42, "/profile"), ("   ", "/profile"),
    ("/groups?page=2", "/groups?page=2"), ("  /groups  ", "/groups"),
    ("groups", "/profile"), ("//evil.example", "/profile"), ("///evil.example", "/profile"),
    ("/\\evil.example", "/profile"), ("/people?q=ada lovelace", "/people?q=ada lovelace"),
    ("https://evil.example/", "/profile"), ("/\x01x", "/profile"), ("/x\x1fy", "/profile"),
])
def test_next_stays_on_the_site(app, target, expected):
    # In the app's database: an absolute URL is looked up among the registered apps' hosts.
    assert in_db(app, lambda: safe_next(target)) == expected


def test_next_falls_back_to_the_given_default():
    assert safe_next("//evil.example", default="/admin") == "/admin"
    assert safe_next("/people", default="/admin") == "/people"


def test_sudo_sends_to_the_sudo_page_and_back_to_the_page_asked_for(make_app):
    from pages import redirect_to
    app = make_app({"Password.WebSudoMode": True})
    UserFactory(app).create("ada")
    client = app.test_client()
    assert submit(client, "/login", {"username": "ada", "password": STRONG_PASSWORD}).status_code == 303
    assert redirect_to(client.get("/profile/delete?x=1")) == ("/sudo", {"next": "/profile/delete?x=1"})
    assert redirect_to(client.get("/profile/delete")) == ("/sudo", {"next": "/profile/delete"})
    # only the empty query's "?" is dropped, never the end of a real one
    assert redirect_to(client.get("/profile/delete?tab=X")) == ("/sudo", {"next": "/profile/delete?tab=X"})
    r = submit(client, "/profile/api-keys", {"name": "script"})
    assert redirect_to(r) == ("/sudo", {"next": "/profile/api-keys"})
    r = submit(client, "/sudo?next=/profile/delete", {"password": STRONG_PASSWORD})
    assert r.headers["Location"] == "/profile/delete"
    assert client.get("/profile/delete").status_code == 200


def test_the_start_page_of_a_signed_in_person_is_their_profile(ada_client):
    r = ada_client.get("/")
    assert r.status_code in (302, 303) and r.headers["Location"] == "/profile"


def test_the_session_signing_serializer_is_made_once_per_app(app):
    """The documented saving on every request's path (docs/performance.md): one serializer
    per app, not one per request."""
    interface = app.session_interface
    first = interface.get_signing_serializer(app)
    assert first is not None and interface.get_signing_serializer(app) is first


def test_sudo_required_asks_by_the_setting_unless_told_to_always_ask(make_app):
    """The decorator applied when a test runs (the views' decorators ran at import)."""
    from flask_login import login_user
    from keystead.web.session import sudo_required
    for setting, plain_asks in ((False, False), (True, True)):
        app = make_app({"Password.WebSudoMode": setting})
        ada, _ = UserFactory(app).create(f"ada{int(setting)}")  # one database for both apps
        with app.test_request_context("/profile/delete"):
            login_user(in_db(app, lambda: User.get_by_id(ada.id)))
            plain = sudo_required(lambda: "done")()
            always = sudo_required(always_ask=True)(lambda: "done")()
        assert (plain != "done") is plain_asks, setting
        assert plain_asks or plain == "done"
        assert always != "done" and always.status_code == 302
        assert always.headers["Location"].startswith("/sudo?next=")


def test_with_websudomode_off_the_two_factor_page_does_not_say_a_password_is_asked(app, ada_client):
    assert app.extensions["keystead.settings"]["Password.WebSudoMode"] is False
    page = ada_client.get("/profile/two-factor").get_data(as_text=True)
    assert "Set up two-factor authentication" in page
    assert "You will be asked for your password first." not in page


def test_with_websudomode_on_the_two_factor_page_says_a_password_is_asked(make_app):
    app = make_app({"Password.WebSudoMode": True})
    UserFactory(app).create("ada")
    client = app.test_client()
    assert submit(client, "/login", {"username": "ada", "password": STRONG_PASSWORD}).status_code == 303
    assert "You will be asked for your password first." in client.get("/profile/two-factor").get_data(as_text=True)
