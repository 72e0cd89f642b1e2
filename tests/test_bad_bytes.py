"""Issue 17 item 1: NUL characters and lone surrogates are refused at the boundary, before
anything reaches the database, on the database of the run (PostgreSQL refuses a NUL in
text, so there a NUL that got through answered 500): in every JSON field of every API route
(422 naming the field), in the query string and the header values of every route (400: the
API's error shape, an error page in the browser), in a path segment (404), and in every
browser form (a message beside the field). Issue 14: unknown JSON fields are refused with
422 naming them, on every API route that takes a body.

The routes come from Flask's url_map, so a new route is swept too; the tables below say
what each browser form and each API route without a body is, and a test fails when a route
is in none of them."""
from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

import pytest

from api_support import API, assert_error, bearer, fresh_objects, in_db, path_values, users_of
from conftest import STRONG_PASSWORD, TEST_SETTINGS, csrf_from
from keystead import create_app
from keystead.models import User
from keystead.openid_provider.paths import CLIENT_PATHS
from keystead.tokens import issue_token_pair
from pages import error_beside

NUL_MESSAGE = "Must not contain NUL characters."
SURROGATE_MESSAGE = "Must be valid Unicode text."
SKIPPED_METHODS = {"HEAD", "OPTIONS"}


def _routes_of_a_fresh_app():
    """(rule, method) of every route, from an app made for collection only (SQLite)."""
    folder = Path(tempfile.mkdtemp())
    app = create_app({**TEST_SETTINGS, "Server.DatabaseURL": f"sqlite:///{folder / 'k.db'}"},
                     instance_path=str(folder / "instance"))
    routes = sorted(((rule.rule, method) for rule in app.url_map.iter_rules()
                     for method in rule.methods - SKIPPED_METHODS))
    document = app.test_client().get(f"{API}/openapi.json").get_json()
    app.extensions["keystead.db"].close()
    shutil.rmtree(folder, ignore_errors=True)
    return routes, document


ROUTES, OPENAPI = _routes_of_a_fresh_app()
API_WRITES = [(r, m) for r, m in ROUTES if r.startswith(API) and m in ("POST", "PUT", "PATCH", "DELETE")]


def _operation(rule: str, method: str) -> dict:
    """The OpenAPI operation of a route (the document's paths are relative to /api/v1)."""
    return OPENAPI["paths"][re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule[len(API):])][method.lower()]


def _has_body(rule: str, method: str) -> bool:
    return "requestBody" in _operation(rule, method)


BODY_ROUTES = [(r, m) for r, m in API_WRITES if _has_body(r, m)]

# API write routes that read no body: a NUL or an unknown key has nothing to land in.
API_WITHOUT_BODY = {
    ("/api/v1/auth/logout", "POST"),
    ("/api/v1/apps/<int:id>", "DELETE"),
    ("/api/v1/documents/<int:id>", "DELETE"),
    ("/api/v1/documents/<int:id>/groups/<int:group_id>", "PUT"),
    ("/api/v1/documents/<int:id>/groups/<int:group_id>", "DELETE"),
    ("/api/v1/groups/<int:id>", "DELETE"),
    ("/api/v1/groups/<int:id>/members/<int:user_id>", "PUT"),
    ("/api/v1/groups/<int:id>/members/<int:user_id>", "DELETE"),
    ("/api/v1/invitations/<int:id>", "DELETE"),
    ("/api/v1/users/<int:id>", "DELETE"),
    ("/api/v1/users/<int:id>/api-keys/<key_id>", "DELETE"),
    ("/api/v1/users/<int:id>/approve", "POST"),
    ("/api/v1/users/<int:id>/reject", "POST"),
    ("/api/v1/users/<int:id>/reset-link", "POST"),
    ("/api/v1/users/<int:id>/totp", "DELETE"),
    ("/api/v1/users/<int:id>/verification-link", "POST"),
    ("/api/v1/users/me/api-keys/<key_id>", "DELETE"),
}


