"""The API's documentation: openapi.json says how to authenticate (access token or personal
API key), which operations can answer 429 and 502, and names this server's own address;
a refused client reads a sentence, not the limiter's "60 per 1 minute"; docs/api.md lists
every error code the server can give; /api/v1/docs shows the document in a browser, from
Keystead's own origin, under its Content-Security-Policy."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from api_support import API, in_db, users_of
from keystead.apikeys import create_api_key
from keystead.models import User
from keystead.ratelimits import SCOPES
from conftest import csrf_from
from live import browser, live_server, make_live_server, watch_policy_violations  # noqa: F401  (pytest fixtures)
from plugins import failing_provider

ROOT = Path(__file__).resolve().parent.parent
PUBLIC_URL = "https://auth.example.org/keystead"
LOGIN_LIMIT = 60  # "60 per minute" of the login scope (app/ratelimits.py)


def rate_limited_operations() -> set[tuple[str, str]]:
    """(method, path relative to the server) of each API operation a rate limit covers."""
    found = set()
    for _limit, rules in SCOPES.values():
        for entry in rules:
            method, _, rule = entry.rpartition(" ")
            if rule.startswith(API + "/"):
                found.add(((method or "POST").lower(), rule.removeprefix(API)))
    return found


# ---------------------------------------------------------------- openapi.json

def test_openapi_names_this_servers_public_url(make_app):
    """Issue 13 item 14: the one server is <Server.PublicURL>/api/v1, whatever PublicURL
    says (a path prefix included), and a client that joins it with a documented path
    reaches the operation."""
    app = make_app({"Server.PublicURL": PUBLIC_URL})
    doc = app.test_client().get(f"{API}/openapi.json").get_json()
    assert [s["url"] for s in doc["servers"]] == [f"{PUBLIC_URL}/api/v1"]
    server_path = doc["servers"][0]["url"].removeprefix("https://auth.example.org/keystead")
    r = app.test_client().get(server_path + next(p for p in doc["paths"] if p.endswith("/health")))
    assert r.status_code == 200 and r.get_json()["status"] == "ok"


def test_openapi_describes_api_keys_and_a_documented_key_works(make_app):
    """Issue 13 item 14: `Authorization: Key <key>` is a security scheme, offered on every
    operation that takes an access token; and a key sent as the scheme says is accepted."""
    app = make_app()
    client = app.test_client()
    doc = client.get(f"{API}/openapi.json").get_json()
    schemes = doc["components"]["securitySchemes"]
    key_schemes = [name for name, s in schemes.items()
                   if s.get("type") == "apiKey" and s.get("in") == "header" and s.get("name") == "Authorization"]
    assert len(key_schemes) == 1 and "Key <key>" in schemes[key_schemes[0]]["description"]
    bearer_schemes = [name for name, s in schemes.items() if s.get("scheme") == "bearer"]
    for path, item in doc["paths"].items():
        for method, op in item.items():
            security = op.get("security", doc["security"])
            offered = {name for requirement in security for name in requirement}
            if offered:
                assert offered == {*key_schemes, *bearer_schemes}, (method, path, security)
    users_of(app).create("grace")
    _, key = in_db(app, lambda: create_api_key(User.get(User.username == "grace"), "script"))
    r = client.get(f"{API}/users/me", headers={"Authorization": f"Key {key}"})
    assert r.status_code == 200 and r.get_json()["username"] == "grace"


def test_openapi_documents_429_on_every_rate_limited_operation_and_only_there(client):
    """Issue 13 item 14: the operations a rate limit covers document 429 with Retry-After;
    the others do not (the server never gives it there)."""
    doc = client.get(f"{API}/openapi.json").get_json()
    limited = rate_limited_operations()
    assert ("post", "/auth/login") in limited and len(limited) >= 6
    for path, item in doc["paths"].items():
        for method, op in item.items():
            assert ("429" in op["responses"]) == ((method, path) in limited), (method, path)
    ref = doc["paths"]["/auth/login"]["post"]["responses"]["429"]["$ref"]
    response = doc["components"]["responses"][ref.rsplit("/", 1)[1]]
    assert "Retry-After" in response["headers"]


def test_openapi_documents_502_where_a_provider_can_fail_and_login_gives_it(make_app):
    """Issue 13 item 14: logging in asks the person's provider, which may fail: 502
    `provider_error` is documented there, and a failing provider gives exactly that."""
    app = make_app({"Authentication.Provider": ["failing", "password"]}, plugins=[failing_provider])
    client = app.test_client()
    doc = client.get(f"{API}/openapi.json").get_json()
    assert "502" in doc["paths"]["/auth/login"]["post"]["responses"]
    r = client.post(f"{API}/auth/login", json={"username": "ada", "password": "whatever-it-is"})
    assert r.status_code == 502 and r.get_json()["error"]["code"] == "provider_error"


# ---------------------------------------------------------------- the 429 in words

def test_a_refused_api_client_reads_when_to_try_again(make_app):
    """Issue 13 item 14: the 429 is Keystead's error shape with a sentence that says how
    long to wait (the seconds of Retry-After), not Flask-Limiter's "60 per 1 minute"."""
    app = make_app({"Password.LockoutThreshold": 0})
    client = app.test_client()
    for n in range(LOGIN_LIMIT):
        client.post(f"{API}/auth/login", json={"username": f"nobody{n}", "password": "wrong-password"})
    r = client.post(f"{API}/auth/login", json={"username": "nobody", "password": "wrong-password"})
    assert r.status_code == 429
    error = r.get_json()["error"]
    assert error["code"] == "too_many_requests" and error["fields"] == {}
    seconds = int(r.headers["Retry-After"])
    assert re.fullmatch(r"Too many requests from your address; try again in \d+ seconds?\.", error["message"])
    assert abs(int(re.search(r"\d+", error["message"]).group()) - seconds) <= 1
    assert "per 1 minute" not in r.get_data(as_text=True)


