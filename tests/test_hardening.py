"""What a client can never get out of the server, and what odd requests get (issue 6,
items 4 and 6): no Werkzeug debugger or console, no stack trace in any 500 answer;
duplicate parameters a defined answer; oversized forms and bodies 413, never a 500; the
security headers and no-store on every answer; session cookies that are hardened, never
outlive their session, and die in every copy at logout, password change, lock, role
change and deletion; a new session at web-sudo re-entry."""
from __future__ import annotations

import io
import json
import re
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

import pytest
from api_support import API, assert_error, bearer, in_db, login, users_of
from conftest import STRONG_PASSWORD, csrf_from
from pages import SESSION_COOKIE, submit
from werkzeug.datastructures import MultiDict
from werkzeug.debug import DebuggedApplication

from keystead import accounts

SECRET_DETAIL = "internal-detail-7f3a /srv/keystead/app/secret.py"
TRACE_MARKS = ("Traceback", "RuntimeError", SECRET_DETAIL, 'File "', "werkzeug", "__debugger__")


# ---------------------------------------------------------------- debugger, console, 500s

@pytest.fixture(params=["production", "FLASK_DEBUG=1"])
def exploding_app(request, make_app, monkeypatch):
    """An app as gunicorn serves it (not TESTING), with routes that fail: in production
    mode and with FLASK_DEBUG=1 set by mistake in the server's environment."""
    if request.param == "FLASK_DEBUG=1":
        monkeypatch.setenv("FLASK_DEBUG", "1")
    app = make_app()
    app.config["TESTING"] = False

    def boom():
        raise RuntimeError(SECRET_DETAIL)
    app.add_url_rule("/boom", "boom", boom, methods=["GET", "POST"])
    app.add_url_rule(f"{API}/boom", "api_boom", boom, methods=["GET", "POST"])
    app.add_url_rule("/boom/<int:n>", "boom_n", lambda n: 1 / 0)
    return app


@pytest.mark.parametrize("path", ["/boom", "/boom/0", f"{API}/boom"])
def test_no_500_answer_carries_a_stack_trace(exploding_app, path, caplog):
    r = exploding_app.test_client().get(path, headers={"Accept": "text/html,application/json"})
    assert r.status_code == 500
    body = r.get_data(as_text=True)
    for mark in TRACE_MARKS:
        assert mark not in body, (mark, body)
    if path.startswith(API):
        assert_error(r, 500, "internal_error")
    else:
        assert "Something went wrong" in body and r.mimetype == "text/html"
    # The details went to the log, for the operator.
    assert any(rec.exc_info for rec in caplog.records if "unexpected error" in rec.getMessage())


@pytest.mark.parametrize("path", [
    "/console", "/console?__debugger__=yes&cmd=resource&f=debugger.js",
    "/?__debugger__=yes&cmd=resource&f=debugger.js", "/login?__debugger__=yes&cmd=printpin&s=x",
    "/boom?__debugger__=yes&cmd=resource&f=console.png",
])
def test_the_debugger_and_its_console_are_unreachable(exploding_app, path):
    assert not isinstance(exploding_app.wsgi_app, DebuggedApplication)
    r = exploding_app.test_client().get(path)
    assert r.status_code in (200, 302, 404, 500), r.status_code
    if path.startswith("/console"):
        assert r.status_code == 404
    body = r.get_data(as_text=True)
    assert "Werkzeug" not in body and "debugger" not in body.lower() and "pin" not in body.lower()


def test_wsgi_module_serves_no_debugger_even_with_flask_debug(tmp_path):
    """What gunicorn loads (`wsgi:app`), with FLASK_DEBUG=1 in its environment."""
    import os
    import subprocess
    import sys
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYSTEAD_")}
    env.update(FLASK_DEBUG="1", KEYSTEAD_INSTANCE=str(tmp_path / "inst"), KEYSTEAD_PASSWORD_BCRYPTROUNDS="4")
    code = ("import wsgi; from werkzeug.debug import DebuggedApplication; "
            "c = wsgi.app.test_client(); "
            "print(isinstance(wsgi.app.wsgi_app, DebuggedApplication), c.get('/console').status_code)")
    p = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split()[-2:] == ["False", "404"]


# ---------------------------------------------------------------- duplicate parameters

def _login_form(client, pairs: list[tuple[str, str]]):
    token = csrf_from(client.get("/login").get_data(as_text=True))
    return client.post("/login", data=MultiDict([("csrf_token", token), *pairs]))


