"""Bad input at every JSON endpoint: wrong content types, bodies that do not parse, are
not objects or are too large, and fields of the wrong type, with NUL bytes, lone
surrogates or huge strings. Every answer is a 4xx in the one error shape, never a 5xx."""
from __future__ import annotations

import json

import pytest

from api_support import API, assert_error, bearer, fresh_objects, in_db, path_values, reads_a_body, users_of
from keystead.models import User
from keystead.tokens import issue_token_pair
from conftest import STRONG_PASSWORD

# (method, path, its fields, needs a token, reads only a token field)
ENDPOINTS = [
    ("POST", "/auth/register", ("username", "email", "password", "first_name", "last_name"), False),
    ("POST", "/auth/login", ("username", "email", "password"), False),
    ("POST", "/auth/refresh", ("refresh_token",), False),
    ("POST", "/auth/verify-email", ("token",), False),
    ("POST", "/auth/resend-verification", ("email",), False),
    ("POST", "/auth/request-password-reset", ("email",), False),
    ("POST", "/auth/reset-password", ("token", "new_password"), False),
    ("PATCH", "/users/me", ("email", "first_name", "last_name", "current_password"), True),
    ("POST", "/users/me/password", ("current_password", "new_password"), True),
    ("DELETE", "/users/me", ("password",), True),
]
# Endpoints whose only field is a token: a bad string is a bad token (401 / 400 invalid_link),
# except NUL characters and lone surrogates, refused (422) in every field.
TOKEN_ONLY = {"/auth/refresh": 401, "/auth/verify-email": 400}

JSON = "application/json"
MB = 1024 * 1024

# Bodies wrong as a whole: (id, request keyword arguments, expected status)
BAD_BODIES = [
    ("text-plain", {"data": b'{"a": "b"}', "content_type": "text/plain"}, 415),
    ("form-encoded", {"data": {"username": "ada", "password": "x"}}, 415),
    ("multipart", {"data": {"username": "ada"}, "content_type": "multipart/form-data"}, 415),
    ("no-content-type", {"data": b'{"a": "b"}'}, 415),
    ("xml", {"data": b"<a/>", "content_type": "application/xml"}, 415),
    ("empty", {"data": b"", "content_type": JSON}, 400),
    ("truncated", {"data": b'{"username": ', "content_type": JSON}, 400),
    ("invalid-utf8", {"data": b'{"username": "\xff\xfe\xc3"}', "content_type": JSON}, 400),
    ("utf16", {"data": '{"username": "ada"}'.encode("utf-16"), "content_type": JSON}, 400),
    ("array", {"data": b'["username", "password"]', "content_type": JSON}, 400),
    ("string", {"data": b'"username"', "content_type": JSON}, 400),
    ("number", {"data": b"42", "content_type": JSON}, 400),
    ("null", {"data": b"null", "content_type": JSON}, 400),
    ("nan", {"data": b"NaN", "content_type": JSON}, 400),
    ("deeply-nested", {"data": b"[" * 200_000 + b"]" * 200_000, "content_type": JSON}, 400),
    ("deeply-nested-object", {"data": b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
                              "content_type": JSON}, None),  # parses or not: 400 or 422, never 5xx
    ("huge-integer", {"data": b'{"username": ' + b"9" * 5000 + b"}", "content_type": JSON}, 400),
    ("over-1mb", {"data": json.dumps({"username": "a" * (MB + 10)}).encode(), "content_type": JSON}, 413),
    ("over-the-upload-limit", {"data": b" " * (11 * MB), "content_type": JSON}, 413),
]


def _field_bodies(names):
    """Objects with every field wrong the same way: (id, raw JSON bytes)."""
    yield "numbers", {n: 123 for n in names}
    yield "lists", {n: ["a", "b"] for n in names}
    yield "objects", {n: {"$gt": ""} for n in names}
    yield "booleans", {n: True for n in names}
    yield "nul-bytes", {n: "ab\x00cd@example.com" for n in names}
    yield "huge-strings", {n: "a" * 20_000 for n in names}
    yield "lone-surrogates", "{" + ", ".join(f'"{n}": "a\\ud800b"' for n in names) + "}"
    yield "control-and-bidi", {n: "\u202eadmin\u0007\r\n" for n in names}


FIELD_CASES = ["numbers", "lists", "objects", "booleans", "nul-bytes", "huge-strings",
               "lone-surrogates", "control-and-bidi"]


@pytest.fixture
def caller(app, users):
    """A signed-in person (and the administrator the first account would be)."""
    users.create("boss", role="administrator")
    user = users.create("ada", email="ada@example.com")[0]
    return user, in_db(app, lambda: issue_token_pair(user))["access_token"]


def _call(client, method, path, token, **kw):
    headers = bearer(token) if token else {}
    return client.open(API + path, method=method, headers=headers, **kw)