def test_a_refused_browser_reads_when_to_try_again(make_app):
    """Issue 13 item 14: the browser's 429 page says the same sentence."""
    app = make_app({"Password.LockoutThreshold": 0})
    client = app.test_client()
    token = csrf_from(client.get("/login").get_data(as_text=True))
    for n in range(LOGIN_LIMIT):
        client.post("/login", data={"username": f"nobody{n}", "password": "wrong", "csrf_token": token})
    r = client.post("/login", data={"username": "nobody", "password": "wrong", "csrf_token": token})
    assert r.status_code == 429
    page = r.get_data(as_text=True)
    assert re.search(r"Too many requests from your address; try again in \d+ seconds?\.", page)
    assert "per 1 minute" not in page


# ---------------------------------------------------------------- docs/api.md's table

def error_codes_of_the_code() -> dict[str, str]:
    """Every error code app/ and providers/ can answer with: `code = "..."` of the service
    errors, `code="..."` given to them, `(status, "code", ...)` calls such as
    error_response and BodyError, and the codes
    of plain HTTP errors (app/api/errors.py). -> code: where it was found."""
    from keystead.api.errors import _HTTP_CODES
    found = {code: "app/api/errors.py _HTTP_CODES" for code in _HTTP_CODES.values()}
    patterns = (r"\bcode\s*=\s*\"([a-z_]+)\"", r"\(\s*\d{3}\s*,\s*\"([a-z_]+)\"",
                r"_HTTP_CODES\.get\([^,]+,\s*\"([a-z_]+)\"\)")
    for folder in ("app", "providers"):
        for file in sorted((ROOT / folder).rglob("*.py")):
            text = file.read_text()
            for pattern in patterns:
                for code in re.findall(pattern, text):
                    found.setdefault(code, str(file.relative_to(ROOT)))
    return found


def documented_error_codes() -> dict[str, set[str]]:
    """docs/api.md's error table: code -> the statuses it is listed with ("404", "4xx")."""
    text = (ROOT / "docs" / "api.md").read_text()
    section = re.search(r"^## Errors\n(.*?)(?=^## )", text, re.S | re.M)
    assert section, "docs/api.md has no '## Errors' section"
    table: dict[str, set[str]] = {}
    for status, codes in re.findall(r"^\| (\d(?:\d\d|xx)) \| ([^|]*) \|", section.group(1), re.M):
        for code in re.findall(r"`([a-z_]+)`", codes):
            table.setdefault(code, set()).add(status)
    return table


def test_every_error_code_the_server_can_give_is_in_the_docs_table():
    """Issue 13 item 14: docs/api.md's table lists each code the code can produce."""
    produced = error_codes_of_the_code()
    for code in ("too_many_requests", "forbidden", "not_found", "method_not_allowed",
                 "unsupported_media_type", "payload_too_large", "content_mismatch", "provider_error"):
        assert code in produced, f"the scan no longer finds {code}"
    table = documented_error_codes()
    missing = [f"{code} ({where})" for code, where in sorted(produced.items()) if code not in table]
    assert not missing, "error codes missing from docs/api.md's table: " + ", ".join(missing)


def test_the_docs_table_gives_the_status_the_server_answers_with(client):
    """Issue 13 item 14: the statuses in the table are those the server really sends."""
    table = documented_error_codes()
    assert "404" in table["not_found"] and client.get(f"{API}/no-such-thing").status_code == 404
    assert "405" in table["method_not_allowed"] and client.put(f"{API}/auth/login").status_code == 405
    r = client.post(f"{API}/auth/login", data="x", content_type="text/plain")
    assert "415" in table["unsupported_media_type"] and r.status_code == 415
    r = client.post(f"{API}/auth/login", data="x" * (1024 * 1024 + 1), content_type="application/json")
    assert "413" in table["payload_too_large"] and r.status_code == 413
    assert "429" in table["too_many_requests"] and "502" in table["provider_error"]
    # Each error class of the code (app is imported whole by the app fixture) with its status.
    from keystead.errors import ServiceError

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)
    wrong = [f"{cls.__module__}.{cls.__name__}: {cls.status} {cls.code} (table: {sorted(table.get(cls.code, ()))})"
             for cls in subclasses(ServiceError)
             if cls.__module__.startswith(("keystead.",)) and str(cls.status) not in table.get(cls.code, ())]
    assert not wrong, "docs/api.md gives another status: " + "; ".join(wrong)


# ---------------------------------------------------------------- /api/v1/docs in a browser

@pytest.mark.browser
def test_the_api_page_shows_the_document_in_chromium_under_the_csp(browser, live_server):  # noqa: F811
    """Issue 13 item 14: /api/v1/docs loads Swagger UI from this server only (no outside
    request, no inline script: no CSP violation) and shows the document's operations."""
    doc = live_server.app.test_client().get(f"{API}/openapi.json").get_json()
    login = doc["paths"]["/auth/login"]["post"]
    page = browser.new_context().new_page()
    page.set_default_timeout(20000)
    violations = watch_policy_violations(page)
    elsewhere = []
    page.on("request", lambda request: elsewhere.append(request.url)
            if not request.url.startswith((live_server.url + "/", "data:")) else None)
    response = page.goto(live_server(f"{API}/docs"))
    assert response.status == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    operation = page.locator(".opblock", has_text="/auth/login").first
    operation.wait_for()
    assert login["summary"] in operation.inner_text()
    assert page.get_by_text("Authorize").first.is_visible()
    assert violations == [] and elsewhere == []
