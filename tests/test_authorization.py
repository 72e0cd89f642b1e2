"""Issue 14: roles and permissions that mean something. A viewer reads but does not upload
or share, a publisher does (with their own groups), custom roles from Authorization.Roles
and roles carried by groups work end to end (API, pages, CLI, and an OIDC group claim),
nobody grants a permission they lack, plugins add permissions and decide per document, and
GET /users/me lists the caller's permissions."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from api_support import API, assert_error, bearer, in_db, login, users_of
from conftest import STRONG_PASSWORD, csrf_from
from documents_support import create_text, make_group, upload
from keystead import accounts, groups, hookimpl
from keystead.authorization.group_roles import set_group_roles
from keystead.config import ConfigError
from keystead.models import User

AUDITOR = {"Authorization.Roles": {"auditor": {"permissions": ["audit.read"]}}}


def text(response) -> str:
    return response.get_data(as_text=True)


def headers_of(client, name: str) -> dict:
    return bearer(login(client, name)["access_token"])


def nav_links(page: str) -> list[str]:
    """The link texts of the top navigation."""
    nav = re.search(r"<nav>(.*?)</nav>", page, re.S).group(1)
    return [re.sub(r"<[^>]+>", "", a).strip() for a in re.findall(r"<a [^>]*>(.*?)</a>", nav, re.S)]


def browser_login(app, name: str):
    client = app.test_client()
    page = client.get("/login")
    r = client.post("/login", data={"csrf_token": csrf_from(text(page)), "username": name,
                                    "password": STRONG_PASSWORD})
    assert r.status_code == 303, text(r)
    return client


# ---------------------------------------------------------------- viewers and publishers

def test_a_viewer_cannot_upload_or_share_but_keeps_their_own_documents(app, client, users):
    """0.1.0 let viewers upload: their documents stay theirs (read, search, delete), but
    they no longer upload or share (403 `forbidden` naming the permission)."""
    vera, _ = users.create("vera", role="publisher")
    h = headers_of(client, "vera")
    team = make_group(app, "team", [vera])
    doc = create_text(client, login(client, "vera")["access_token"], "Old notes", "written as a publisher")
    in_db(app, lambda: accounts.set_role(User.get_by_id(vera.id), "viewer"))
    h = headers_of(client, "vera")

    e = assert_error(client.post(f"{API}/documents", json={"title": "t", "content": "c"}, headers=h), 403, "forbidden")
    assert "documents.create" in e["message"]
    e = assert_error(upload(client, login(client, "vera")["access_token"], b"a file"), 403, "forbidden")
    assert "documents.create" in e["message"]
    e = assert_error(client.put(f"{API}/documents/{doc['id']}/groups/{team.id}", headers=h), 403, "forbidden")
    assert "documents.share" in e["message"]
    assert client.get(f"{API}/documents/{doc['id']}", headers=h).status_code == 200
    assert [d["id"] for d in client.get(f"{API}/documents/search?q=publisher", headers=h).get_json()["results"]] == [doc["id"]]
    assert client.delete(f"{API}/documents/{doc['id']}", headers=h).status_code == 204


def test_the_documents_page_offers_no_upload_to_a_viewer_and_refuses_one(app, users):
    users.create("vera")
    users.create("paul", role="publisher")
    viewer, publisher = browser_login(app, "vera"), browser_login(app, "paul")
    page = text(viewer.get("/documents"))
    assert "Search" in page and 'id="upload-title"' not in page and 'type="file"' not in page
    assert 'id="upload-title"' in text(publisher.get("/documents"))
    csrf = csrf_from(text(viewer.get("/profile")))
    import io
    r = viewer.post("/documents", data={"csrf_token": csrf, "file": (io.BytesIO(b"x"), "x.txt")},
                    content_type="multipart/form-data")
    assert r.status_code == 403


def test_a_publisher_uploads_and_shares_only_with_their_own_groups(app, client, users):
    paul, _ = users.create("paul", role="publisher")
    token = login(client, "paul")["access_token"]
    mine, other = make_group(app, "mine", [paul]), make_group(app, "other")
    doc = create_text(client, token, "Plan", "the plan")
    assert client.put(f"{API}/documents/{doc['id']}/groups/{mine.id}", headers=bearer(token)).status_code == 204
    e = assert_error(client.put(f"{API}/documents/{doc['id']}/groups/{other.id}", headers=bearer(token)), 403, "forbidden")
    assert "groups you belong to" in e["message"]
    assert_error(client.get(f"{API}/documents?all=true", headers=bearer(token)), 403, "forbidden")


def test_users_me_lists_the_callers_permissions_sorted(app, client, users):
    users.create("paul", role="publisher")
    users.create("root", role="administrator")
    assert client.get(f"{API}/users/me", headers=headers_of(client, "paul")).get_json()["permissions"] == \
        ["apps.manage", "documents.create", "documents.read", "documents.share"]
    everything = client.get(f"{API}/users/me", headers=headers_of(client, "root")).get_json()["permissions"]
    assert everything == sorted(everything) and {"people.manage", "audit.read", "keys.manage_all"} <= set(everything)


# ---------------------------------------------------------------- every admin route refuses a publisher

def _admin_operations(app) -> list[tuple[str, str, str]]:
    """(method, path, permission) of every API operation that needs a permission a
    publisher lacks, read from the OpenAPI document ("Needs `<permission>`")."""
    doc = app.test_client().get(f"{API}/openapi.json").get_json()
    found = []
    for path, item in doc["paths"].items():
        for method, op in item.items():
            m = re.search(r"Needs `([a-z_]+\.[a-z_]+)`", op.get("description", ""))
            if m and m.group(1) not in ("documents.read", "documents.create", "documents.share", "apps.manage"):
                found.append((method, API + path, m.group(1)))
    return found


def test_a_publisher_gets_403_on_every_admin_api_route_and_page(app, client, users):
    root, _ = users.create("root", role="administrator")
    users.create("paul", role="publisher")
    group = make_group(app, "team", [root])
    h = headers_of(client, "paul")
    operations = _admin_operations(app)
    assert {("get", "/api/v1/users"), ("get", "/api/v1/audit"), ("patch", "/api/v1/groups/{id}"),
            ("get", "/api/v1/users/{id}/api-keys")} <= {(m, p) for m, p, _ in operations}
    for method, path, permission in operations:
        url = (path.replace("{id}", str(root.id) if path.startswith("/api/v1/users") else str(group.id))
               .replace("{user_id}", str(root.id)).replace("{key_id}", "1"))
        r = getattr(client, method)(url, headers=h, json={})
        e = assert_error(r, 403, "forbidden")
        assert permission in e["message"], (method, path, e)
    assert_error(client.get(f"{API}/documents?all=true", headers=h), 403, "forbidden")
    browser = browser_login(app, "paul")
    for page in ("/admin/people", "/admin/people/new", f"/admin/people/{root.id}", "/admin/groups",
                 f"/admin/groups/{group.id}", "/admin/audit", "/admin/audit.csv"):
        assert browser.get(page).status_code == 403, page
    assert nav_links(text(browser.get("/profile"))) == ["paul", "Apps", "Documents", "Manage apps"]


# ---------------------------------------------------------------- custom roles

def test_a_custom_role_works_end_to_end_in_the_api_and_the_pages(make_app):
    app = make_app(AUDITOR)
    users = users_of(app)
    users.create("root", role="administrator")
    ada, _ = users.create("ada")
    client = app.test_client()
    root_h = headers_of(client, "root")
    r = client.patch(f"{API}/users/{ada.id}", headers=root_h, json={"role": "auditor"})
    assert r.status_code == 200 and r.get_json()["role"] == "auditor"
    assert_error(client.patch(f"{API}/users/{ada.id}", headers=root_h, json={"role": "emperor"}), 422)
    h = headers_of(client, "ada")
    assert client.get(f"{API}/users/me", headers=h).get_json()["permissions"] == ["audit.read"]
    assert client.get(f"{API}/audit", headers=h).status_code == 200
    assert "people.read" in assert_error(client.get(f"{API}/users", headers=h), 403, "forbidden")["message"]
    browser = browser_login(app, "ada")
    assert browser.get("/admin/audit").status_code == 200
    assert browser.get("/admin/people").status_code == 403
    assert nav_links(text(browser.get("/profile"))) == ["ada", "Apps", "Audit"]
    # the administrator's person page offers the custom role and shows it
    admin = browser_login(app, "root")
    page = text(admin.get(f"/admin/people/{ada.id}"))
    assert re.search(r'<option (selected )?value="auditor"( selected)?>Auditor</option>', page)
    assert '<dd id="role">auditor' in page


def test_the_cli_assigns_custom_roles_and_refuses_unknown_ones(make_app):
    app = make_app(AUDITOR)
    users_of(app).create("ada")
    runner = app.test_cli_runner()
    r = runner.invoke(args=["users", "set-role", "ada", "auditor"])
    assert r.exit_code == 0 and "ada is now auditor." in r.output
    r = runner.invoke(args=["users", "set-role", "ada", "emperor"])
    assert r.exit_code == 2 and "Unknown role 'emperor'" in r.output
    r = runner.invoke(args=["users", "create", "bob", "--email", "bob@example.com", "--role", "auditor",
                            "--password", STRONG_PASSWORD])
    assert r.exit_code == 0 and "auditor" in r.output
    assert runner.invoke(args=["users", "create", "eve", "--role", "emperor"]).exit_code == 2


@pytest.mark.parametrize("roles, words", [
    ({"auditor": {"permissions": ["audit.read", "audit.write"]}}, ["'auditor'", "'audit.write'"]),
    ({"viewer": {"permissions": ["audit.read"]}}, ["'viewer'", "built-in"]),
])
def test_a_bad_custom_role_refuses_startup_with_one_line(make_app, roles, words):
    with pytest.raises(ConfigError) as e:
        make_app({"Authorization.Roles": roles})
    assert "\n" not in str(e.value) and all(w in str(e.value) for w in words)


def test_the_command_line_refuses_to_start_with_an_unknown_permission(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYSTEAD_")}
    env.update(KEYSTEAD_INSTANCE=str(tmp_path / "instance"),
               KEYSTEAD_AUTHORIZATION_ROLES='{auditor = {permissions = ["audit.reed"]}}')
    keystead = os.path.join(os.path.dirname(sys.executable), "keystead")
    result = subprocess.run([keystead, "users", "list"], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if "audit.reed" in line]
    assert len(lines) == 1 and lines[0] == result.stderr.strip().splitlines()[-1]
    assert lines[0].startswith("keystead: configuration error: invalid setting Authorization.Roles: "
                               "the role 'auditor' names the unknown permission 'audit.reed'")
    assert "Traceback" not in result.stderr


# ---------------------------------------------------------------- group roles

def test_a_group_role_works_end_to_end_and_ends_with_the_membership(make_app):
    app = make_app(AUDITOR)
    users = users_of(app)
    users.create("root", role="administrator")
    ada, _ = users.create("ada")
    client = app.test_client()
    root_h = headers_of(client, "root")
    gid = client.post(f"{API}/groups", headers=root_h, json={"name": "Auditors"}).get_json()["id"]
    r = client.patch(f"{API}/groups/{gid}", headers=root_h, json={"roles": ["auditor"]})
    assert r.status_code == 200 and r.get_json()["roles"] == ["auditor"]
    assert client.get(f"{API}/groups/{gid}", headers=root_h).get_json()["roles"] == ["auditor"]
    assert_error(client.patch(f"{API}/groups/{gid}", headers=root_h, json={"roles": ["emperor"]}), 422)
    assert_error(client.patch(f"{API}/groups/{gid}", headers=root_h, json={"roles": "auditor"}), 422)
    h = headers_of(client, "ada")
    assert_error(client.get(f"{API}/audit", headers=h), 403, "forbidden")
    assert client.put(f"{API}/groups/{gid}/members/{ada.id}", headers=root_h).status_code == 204
    assert client.get(f"{API}/audit", headers=h).status_code == 200
    assert client.get(f"{API}/users/me", headers=h).get_json()["permissions"] == ["audit.read", "documents.read"]
    browser = browser_login(app, "ada")
    assert browser.get("/admin/audit").status_code == 200 and "Audit" in nav_links(text(browser.get("/profile")))
    assert client.delete(f"{API}/groups/{gid}/members/{ada.id}", headers=root_h).status_code == 204
    assert_error(client.get(f"{API}/audit", headers=h), 403, "forbidden")
    assert browser.get("/admin/audit").status_code == 403


def test_the_group_page_and_the_cli_set_a_groups_roles(make_app):
    app = make_app(AUDITOR)
    users_of(app).create("root", role="administrator")
    group = make_group(app, "Auditors")
    admin = browser_login(app, "root")
    page = text(admin.get(f"/admin/groups/{group.id}"))
    assert 'name="roles" value="auditor"' in page
    r = admin.post(f"/admin/groups/{group.id}/roles", data={"csrf_token": csrf_from(page), "roles": ["auditor"]})
    assert r.status_code == 303
    assert "Members of Auditors now hold: Auditor." in text(admin.get(f"/admin/groups/{group.id}"))
    runner = app.test_cli_runner()
    r = runner.invoke(args=["groups", "roles", "Auditors"])
    assert r.exit_code == 0 and r.output.strip() == "Auditors: auditor."
    r = runner.invoke(args=["groups", "roles", "Auditors", "publisher", "auditor"])
    assert r.exit_code == 0 and r.output.strip() == "Auditors: publisher, auditor."
    r = runner.invoke(args=["groups", "roles", "Auditors", "emperor"])
    assert r.exit_code == 1 and "Unknown role 'emperor'" in r.output
    assert runner.invoke(args=["groups", "roles", "Auditors", "--none"]).output.strip() == "Auditors: no roles."


# ---------------------------------------------------------------- nobody grants what they lack

def test_granting_a_role_that_carries_a_permission_one_lacks_answers_403(make_app):
    app = make_app({"Authorization.Roles": {"helpdesk": {"permissions": ["documents.read", "people.read",
                                                                         "people.manage"]}}})
    users = users_of(app)
    root, _ = users.create("root", role="administrator")
    users.create("hal", role="helpdesk")
    ada, _ = users.create("ada")
    client = app.test_client()
    h = headers_of(client, "hal")
    e = assert_error(client.patch(f"{API}/users/{ada.id}", headers=h, json={"role": "administrator"}), 403, "forbidden")
    assert "administrator" in e["message"]
    assert_error(client.post(f"{API}/users", headers=h, json={"username": "evil", "role": "administrator",
                                                               "password": STRONG_PASSWORD}), 403, "forbidden")
    # what they hold themselves they may grant
    assert client.patch(f"{API}/users/{ada.id}", headers=h, json={"role": "helpdesk"}).status_code == 200
    assert client.patch(f"{API}/users/{ada.id}", headers=h, json={"role": "viewer"}).status_code == 200
    # nor change someone who can do more than they can (a reset link is the account)
    assert_error(client.post(f"{API}/users/{root.id}/reset-link", headers=h), 403, "forbidden")
    assert_error(client.patch(f"{API}/users/{root.id}", headers=h, json={"locked": True}), 403, "forbidden")
    assert in_db(app, lambda: User.get_by_id(ada.id).role) == "viewer"
    assert in_db(app, lambda: User.select().where(User.username == "evil").count()) == 0


def test_a_group_manager_cannot_hand_out_a_groups_role_they_lack(make_app):
    app = make_app({"Authorization.Roles": {"keeper": {"permissions": ["groups.manage"]}}})
    users = users_of(app)
    users.create("kim", role="keeper")
    ada, _ = users.create("ada")
    admins = make_group(app, "Admins")
    client = app.test_client()
    h = headers_of(client, "kim")
    e = assert_error(client.patch(f"{API}/groups/{admins.id}", headers=h, json={"roles": ["administrator"]}),
                     403, "forbidden")
    assert "cannot grant the role administrator" in e["message"]
    client.patch(f"{API}/groups/{admins.id}", headers=h, json={"roles": ["keeper"]})  # one they hold
    in_db(app, lambda: set_group_roles(groups.get_group(admins.id), ["administrator"]))  # the CLI may
    assert_error(client.put(f"{API}/groups/{admins.id}/members/{ada.id}", headers=h), 403, "forbidden")
    assert_error(client.delete(f"{API}/groups/{admins.id}", headers=h), 403, "forbidden")
    assert in_db(app, lambda: groups.is_member(groups.get_group(admins.id), User.get_by_id(ada.id))) is False


# ---------------------------------------------------------------- plugin hooks

class AddsReports:
    @hookimpl
    def keystead_permissions(self, user):
        if user is None:
            return ["reports.read"]  # defines it: valid in Authorization.Roles
        return ["reports.read"] if user.username == "ada" else None


class AddsExports:
    @hookimpl
    def keystead_permissions(self, user):
        return None if user is None else {"exports.run"}


class Verdicts:
    """keystead_authorize from a table: {(username, title): verdict}."""

    def __init__(self, table):
        self.table = table

    @hookimpl
    def keystead_authorize(self, user, permission, resource):
        return self.table.get((user.username, getattr(resource, "title", None)))


def test_plugin_permissions_are_collected_and_may_name_new_permissions(make_app):
    app = make_app({"Authorization.Roles": {"analyst": {"permissions": ["reports.read"]}}},
                   plugins=[AddsReports(), AddsExports()])
    users = users_of(app)
    users.create("ada")
    users.create("bob", role="analyst")
    client = app.test_client()
    assert client.get(f"{API}/users/me", headers=headers_of(client, "ada")).get_json()["permissions"] == \
        ["documents.read", "exports.run", "reports.read"]
    assert client.get(f"{API}/users/me", headers=headers_of(client, "bob")).get_json()["permissions"] == \
        ["exports.run", "reports.read"]
    with pytest.raises(ConfigError, match="reports.read"):
        make_app({"Authorization.Roles": {"analyst": {"permissions": ["reports.read"]}}})


def _shared_document(app, client):
    users = users_of(app)
    paul, _ = users.create("paul", role="publisher")
    bob, _ = users.create("bob")
    users.create("carol")
    team = make_group(app, "team", [paul, bob])
    token = login(client, "paul")["access_token"]
    shared = create_text(client, token, "Shared", "shared words")
    private = create_text(client, token, "Private", "private words")
    assert client.put(f"{API}/documents/{shared['id']}/groups/{team.id}", headers=bearer(token)).status_code == 204
    return shared, private


def test_a_plugin_veto_beats_a_grant_and_hides_the_document(make_app):
    app = make_app(plugins=[Verdicts({("bob", "Shared"): False}), Verdicts({("bob", "Shared"): True})])
    client = app.test_client()
    shared, _ = _shared_document(app, client)
    h = headers_of(client, "bob")
    assert_error(client.get(f"{API}/documents/{shared['id']}", headers=h), 404, "not_found")
    assert client.get(f"{API}/documents?shared=true", headers=h).get_json()["results"] == []
    assert client.get(f"{API}/documents/search?q=shared", headers=h).get_json()["results"] == []


def test_a_plugin_grant_without_veto_opens_a_document_and_a_veto_of_an_action_is_403(make_app):
    app = make_app(plugins=[Verdicts({("carol", "Private"): True, ("paul", "Private"): False}), Verdicts({})])
    client = app.test_client()
    _, private = _shared_document(app, client)
    r = client.get(f"{API}/documents/{private['id']}", headers=headers_of(client, "carol"))
    assert r.status_code == 200 and r.get_json()["title"] == "Private"
    assert client.get(f"{API}/documents/{private['id']}", headers=headers_of(client, "bob")).status_code == 404


# ---------------------------------------------------------------- OpenID Connect group claims

def test_an_oidc_group_claim_grants_a_groups_role_until_the_claim_drops_it(make_app):
    from keystead.apikeys import create_api_key
    from oidc_idp import IdentityProvider
    from test_oidc import sign_in
    idp = IdentityProvider().start()
    try:
        app = make_app(idp.settings(**AUDITOR))
        users_of(app).create("root", role="administrator")
        client = app.test_client()
        root_h = headers_of(client, "root")
        gid = client.post(f"{API}/groups", headers=root_h, json={"name": "Auditors"}).get_json()["id"]
        assert client.patch(f"{API}/groups/{gid}", headers=root_h, json={"roles": ["auditor"]}).status_code == 200
        idp.person["groups"] = ["Engineers", "Auditors"]
        browser = app.test_client()
        assert sign_in(browser).status_code == 302
        assert browser.get("/admin/audit").status_code == 200
        _, key = in_db(app, lambda: create_api_key(User.get(User.username == "grace.hopper"), "laptop"))
        assert client.get(f"{API}/audit", headers={"Authorization": f"Key {key}"}).status_code == 200
        idp.person["groups"] = ["Engineers"]
        again = app.test_client()
        assert sign_in(again).status_code == 302
        assert again.get("/admin/audit").status_code == 403
        assert_error(client.get(f"{API}/audit", headers={"Authorization": f"Key {key}"}), 403, "forbidden")
    finally:
        idp.stop()


def test_creating_a_person_in_groups_follows_the_membership_rules(make_app):
    """POST /users `groups`: the person joins at once; a missing group is 422 and creates
    nobody; without groups.manage only one's own groups; never a group whose role the
    creator could not grant (each refusal creates nobody)."""
    app = make_app({"Authorization.Roles": {
        "helpdesk": {"permissions": ["documents.read", "people.read", "people.manage"]},
        "keeper": {"permissions": ["documents.read", "people.read", "people.manage", "groups.manage"]}}})
    users = users_of(app)
    users.create("root", role="administrator")
    hal, _ = users.create("hal", role="helpdesk")
    users.create("kim", role="keeper")
    staff, admins = make_group(app, "Staff"), make_group(app, "Admins")
    make_group(app, "Other")
    in_db(app, lambda: groups.add_member(groups.get_group(staff.id), User.get_by_id(hal.id)))
    in_db(app, lambda: set_group_roles(groups.get_group(admins.id), ["administrator"]))
    client = app.test_client()
    root_h, hal_h, kim_h = headers_of(client, "root"), headers_of(client, "hal"), headers_of(client, "kim")

    def made(name):
        return in_db(app, lambda: User.select().where(User.username == name).count())

    r = client.post(f"{API}/users", headers=root_h, json={"username": "ada", "password": STRONG_PASSWORD,
                                                           "groups": ["staff", "Other"]})
    assert r.status_code == 201 and sorted(r.get_json()["groups"]) == ["Other", "Staff"]
    assert sorted(client.get(f"{API}/users/{r.get_json()['id']}", headers=root_h).get_json()["groups"]) == [
        "Other", "Staff"]
    e = assert_error(client.post(f"{API}/users", headers=root_h, json={"username": "bob", "groups": ["Nope"]}), 422)
    assert "Nope" in e["fields"]["groups"] and made("bob") == 0
    assert_error(client.post(f"{API}/users", headers=root_h, json={"username": "bob", "groups": "Staff"}), 422)
    # hal (no groups.manage) may put people in Staff, a group of theirs, not in another
    r = client.post(f"{API}/users", headers=hal_h, json={"username": "cyd", "password": STRONG_PASSWORD,
                                                          "groups": ["Staff"]})
    assert r.status_code == 201 and r.get_json()["groups"] == ["Staff"]
    e = assert_error(client.post(f"{API}/users", headers=hal_h, json={"username": "deb", "groups": ["Other"]}),
                     403, "forbidden")
    assert "groups.manage" in e["message"] and made("deb") == 0
    # kim manages groups, but a group carrying administrator would hand out what kim lacks
    e = assert_error(client.post(f"{API}/users", headers=kim_h, json={"username": "deb", "groups": ["Admins"]}),
                     403, "forbidden")
    assert "administrator" in e["message"] and made("deb") == 0
    assert client.post(f"{API}/users", headers=kim_h, json={"username": "deb", "password": STRONG_PASSWORD,
                                                             "groups": ["Other"]}).status_code == 201