def test_a_form_field_sent_twice_counts_once_the_first(client, users):
    users.create("ada")
    r = _login_form(client, [("username", "nobody"), ("username", "ada"),
                             ("password", STRONG_PASSWORD), ("password", STRONG_PASSWORD)])
    assert r.status_code == 401  # the first username, nobody
    r = _login_form(client, [("username", "ada"), ("username", "nobody"),
                             ("password", STRONG_PASSWORD), ("password", "wrong-wrong-wrong")])
    assert r.status_code == 303  # the first of each: ada and her password


def test_a_query_parameter_sent_twice_counts_once_the_first(client, users):
    users.create("admin0", role="administrator")
    users.create("ada")
    token = login(client, "admin0")["access_token"]
    r = client.get(f"{API}/users?page=1&page=2&per_page=1&per_page=500", headers=bearer(token))
    assert r.status_code == 200
    assert (r.get_json()["page"], r.get_json()["per_page"], len(r.get_json()["results"])) == (1, 1, 1)
    r = client.get(f"{API}/users?per_page=500&per_page=1", headers=bearer(token))
    assert_error(r, 422)  # the first, 500, is out of range: refused, not half-read
    r = client.get("/admin/people?page=2&page=x")
    assert r.status_code in (302, 303)  # not signed in on the browser side: a redirect, not a 500


def test_a_json_key_sent_twice_counts_once_the_last(client, users):
    users.create("ada")
    body = '{"username": "nobody", "username": "ada", "password": "%s"}' % STRONG_PASSWORD
    r = client.post(f"{API}/auth/login", data=body, content_type="application/json")
    assert r.status_code == 200  # as JSON parsers read it (RFC 8259 leaves it open): the last
    body = '{"username": "ada", "password": "%s", "password": "wrong-wrong-wrong"}' % STRONG_PASSWORD
    assert_error(client.post(f"{API}/auth/login", data=body, content_type="application/json"), 401)


def test_an_authorization_header_sent_twice_is_refused(client, users):
    """The WSGI server joins repeated headers with a comma (CGI rules), which is no
    credential: 401 in either order, never the valid one half-read."""
    users.create("ada")
    token = login(client, "ada")["access_token"]
    good, bad = ("Authorization", f"Bearer {token}"), ("Authorization", "Bearer not-a-token")
    assert client.get(f"{API}/users/me", headers=[good]).status_code == 200
    for headers in ([good, bad], [bad, good], [good, good]):
        assert_error(client.get(f"{API}/users/me", headers=headers), 401, "invalid_token")


# ---------------------------------------------------------------- form and body limits

def _assert_413_page(r):
    assert r.status_code == 413, (r.status_code, r.get_data(as_text=True)[:300])
    body = r.get_data(as_text=True)
    assert "Traceback" not in body


def test_a_form_with_too_many_parts_is_413(app, client):
    many = [(f"f{i}", "x") for i in range(app.config["MAX_FORM_PARTS"] + 50)]
    _assert_413_page(client.post("/login", data=MultiDict([("username", "ada"), *many])))
    files = MultiDict([(f"f{i}", (io.BytesIO(b"x"), f"{i}.txt")) for i in range(app.config["MAX_FORM_PARTS"] + 50)])
    _assert_413_page(client.post("/login", data=files, content_type="multipart/form-data"))


def test_a_form_field_over_the_memory_limit_is_413(app, client):
    big = "x" * (app.config["MAX_FORM_MEMORY_SIZE"] + 1024)
    _assert_413_page(client.post("/login", data={"username": "ada", "password": big}))
    _assert_413_page(client.post("/register", data={"username": big}, content_type="multipart/form-data"))


def test_a_body_over_the_content_limit_is_413(app, client):
    size = app.config["MAX_CONTENT_LENGTH"] + 1
    _assert_413_page(client.post("/login", data=b"x" * size, content_type="application/x-www-form-urlencoded"))
    r = client.post(f"{API}/auth/login", data=b"{" + b" " * size + b"}", content_type="application/json")
    assert_error(r, 413)


def test_a_json_body_over_1_mb_is_413_whatever_the_route(client):
    body = json.dumps({"username": "ada", "password": "x" * (1024 * 1024)})
    assert_error(client.post(f"{API}/auth/register", data=body, content_type="application/json"), 413)


# ---------------------------------------------------------------- headers and session cookies

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin",
    "Cache-Control": "no-store",
}