def test_every_api_write_route_either_reads_a_documented_body_or_is_listed_without_one():
    without = {(r, m) for r, m in API_WRITES if (r, m) not in BODY_ROUTES}
    assert without == API_WITHOUT_BODY, (
        "an API write route is new or changed: document its body in the OpenAPI document, "
        "or list it in API_WITHOUT_BODY")


def _request_schema(rule: str, method: str) -> dict:
    schema = _operation(rule, method)["requestBody"]["content"]["application/json"]["schema"]
    if "$ref" in schema:
        schema = OPENAPI["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _string_fields(rule: str, method: str) -> list[str]:
    properties = _request_schema(rule, method).get("properties", {})
    return sorted(name for name, p in properties.items()
                  if p.get("type") == "string" or "string" in (p.get("type") or []))


@pytest.fixture
def admin_app(make_app):
    app = make_app()
    app.admin = users_of(app).create("boss", role="administrator")[0]
    return app


def _call_as_admin(app, rule_text: str, method: str, **kwargs):
    """The route on objects of its own, with a new token of the administrator."""
    rule = next(r for r in app.url_map.iter_rules() if r.rule == rule_text and method in r.methods)
    objects = fresh_objects(app, app.admin, rule)
    path = rule.build(path_values(rule, objects), append_unknown=False)[1] if rule.arguments else rule.rule
    token = in_db(app, lambda: issue_token_pair(User.get_by_id(app.admin.id)))["access_token"]
    return app.test_client().open(path, method=method, headers=bearer(token), **kwargs)


# ---------------------------------------------------------------- unknown JSON fields (issue 14)

@pytest.mark.parametrize("rule,method", BODY_ROUTES, ids=[f"{m} {r}" for r, m in BODY_ROUTES])
def test_an_unknown_json_field_is_refused_with_422_naming_it(admin_app, rule, method):
    r = _call_as_admin(admin_app, rule, method, json={"bio": "hello", "mass_assigned": True})
    e = assert_error(r, 422, "validation_failed")
    assert e["fields"]["bio"] == "Unknown field." and e["fields"]["mass_assigned"] == "Unknown field.", e
    assert "bio" in e["message"] and "mass_assigned" in e["message"]


def test_the_declared_fields_are_not_unknown(admin_app):
    """The OpenAPI document's properties of each body are what the route accepts: sending
    each one (with a value of the wrong type) never answers "Unknown field." for it."""
    for rule, method in BODY_ROUTES:
        properties = _request_schema(rule, method).get("properties", {})
        r = _call_as_admin(admin_app, rule, method, json={name: [] for name in properties})
        assert r.status_code < 500, (method, rule, r.get_data(as_text=True)[:300])
        if r.status_code >= 400:
            fields = assert_error(r, r.status_code)["fields"]
            assert "Unknown field." not in fields.values(), (method, rule, fields)


# ---------------------------------------------------------------- JSON string fields

@pytest.mark.parametrize("rule,method", BODY_ROUTES, ids=[f"{m} {r}" for r, m in BODY_ROUTES])
def test_nul_and_lone_surrogates_in_json_fields_are_422_naming_each_field(admin_app, rule, method):
    names = _string_fields(rule, method)
    assert names, f"{method} {rule} has no string field to try"
    r = _call_as_admin(admin_app, rule, method, json={name: "ab\x00cd" for name in names})
    e = assert_error(r, 422, "validation_failed")
    assert e["fields"] == {name: NUL_MESSAGE for name in names}, e
    raw = "{" + ", ".join(f'"{name}": "a\\ud800b"' for name in names) + "}"
    r = _call_as_admin(admin_app, rule, method, data=raw.encode(), content_type="application/json")
    e = assert_error(r, 422, "validation_failed")
    assert e["fields"] == {name: SURROGATE_MESSAGE for name in names}, e


# ---------------------------------------------------------------- query strings, headers, paths

def _any_path(app, rule_text: str) -> str:
    """The rule's path with 1 for each variable: the check runs before the view."""
    rule = next(r for r in app.url_map.iter_rules() if r.rule == rule_text)
    values = {name: 1 for name in rule.arguments}
    return rule.build(values, append_unknown=False)[1] if rule.arguments else rule.rule


def _assert_bad_request(r, where, status=400):
    assert r.status_code == status, (where, r.status_code, r.get_data(as_text=True)[:300])
    if where[1].startswith(API):
        return assert_error(r, status)
    assert r.mimetype == "text/html"
    return None


@pytest.mark.parametrize("value", ["a%00b", "%00"], ids=["nul-inside", "nul-alone"])
def test_a_nul_in_the_query_string_of_every_route_is_400(app, value):
    client = app.test_client()
    for rule, method in ROUTES:
        path = _any_path(app, rule)
        r = client.open(f"{path}?q={value}&next={value}", method=method)
        e = _assert_bad_request(r, (method, path))
        if e is not None:
            assert e["code"] == "bad_request" and set(e["fields"]) == {"q", "next"}, e
            assert e["fields"]["q"] == NUL_MESSAGE


def test_a_nul_in_a_query_parameters_name_is_400_and_not_echoed(client):
    e = assert_error(client.get(f"{API}/health?a%00b=1"), 400, "bad_request")
    assert list(e["fields"].values()) == [NUL_MESSAGE] and "\x00" not in e["message"]
    r = client.get("/login?a%00b=1")
    assert r.status_code == 400 and "\x00" not in r.get_data(as_text=True)


@pytest.mark.parametrize("header,value", [("X-Anything", "a\x00b"), ("Authorization", "Bearer \x00"),
                                          ("Accept-Language", "en\x00"), ("X-Anything", "a\ud800b")],
                         ids=["custom-nul", "authorization-nul", "accept-language-nul", "custom-surrogate"])
def test_a_bad_header_value_on_every_route_is_400(app, header, value):
    client = app.test_client()
    for rule, method in ROUTES:
        path = _any_path(app, rule)
        r = client.open(path, method=method, headers={header: value})
        e = _assert_bad_request(r, (method, path))
        if e is not None:
            assert set(e["fields"]) == {header}, e


def test_a_nul_in_every_path_segment_is_404_never_500(admin_app):
    """Each variable part of every route (tokens, key ids, file names...) with %00 in it."""
    client = admin_app.test_client()
    token = in_db(admin_app, lambda: issue_token_pair(User.get_by_id(admin_app.admin.id)))["access_token"]
    tried = 0
    for rule_text, method in ROUTES:
        rule = next(r for r in admin_app.url_map.iter_rules() if r.rule == rule_text)
        for name in rule.arguments:
            path = re.sub(rf"<(?:[^:<>]+:)?{name}>", "a%00b", rule_text)
            path = re.sub(r"<[^<>]+>", "1", path)
            r = client.open(path, method=method, headers=bearer(token))
            assert r.status_code == 404, (method, path, r.status_code, r.get_data(as_text=True)[:200])
            tried += 1
    assert tried >= 20


# ---------------------------------------------------------------- uploads

@pytest.fixture
def publisher_h(client, users):
    """API headers of a publisher, "pia" (viewers may not upload: documents.create)."""
    from api_support import login
    users.create("pia", role="publisher")
    return bearer(login(client, "pia")["access_token"])


def test_a_multipart_upload_with_a_nul_in_its_title_or_file_name(client, publisher_h):
    """The title is a field (422 naming it); the file name is cleaned, as documented."""
    from io import BytesIO
    r = client.post(f"{API}/documents", headers=publisher_h, content_type="multipart/form-data",
                    data={"file": (BytesIO(b"Some notes."), "notes.txt"), "title": "a\x00b"})
    e = assert_error(r, 422)
    assert set(e["fields"]) == {"title"}
    r = client.post(f"{API}/documents", headers=publisher_h, content_type="multipart/form-data",
                    data={"file": (BytesIO(b"Some notes."), "no\x00tes.txt")})
    assert r.status_code == 201, r.get_data(as_text=True)
    assert r.get_json()["filename"] == "notes.txt"


def test_uploaded_text_with_nul_bytes_is_not_stored_with_them(client, publisher_h):
    """A file whose bytes hold NULs is not text (refused, nothing stored); a JSON upload's
    `content` with one is a field error."""
    from io import BytesIO
    r = client.post(f"{API}/documents", headers=publisher_h, content_type="multipart/form-data",
                    data={"file": (BytesIO(b"Some\x00notes."), "notes.txt")})
    assert 400 <= r.status_code < 500 and r.status_code != 403
    assert_error(r, r.status_code)
    r = client.post(f"{API}/documents", headers=publisher_h, content_type="multipart/form-data",
                    data={"file": (BytesIO(b"<p>Some\x00notes.</p>"), "notes.html")})
    assert 400 <= r.status_code < 500 and r.status_code != 403
    assert_error(r, r.status_code)
    r = client.post(f"{API}/documents", headers=publisher_h,
                    json={"title": "Notes", "content": "Some\x00notes."})
    assert assert_error(r, 422)["fields"] == {"content": NUL_MESSAGE}
    assert client.get(f"{API}/documents", headers=publisher_h).get_json()["total"] == 0


# ---------------------------------------------------------------- browser forms

# Every browser route that takes a POST: the page its form is on (None: the route's own
# path), and the text fields it reads. Routes with no text field (a button: CSRF only) are
# posted with a NUL in an extra field and must simply not fail.
FORMS = {
    "/login": ("anonymous", None, ("username", "password")),
    "/register": ("anonymous", None, ("username", "email", "first_name", "last_name", "password",
                                      "password_confirm")),
    "/reset-password": ("anonymous", None, ("email",)),
    "/reset-password/<token>": ("reset-link", None, ("new_password", "new_password_confirm")),
    "/confirm/<token>": ("confirmation-link", None, ("new_password", "new_password_confirm")),
    "/verify-email": ("anonymous", None, ("email",)),
    "/login/two-factor": ("second-step", None, ("code",)),
    "/sudo": ("admin", None, ("password",)),
    "/logout": ("admin", "/profile", ()),
    "/profile": ("admin", None, ("first_name", "last_name", "email")),
    "/profile/password": ("admin", "/profile", ("current_password", "new_password", "new_password_confirm")),
    "/profile/delete": ("admin", "/profile", ("password",)),
    "/profile/api-keys": ("admin-sudo", None, ("name",)),
    "/profile/api-keys/<int:key_id>/revoke": ("admin", "/profile/api-keys", ()),
    "/profile/two-factor/setup": ("admin-totp-setup", None, ("code",)),
    "/profile/two-factor/disable": ("admin-totp", None, ("code",)),
    "/admin/people/new": ("admin", None, ("username", "email", "first_name", "last_name", "password")),
    "/admin/people/<int:user_id>/details": ("admin", "/admin/people/<int:user_id>", ("first_name", "last_name", "email")),
    "/admin/people/<int:user_id>/role": ("admin", "/admin/people/<int:user_id>", ("role",)),
    "/admin/people/<int:user_id>/delete": ("admin", None, ("transfer_to",)),
    "/admin/people/<int:user_id>/lock": ("admin", "/admin/people/<int:user_id>", ()),
    "/admin/people/<int:user_id>/unlock": ("admin", "/admin/people/<int:user_id>", ()),
    "/admin/people/<int:user_id>/mark-verified": ("admin", "/admin/people/<int:user_id>", ()),
    "/admin/people/<int:user_id>/reset-link": ("admin", "/admin/people/<int:user_id>", ()),
    "/admin/people/<int:user_id>/verification-link": ("admin", "/admin/people/<int:user_id>", ()),
    "/admin/people/<int:user_id>/confirmation": ("admin", "/admin/people/<int:user_id>", ()),
    "/admin/people/<int:user_id>/two-factor": ("admin", "/admin/people/<int:user_id>", ()),
    "/admin/people/<int:user_id>/api-keys/<int:key_id>/revoke": ("admin", "/admin/people/<int:user_id>", ()),
    "/admin/groups/new": ("admin", "/admin/groups", ("name",)),
    "/admin/apps/new": ("admin", "/admin/apps", ("name", "icon", "launch_url", "hosts", "redirect_uris",
                                                 "allowed_groups", "allowed_users")),
    "/admin/apps/<int:app_id>": ("admin", None, ("name", "icon", "launch_url", "hosts", "redirect_uris",
                                                 "allowed_groups", "allowed_users")),
    "/admin/apps/<int:app_id>/secret": ("admin", "/admin/apps/<int:app_id>", ()),
    "/admin/apps/<int:app_id>/delete": ("admin", None, ()),
    "/admin/groups/<int:group_id>/rename": ("admin", "/admin/groups/<int:group_id>", ("name",)),
    "/admin/groups/<int:group_id>/delete": ("admin", None, ()),
    "/admin/groups/<int:group_id>/members": ("admin", "/admin/groups/<int:group_id>", ("member",)),
    "/admin/groups/<int:group_id>/members/<int:user_id>/remove": ("admin", "/admin/groups/<int:group_id>", ()),
    "/documents": ("admin", None, ("title",)),
    "/documents/<int:id>/delete": ("admin", "/documents/<int:id>", ()),
    # A choice of group: any value not among the choices is a bad request (400 page).
    "/documents/<int:id>/share": ("admin", "/documents/<int:id>", ("group",)),
    "/documents/<int:id>/unshare/<int:group_id>": ("admin", "/documents/<int:id>", ()),
    "/admin/approvals/<int:user_id>/approve": ("admin", "/admin/approvals", ()),
    "/admin/approvals/<int:user_id>/reject": ("admin", "/admin/approvals", ()),
    # Boxes to tick: the message is shown beside them.
    "/admin/groups/<int:group_id>/roles": ("admin", "/admin/groups/<int:group_id>", ("roles",)),
    "/admin/invitations/new": ("admin", "/admin/invitations", ("email", "role", "groups")),
    "/admin/invitations/<int:invitation_id>/revoke": ("admin", "/admin/invitations", ()),
    "/admin/people/<int:user_id>/fields": ("admin", None, ("field_nickname",)),
    "/profile/fields": ("admin", None, ("field_nickname",)),
    "/invite/<token>": ("invitation-link", None, ("username", "first_name", "last_name", "password",
                                                  "password_confirm")),
    "/login/terms": ("terms-step", None, ("accept_terms",)),
    # The OpenID Provider: the consent page (an app that asks), RP-initiated logout's
    # confirmation, and taking a consent back.
    "/oidc/authorize": ("admin", None, ()),
    "/oidc/logout": ("admin", None, ()),
    "/profile/connected-apps/<int:app_id>/revoke": ("admin", "/profile/connected-apps", ()),
    # The identity provider's POST (tests/test_saml.py); 404 while SAML is not active.
    "/auth/saml/acs": ("anonymous", "/login", ()),
}
# The app of the form tests: a text profile field (for the profile field forms) and terms
# of service (accepted by the administrator and ada, not by tess: her login asks for them).
FORM_SETTINGS = {
    "Profile.Fields": [{"name": "nickname", "label": "Nickname", "type": "text"}],
    "Password.TermsURL": "https://example.com/terms", "Password.TermsVersion": "1",
}
# Forms that answer any bad value with a 400 page rather than re-render.
PAGE_NOT_FIELD = {"/documents/<int:id>/share"}
# The OpenID Provider's client endpoints take client credentials, never a form.
BROWSER_POSTS = sorted(r for r, m in ROUTES if m == "POST" and not r.startswith(API) and r not in CLIENT_PATHS)


def test_every_browser_form_is_in_the_table():
    assert sorted(FORMS) == BROWSER_POSTS, "a browser form is new or gone: add it to FORMS"


class FormWorld:
    """An administrator, a person with a group, an API key and a document, a sign-up waiting
    for approval, an open invitation, a person yet to accept the terms, and the links the
    link pages need; each form test gets its own."""

    def __init__(self, app):
        from keystead import recovery
        from keystead.apikeys import create_api_key
        from keystead.documents.service import create_text_document
        from keystead.models import Group, Membership
        from keystead.signup import invitations
        self.app = app
        admin = app.admin
        self.person = users_of(app).create("ada")[0]
        self.pending = users_of(app).create("pat")[0]
        users_of(app).create("tess")

        def settle():
            User.update(status="pending").where(User.id == self.pending.id).execute()
            User.update(terms_accepted_version="1").where(User.id.in_([admin.id, self.person.id])).execute()
            User.update(terms_accepted_version=None).where(User.username == "tess").execute()
        in_db(app, settle)

        def make():
            group = Group.create(name="team", name_key="team")
            Membership.create(user=self.person.id, group=group.id)
            Membership.create(user=admin.id, group=group.id)
            key = create_api_key(User.get_by_id(self.person.id), "theirs")[0]
            own_key = create_api_key(User.get_by_id(admin.id), "mine")[0]
            document = create_text_document(User.get_by_id(admin.id), "Notes", "Some text.")
            return group, key, own_key, document
        self.group, self.key, self.own_key, self.document = in_db(app, make)
        # One app serves both the admin pages' forms and the OpenID Provider's (consent,
        # taking a consent back).
        from oidc_provider_support import authorize_path, make_oidc_app
        self.oidc_app, client_id, _ = make_oidc_app(app, "Nextcloud", consent=True)
        self.authorize_path = authorize_path(client_id)
        with app.test_request_context():
            with app.extensions["keystead.db"].connection_context():
                self.reset_url = recovery.send_reset_email(User.get_by_id(self.person.id))[0]
                _, self.confirmation_url, _ = recovery.create_person("newcomer", "new@example.com", None,
                                                                     actor=User.get_by_id(admin.id))
                self.invitation, self.invitation_url = invitations.create_invitation(
                    User.get_by_id(admin.id), "nia@example.com")

    def path(self, rule_text: str) -> str:
        if rule_text == "/reset-password/<token>":
            return _path_of(self.reset_url)
        if rule_text == "/confirm/<token>":
            return _path_of(self.confirmation_url)
        if rule_text == "/invite/<token>":
            return _path_of(self.invitation_url)
        if rule_text == "/oidc/authorize":
            return self.authorize_path
        key = self.own_key.id if rule_text.startswith("/profile/") else self.key.id
        person = self.pending if rule_text.startswith("/admin/approvals/") else self.person
        values = {"user_id": person.id, "group_id": self.group.id, "key_id": key,
                  "id": self.document.id, "invitation_id": self.invitation.id,
                  "app_id": self.oidc_app.id}
        return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: str(values[m.group(1)]), rule_text)

    def client_as(self, who: str):
        from totp_support import code_for, enable_for
        client = self.app.test_client()
        if who == "anonymous" or who.endswith("-link"):
            return client
        if who == "second-step":  # the password was right; the code is asked for
            enable_for(self.app, "ada")
            _post(client, "/login", {"username": "ada", "password": STRONG_PASSWORD})
            return client
        if who == "terms-step":  # the password was right; the terms are to accept
            r = _post(client, "/login", {"username": "tess", "password": STRONG_PASSWORD})
            assert r.headers["Location"].endswith("/login/terms"), r.headers.get("Location")
            return client
        secret = enable_for(self.app, "boss")[0] if who == "admin-totp" else None
        _post(client, "/login", {"username": "boss", "password": STRONG_PASSWORD})
        if secret:
            _post(client, "/login/two-factor", {"code": code_for(secret, 1)})
        if who == "admin-sudo":
            _post(client, "/sudo", {"password": STRONG_PASSWORD})
        if who == "admin-totp-setup":  # the code field appears once a set-up is begun
            _post(client, "/profile/two-factor/setup", {"start": "1"})
        return client