def _assert_refused(r, expected):
    assert r.status_code < 500, (r.status_code, r.get_data(as_text=True)[:300])
    if expected is not None:
        assert_error(r, expected)
    else:
        assert_error(r, r.status_code)
        assert r.status_code in (400, 422)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[f"{m} {p}" for m, p, _, _ in ENDPOINTS])
@pytest.mark.parametrize("case,kwargs,expected", BAD_BODIES, ids=[b[0] for b in BAD_BODIES])
def test_bad_bodies_are_refused_with_the_error_shape(client, caller, endpoint, case, kwargs, expected):
    method, path, _, needs_token = endpoint
    r = _call(client, method, path, caller[1] if needs_token else None, **kwargs)
    _assert_refused(r, expected)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[f"{m} {p}" for m, p, _, _ in ENDPOINTS])
@pytest.mark.parametrize("case", FIELD_CASES)
def test_bad_fields_are_422_with_a_field_map(app, client, caller, endpoint, case):
    method, path, names, needs_token = endpoint
    body = dict(_field_bodies(names))[case]
    data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    r = _call(client, method, path, caller[1] if needs_token else None, data=data, content_type=JSON)
    assert r.status_code < 500, (r.status_code, r.get_data(as_text=True)[:300])
    expected = 422
    if path in TOKEN_ONLY and case in ("huge-strings", "control-and-bidi"):
        expected = TOKEN_ONLY[path]  # a string, but no token
    elif path == "/auth/resend-verification" or path == "/auth/request-password-reset":
        if case == "control-and-bidi":
            expected = 202  # any string is accepted and answered alike
    elif path == "/auth/login" and case == "control-and-bidi":
        expected = 401  # a name that is nobody's
    elif path == "/auth/reset-password" and case == "control-and-bidi":
        expected = 400  # strings, but no link token
    if expected == 202:
        assert r.status_code == 202
    else:
        e = assert_error(r, expected)
        if expected == 422:
            assert e["fields"] and set(e["fields"]) <= set(names), e
    # Nothing about the caller changed.
    user = in_db(app, lambda: User.get_by_id(caller[0].id))
    assert (user.email, user.first_name, user.role, user.locked) == ("ada@example.com", "", "viewer", False)


def test_a_missing_body_is_the_same_as_a_missing_content_type(client, caller):
    assert_error(client.post(f"{API}/auth/login"), 415, "unsupported_media_type")


def test_json_with_a_charset_and_a_json_suffix_type_is_read(client, caller):
    body = json.dumps({"username": "ada", "password": STRONG_PASSWORD}).encode()
    for ctype in ("application/json; charset=utf-8", "application/vnd.api+json"):
        r = client.post(f"{API}/auth/login", data=body, content_type=ctype)
        assert r.status_code == 200, ctype


def test_an_empty_patch_changes_nothing(client, caller):
    r = client.patch(f"{API}/users/me", headers=bearer(caller[1]), json={})
    assert r.status_code == 200 and r.get_json()["email"] == "ada@example.com"


# ---------------------------------------------------------------- every write route of the API

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
WHOLE_BODY_CASES = [b for b in BAD_BODIES if b[0] in (
    "text-plain", "form-encoded", "empty", "invalid-utf8", "array", "null", "deeply-nested",
    "huge-integer", "over-1mb")]


@pytest.mark.parametrize("case,kwargs,expected", WHOLE_BODY_CASES, ids=[b[0] for b in WHOLE_BODY_CASES])
def test_no_write_route_of_the_api_answers_a_bad_body_with_a_5xx(make_app, case, kwargs, expected):
    """Every POST/PUT/PATCH/DELETE under /api/v1, the administrators' too, called by an
    administrator with each bad body, each route on its own fresh objects and with its own
    token: a route that reads a body answers exactly the body's error (so the body was
    read, not refused earlier for a missing object); the others some 4xx or a success,
    never a 5xx, and errors in the one shape."""
    app = make_app()
    admin = users_of(app).create("boss", role="administrator")[0]
    client = app.test_client()
    routes = sorted(((rule, method) for rule in app.url_map.iter_rules() if rule.rule.startswith(API)
                     for method in rule.methods & WRITE_METHODS),
                    key=lambda rm: (rm[0].rule, rm[1]))
    assert len(routes) >= 10
    body_routes = 0
    for rule, method in routes:
        objects = fresh_objects(app, admin, rule)
        token = in_db(app, lambda: issue_token_pair(User.get_by_id(admin.id)))["access_token"]
        path = rule.build(path_values(rule, objects), append_unknown=False)[1] if rule.arguments else rule.rule
        r = client.open(path, method=method, headers=bearer(token), **kwargs)
        where = (method, path, r.status_code, r.get_data(as_text=True)[:300])
        assert r.status_code < 500, where
        if reads_a_body(app, rule, method):
            body_routes += 1
            assert r.status_code == expected, where
            assert_error(r, expected)
        elif r.status_code >= 400:
            assert_error(r, r.status_code)
    assert body_routes >= 10