def test_every_answer_but_static_files_has_the_security_headers_and_no_store(client, users):
    users.create("ada")
    answers = {
        "page": client.get("/login"),
        "redirect": client.get("/profile"),
        "404 page": client.get("/no-such-page"),
        "api": client.get(f"{API}/health"),
        "api error": client.get(f"{API}/users/me"),
        "api login": client.post(f"{API}/auth/login", json={"username": "ada", "password": STRONG_PASSWORD}),
    }
    for what, r in answers.items():
        for name, value in SECURITY_HEADERS.items():
            assert r.headers.get(name) == value, (what, name, r.headers.get(name))
        csp = r.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp, what
        assert "Cookie" in r.headers.get("Vary", ""), what
        assert "Strict-Transport-Security" not in r.headers, what  # http: no HSTS
    static = client.get("/static/style.css")
    assert static.status_code == 200 and "no-store" not in static.headers.get("Cache-Control", "")


def _session_set_cookie(response) -> str:
    cookies = response.headers.getlist("Set-Cookie")
    assert len(cookies) == 1, cookies  # the session and nothing else: no remember-me cookie
    return cookies[0]


def test_the_session_cookie_on_https(make_app):
    app = make_app({"Server.PublicURL": "https://auth.example.com"})
    users_of(app).create("ada")
    client = app.test_client()
    page = client.get("/login", base_url="https://auth.example.com")
    assert page.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    r = client.post("/login", base_url="https://auth.example.com",
                    headers={"Referer": "https://auth.example.com/login"},
                    data={"csrf_token": csrf_from(page.get_data(as_text=True)), "username": "ada",
                          "password": STRONG_PASSWORD})
    assert r.status_code == 303
    cookie = _session_set_cookie(r)
    attributes = {a.strip().split("=")[0].lower() for a in cookie.split(";")[1:]}
    assert cookie.startswith("__Host-keystead=")
    assert {"secure", "httponly", "samesite", "path"} <= attributes and "domain" not in attributes
    assert "SameSite=Lax" in cookie and "Path=/" in cookie


def test_a_login_sets_only_a_session_cookie_living_no_longer_than_the_session(make_app):
    app = make_app({"Authentication.Lifetime": "24h"})
    users_of(app).create("ada")
    client = app.test_client()
    r = _login_form(client, [("username", "ada"), ("password", STRONG_PASSWORD), ("remember", "y")])
    assert r.status_code == 303
    cookie = _session_set_cookie(r)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie  # http
    expires = parsedate_to_datetime(re.search(r"Expires=([^;]+)", cookie).group(1))
    left = (expires - datetime.now(timezone.utc)).total_seconds()
    assert 0 < left <= 24 * 3600 + 60  # never the 30 days a remember-me cookie may live


@pytest.mark.parametrize("event", ["logout", "password change", "lock", "role change", "deletion"])
def test_every_copy_of_a_session_cookie_ends_with(app, client, users, event):
    """A copy taken while signed in (as a thief would keep it) stops working at once."""
    users.create("admin0", role="administrator")
    ada = users.create("ada")[0]
    assert _login_form(client, [("username", "ada"), ("password", STRONG_PASSWORD)]).status_code == 303
    stolen = client.get_cookie(SESSION_COOKIE).value
    thief = app.test_client()
    thief.set_cookie(SESSION_COOKIE, stolen)
    assert thief.get("/profile").status_code == 200

    if event == "logout":
        token = csrf_from(client.get("/profile").get_data(as_text=True))
        assert client.post("/logout", data={"csrf_token": token}).status_code == 303
    elif event == "password change":
        in_db(app, lambda: accounts.set_password(ada, "a-brand-new-passphrase-7", event="password_change"))
    elif event == "lock":
        in_db(app, lambda: accounts.set_locked(ada, True))
    elif event == "role change":
        in_db(app, lambda: accounts.set_role(ada, "publisher"))
    else:
        in_db(app, lambda: accounts.delete_user(ada))
    r = thief.get("/profile")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")


def test_sudo_re_entry_starts_a_new_session(make_app):
    app = make_app({"Password.WebSudoMode": True})
    users_of(app).create("ada")
    client = app.test_client()
    assert _login_form(client, [("username", "ada"), ("password", STRONG_PASSWORD)]).status_code == 303
    with client.session_transaction() as s:
        s["planted"] = "by an attacker"
    before = csrf_from(client.get("/profile").get_data(as_text=True))
    assert submit(client, "/sudo", {"password": STRONG_PASSWORD}).status_code == 303
    with client.session_transaction() as s:
        assert "planted" not in s and "sudo_until" in s
    r = client.post("/profile", data={"csrf_token": before, "first_name": "X", "email": "ada@example.com"})
    assert r.status_code == 400  # the CSRF secret of the session before re-entry is gone