def _path_of(url: str) -> str:
    from pages import path_of
    return path_of(url)


def _post(client, path: str, data: dict, page: str | None = None):
    got = client.get(page or path)
    assert got.status_code == 200, (page or path, got.status_code, got.get_data(as_text=True)[:300])
    return client.post(path, data={"csrf_token": csrf_from(got.get_data(as_text=True)), **data})


@pytest.mark.parametrize("bad", ["a\x00b", "\x00"], ids=["nul-inside", "nul-alone"])
@pytest.mark.parametrize("rule", sorted(FORMS))
def test_a_nul_in_a_browser_form_is_shown_beside_the_field_never_a_500(make_app, rule, bad):
    who, page_rule, names = FORMS[rule]
    app = make_app(FORM_SETTINGS)
    app.admin = users_of(app).create("boss", role="administrator")[0]
    world = FormWorld(app)
    client = world.client_as(who)
    path = world.path(rule)
    page = world.path(page_rule) if page_rule else path
    if not names:
        r = _post(client, path, {"comment": bad}, page=page)
        assert r.status_code < 500, (rule, r.status_code)
        return
    for name in names:
        r = _post(client, path, {name: bad}, page=page)
        html = r.get_data(as_text=True)
        assert r.status_code in (400, 422), (rule, name, r.status_code, html[:300])
        assert "\x00" not in html
        if rule in PAGE_NOT_FIELD:
            assert r.mimetype == "text/html" and "could not understand" in html
        else:
            assert error_beside(html, name) == NUL_MESSAGE, (rule, name, html[:3000])


def test_a_lone_surrogate_in_a_form_field_is_shown_beside_it(app):
    """Browsers cannot send one (form bodies are UTF-8, and what does not decode stays
    percent-encoded), but a form given one refuses it like a NUL."""
    from werkzeug.datastructures import MultiDict
    from keystead.web.forms import LoginForm
    with app.test_request_context(method="POST"):
        form = LoginForm(formdata=MultiDict({"username": "a\ud800b", "password": "x"}), meta={"csrf": False})
        assert form.validate() is False
        assert form.errors == {"username": [SURROGATE_MESSAGE]}
        assert form.username.data is None  # not echoed back into the page


def test_a_percent_encoded_surrogate_in_a_form_is_plain_text(admin_app):
    """%ED%A0%80 (a surrogate's UTF-8 bytes) is not UTF-8: the form reads it as the text
    "%ED%A0%80", an unknown name, never a 500."""
    client = admin_app.test_client()
    token = csrf_from(client.get("/login").get_data(as_text=True))
    r = client.post("/login", data=f"csrf_token={token}&username=%ED%A0%80&password=x",
                    content_type="application/x-www-form-urlencoded")
    assert r.status_code == 401


def test_every_form_of_the_app_is_a_browser_form(app):
    """A form deriving from FlaskForm directly would let a NUL through to the database:
    every form class of Keystead derives from BrowserForm."""
    from flask_wtf import FlaskForm
    from keystead.web.forms import BrowserForm

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)
    ours = [cls for cls in subclasses(FlaskForm) if cls.__module__.startswith("keystead.")]
    assert len(ours) >= 20
    assert [cls.__qualname__ for cls in ours if not issubclass(cls, BrowserForm)] == []


@pytest.mark.parametrize("path", ["/register", "/reset-password", "/verify-email"])
@pytest.mark.parametrize("where", ["inside", "alone"])
def test_a_nul_in_the_challenge_of_a_form_is_shown_beside_the_widget(make_app, path, where):
    """With Password.SignupChallenge, the widget's field is read beside the form's fields:
    a NUL in it (even inside an otherwise good solution) is refused beside the widget, and
    nothing is done."""
    import altcha
    app = make_app({"Password.SignupChallenge": True})
    users_of(app).create("boss", role="administrator")
    client = app.test_client()
    challenge = altcha.Challenge.from_dict(client.get(f"{API}/auth/challenge").get_json())
    payload = altcha.Payload(challenge, altcha.solve_challenge(challenge, timeout=60)).to_base64()
    bad = payload[:10] + "\x00" + payload[10:] if where == "inside" else "\x00"
    fields = {"username": "grace", "email": "grace@example.com", "password": STRONG_PASSWORD,
              "password_confirm": STRONG_PASSWORD} if path == "/register" else {"email": "boss@example.com"}
    r = _post(client, path, {**fields, "challenge": bad})
    html = r.get_data(as_text=True)
    assert r.status_code == 422, (r.status_code, html[:300])
    assert f'id="challenge-error" role="alert"><p>{NUL_MESSAGE}</p>' in html and "\x00" not in html
    assert in_db(app, lambda: User.select().count()) == 1
