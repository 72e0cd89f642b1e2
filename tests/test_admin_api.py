"""The administrators' people API (SPEC 6): GET/POST /api/v1/users, GET/PATCH/DELETE
/api/v1/users/{id}, POST /api/v1/users/{id}/reset-link. Real app, real tokens, real SQLite."""
from __future__ import annotations

import pytest

from api_support import API, assert_error, bearer, in_db, login, me_status, users_of
from keystead.models import Group, Membership, OneTimeLink, Token, User
from conftest import STRONG_PASSWORD
from pages import path_of

NEW_PASSWORD = "a-brand-new-passphrase-7"


def _count(app, model=User, *where):
    return in_db(app, lambda: model.select().where(*where).count() if where else model.select().count())


ADMIN_ROUTES = [
    ("GET", "/users"), ("POST", "/users"), ("GET", "/users/{id}"), ("PATCH", "/users/{id}"),
    ("DELETE", "/users/{id}"), ("POST", "/users/{id}/reset-link"),
]


@pytest.mark.parametrize("method, path", ADMIN_ROUTES)
def test_anonymous_callers_get_401_and_non_administrators_403(client, admin, viewer_h, method, path):
    url = API + path.format(id=admin.id)
    body = {"username": "someone"} if method in ("POST", "PATCH") else None
    assert_error(client.open(url, method=method, json=body), 401)
    assert_error(client.open(url, method=method, json=body, headers=viewer_h), 403, "forbidden")
    assert_error(client.open(url, method=method, json=body,
                             headers=bearer("not-a-token")), 401)


# ---------------------------------------------------------------- list and search

def _bulk(app, n, prefix="p"):
    def make():
        User.insert_many([dict(username=f"{prefix}{i:03d}", username_key=f"{prefix}{i:03d}",
                               email=f"{prefix}{i:03d}@example.com", email_key=f"{prefix}{i:03d}@example.com",
                               first_name="Bulk", last_name=f"Person{i}") for i in range(n)]).execute()
    in_db(app, make)


def test_list_pages_through_everyone_in_username_order(app, client, admin_h):
    _bulk(app, 120)
    r = client.get(f"{API}/users", headers=admin_h)
    assert r.status_code == 200
    body = r.get_json()
    assert set(body) == {"results", "total", "total_capped", "page", "per_page"}
    assert body["total_capped"] is False
    assert body["total"] == 121 and body["page"] == 1 and body["per_page"] == 50
    assert len(body["results"]) == 50
    assert [u["username"] for u in body["results"]][:2] == ["p000", "p001"]
    assert set(body["results"][0]) >= {"id", "username", "email", "role", "locked", "groups", "last_login_at"}
    last = client.get(f"{API}/users?page=3&per_page=50", headers=admin_h).get_json()
    assert [u["username"] for u in last["results"]] == [f"p{i}" for i in range(100, 120)] + ["root"]
    beyond = client.get(f"{API}/users?page=9", headers=admin_h).get_json()
    assert beyond["results"] == [] and beyond["total"] == 121


def test_search_matches_the_start_of_username_email_or_names(app, client, admin_h, users):
    users.create("grace", email="admiral@navy.example", first_name="Grace", last_name="Hopper")
    users.create("alan", email="turing@example.com", first_name="Alan", last_name="Turing")
    users.create("Zoë.K", email="zoe@example.com", first_name="Zoë", last_name="Kravitz")

    def found(q):
        r = client.get(f"{API}/users", query_string={"q": q}, headers=admin_h)
        assert r.status_code == 200
        return sorted(u["username"] for u in r.get_json()["results"])

    assert found("gra") == ["grace"]          # username
    assert found("ADMIRAL") == ["grace"]      # email, case-insensitive
    assert found("hop") == ["grace"]          # last name
    assert found("alan") == ["alan"]          # first name
    assert found("grace hop") == ["grace"]    # every word must match
    assert found("grace tur") == []
    assert found("zoë") == ["Zoë.K"]          # username keys are case-folded
    assert found("ZOË.K") == ["Zoë.K"]
    assert found("Kra") == ["Zoë.K"]
    assert found("example.com") == []         # a prefix search, not a substring one
    assert found("100%_") == []
    body = client.get(f"{API}/users?q=t", headers=admin_h).get_json()
    assert body["total"] == 1 and body["results"][0]["username"] == "alan"


@pytest.mark.parametrize("query, field", [("page=0", "page"), ("page=x", "page"), ("per_page=0", "per_page"),
                                          ("per_page=101", "per_page"), ("page=-1&per_page=7.5", "page")])
def test_bad_paging_is_422_naming_the_parameter(client, admin_h, query, field):
    err = assert_error(client.get(f"{API}/users?{query}", headers=admin_h), 422, "validation_failed")
    assert field in err["fields"]


def test_list_shows_each_persons_groups(app, client, admin_h, users):
    ada = users.create("ada")[0]

    def groups():
        for name in ("Ops", "Eng"):
            g = Group.create(name=name, name_key=name.lower())
            Membership.create(user=ada.id, group=g.id)
    in_db(app, groups)
    body = client.get(f"{API}/users?q=ada", headers=admin_h).get_json()
    assert body["results"][0]["groups"] == ["Eng", "Ops"]


# ---------------------------------------------------------------- create

def test_create_with_password_can_log_in_at_once(app, client, admin_h):
    r = client.post(f"{API}/users", headers=admin_h, json={
        "username": "Bob", "email": "Bob@Example.com", "password": STRONG_PASSWORD,
        "first_name": "Bob", "last_name": "Builder", "role": "publisher"})
    assert r.status_code == 201, r.get_data(as_text=True)
    body = r.get_json()
    assert body["username"] == "Bob" and body["role"] == "publisher" and body["first_name"] == "Bob"
    assert "confirmation_url" not in body
    assert not any("password" in k or "hash" in k for k in body)
    assert login(client, "bob")["access_token"]


def test_create_without_password_returns_a_confirmation_link_that_sets_it(app, client, admin_h):
    r = client.post(f"{API}/users", headers=admin_h, json={"username": "carol", "email": "carol@example.com"})
    assert r.status_code == 201
    body = r.get_json()
    assert body["role"] == "viewer" and body["confirmation_sent"] is False
    url = body["confirmation_url"]
    assert url.startswith("http://keystead.test/confirm/")
    assert client.post(f"{API}/auth/login", json={"username": "carol", "password": "x" * 12}).status_code == 401
    # The person opens the link and chooses a password.
    page = client.get(path_of(url))
    assert page.status_code == 200
    from conftest import csrf_from
    done = client.post(path_of(url), data={"csrf_token": csrf_from(page.get_data(as_text=True)),
                                           "new_password": NEW_PASSWORD, "new_password_confirm": NEW_PASSWORD})
    assert done.status_code == 303
    assert login(client, "carol", NEW_PASSWORD)["access_token"]
    assert client.get(path_of(url)).status_code == 400  # single use


def test_create_without_password_mails_the_link_when_email_is_configured(mail_app):
    client = mail_app.test_client()
    users_of(mail_app).create("root", role="administrator")
    h = bearer(login(client, "root")["access_token"])
    r = client.post(f"{API}/users", headers=h, json={"username": "dora", "email": "dora@example.com"})
    assert r.status_code == 201
    body = r.get_json()
    assert body["confirmation_sent"] is True
    assert mail_app.mailbox.link_to("dora@example.com", "/confirm/") == body["confirmation_url"]


@pytest.mark.parametrize("body, status, field", [
    ({"username": "ROOT", "email": "new@example.com"}, 409, "username"),
    ({"username": "fresh", "email": "ROOT@example.com"}, 409, "email"),
    ({"username": "fresh", "email": "f@example.com", "role": "superuser"}, 422, "role"),
    ({"username": "fresh", "email": "f@example.com", "role": 3}, 422, "role"),
    ({"username": "1bad", "email": "f@example.com"}, 422, "username"),
    ({"username": "login", "email": "f@example.com"}, 422, "username"),
    ({"username": "fresh", "email": "not-an-email"}, 422, "email"),
    ({"username": "fresh", "email": "f@example.com", "password": "short"}, 422, "password"),
    ({"email": "f@example.com"}, 422, "username"),
])
def test_create_refusals_write_nothing(app, client, admin_h, body, status, field):
    before = (_count(app), _count(app, OneTimeLink))
    err = assert_error(client.post(f"{API}/users", headers=admin_h, json=body), status)
    assert field in err["fields"]
    if status == 409:
        assert err["code"] == "taken"
    assert (_count(app), _count(app, OneTimeLink)) == before


def test_create_needs_a_json_object(client, admin_h):
    assert_error(client.post(f"{API}/users", headers=admin_h, data="username=x",
                             content_type="application/x-www-form-urlencoded"), 415)
    assert_error(client.post(f"{API}/users", headers=admin_h, data="[1]", content_type="application/json"), 400)


# ---------------------------------------------------------------- read, change, delete

def test_get_one_person_and_unknown_ids(client, admin_h, admin):
    r = client.get(f"{API}/users/{admin.id}", headers=admin_h)
    assert r.status_code == 200 and r.get_json()["username"] == "root"
    assert_error(client.get(f"{API}/users/999999", headers=admin_h), 404, "not_found")
    assert_error(client.get(f"{API}/users/{2**70}", headers=admin_h), 404)
    assert_error(client.get(f"{API}/users/abc", headers=admin_h), 404)
    assert_error(client.patch(f"{API}/users/999999", headers=admin_h, json={"role": "viewer"}), 404)
    assert_error(client.delete(f"{API}/users/999999", headers=admin_h), 404)
    assert_error(client.post(f"{API}/users/999999/reset-link", headers=admin_h), 404)


def test_patch_changes_role_names_and_email(app, client, admin_h, users):
    ada = users.create("ada")[0]
    r = client.patch(f"{API}/users/{ada.id}", headers=admin_h, json={
        "role": "publisher", "first_name": "Ada", "last_name": "Lovelace", "email": "ADA@Analytical.example"})
    assert r.status_code == 200, r.get_data(as_text=True)
    body = r.get_json()
    assert (body["role"], body["first_name"], body["last_name"], body["email"]) == \
        ("publisher", "Ada", "Lovelace", "ADA@analytical.example")
    assert client.get(f"{API}/users/{ada.id}", headers=admin_h).get_json()["role"] == "publisher"
    assert client.patch(f"{API}/users/{ada.id}", headers=admin_h, json={}).status_code == 200


def test_patch_refusals_change_nothing(app, client, admin_h, admin, users):
    ada = users.create("ada", first_name="Ada")[0]
    users.create("bea", email="bea@example.com")
    url = f"{API}/users/{ada.id}"
    err = assert_error(client.patch(url, headers=admin_h, json={"first_name": "X", "role": "boss"}), 422)
    assert "role" in err["fields"]
    err = assert_error(client.patch(url, headers=admin_h, json={"first_name": "X", "email": "BEA@example.com"}),
                       409, "taken")
    assert "email" in err["fields"]
    assert_error(client.patch(url, headers=admin_h, json={"locked": "yes"}), 422)
    assert_error(client.patch(url, headers=admin_h, json={"first_name": "X" * 101}), 422)
    got = client.get(url, headers=admin_h).get_json()
    assert (got["first_name"], got["email"], got["role"], got["locked"]) == ("Ada", "ada@example.com", "viewer", False)
    # A refusal after another field was applied rolls that field back too.
    err = assert_error(client.patch(f"{API}/users/{admin.id}", headers=admin_h,
                                    json={"first_name": "Changed", "role": "viewer"}), 409, "last_administrator")
    assert client.get(f"{API}/users/{admin.id}", headers=admin_h).get_json()["first_name"] == ""
    err = assert_error(client.patch(f"{API}/users/{admin.id}", headers=admin_h,
                                    json={"last_name": "Changed", "locked": True}), 409, "last_administrator")
    assert client.get(f"{API}/users/{admin.id}", headers=admin_h).get_json()["last_name"] == ""


def test_locking_revokes_tokens_at_once_and_unlocking_lets_them_log_in(app, client, admin_h, users):
    users.create("ada")
    ada_id = in_db(app, lambda: User.get(User.username_key == "ada").id)
    tokens = login(client, "ada")
    assert me_status(client, tokens["access_token"]) == 200
    r = client.patch(f"{API}/users/{ada_id}", headers=admin_h, json={"locked": True})
    assert r.status_code == 200 and r.get_json()["locked"] is True
    assert me_status(client, tokens["access_token"]) == 401
    assert client.post(f"{API}/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).status_code == 401
    assert client.post(f"{API}/auth/login", json={"username": "ada", "password": STRONG_PASSWORD}).status_code == 423
    r = client.patch(f"{API}/users/{ada_id}", headers=admin_h, json={"locked": False})
    assert r.get_json()["locked"] is False
    assert login(client, "ada")["access_token"]


def test_the_last_administrator_cannot_be_demoted_locked_or_deleted(app, client, admin_h, admin, users):
    url = f"{API}/users/{admin.id}"
    for body in ({"role": "viewer"}, {"role": "publisher"}, {"locked": True}):
        err = assert_error(client.patch(url, headers=admin_h, json=body), 409, "last_administrator")
        assert "last administrator" in err["message"]
    assert_error(client.delete(url, headers=admin_h), 409, "last_administrator")
    # A locked administrator does not count: they cannot log in.
    other = users.create("backup", role="administrator")[0]
    assert client.patch(f"{API}/users/{other.id}", headers=admin_h, json={"locked": True}).status_code == 200
    assert_error(client.patch(url, headers=admin_h, json={"role": "viewer"}), 409, "last_administrator")
    # Once another administrator can log in, the first may step down.
    assert client.patch(f"{API}/users/{other.id}", headers=admin_h, json={"locked": False}).status_code == 200
    r = client.patch(url, headers=admin_h, json={"role": "viewer"})
    assert r.status_code == 200 and r.get_json()["role"] == "viewer"
    # Their token still works, now with a viewer's rights.
    assert_error(client.get(f"{API}/users", headers=admin_h), 403)


def test_delete_removes_the_person_and_everything_of_theirs(app, client, admin_h, users):
    ada = users.create("ada")[0]
    tokens = login(client, "ada")

    def group():
        g = Group.create(name="Eng", name_key="eng")
        Membership.create(user=ada.id, group=g.id)
    in_db(app, group)
    client.post(f"{API}/users/{ada.id}/reset-link", headers=admin_h)
    r = client.delete(f"{API}/users/{ada.id}", headers=admin_h)
    assert r.status_code == 204 and r.get_data() == b""
    assert me_status(client, tokens["access_token"]) == 401
    assert _count(app, User, User.id == ada.id) == 0
    assert _count(app, Membership, Membership.user == ada.id) == 0
    assert _count(app, Token, Token.user == ada.id) == 0
    assert _count(app, OneTimeLink, OneTimeLink.user == ada.id) == 0
    assert _count(app, Group) == 1
    assert_error(client.delete(f"{API}/users/{ada.id}", headers=admin_h), 404)


def test_an_administrator_may_delete_themselves_when_another_remains(app, client, admin_h, admin, users):
    users.create("backup", role="administrator")
    assert client.delete(f"{API}/users/{admin.id}", headers=admin_h).status_code == 204
    assert_error(client.get(f"{API}/users", headers=admin_h), 401)


# ---------------------------------------------------------------- reset links

def test_reset_link_is_fresh_single_use_and_ends_the_previous_one(app, client, admin_h, users):
    ada = users.create("ada")[0]
    tokens = login(client, "ada")
    first = client.post(f"{API}/users/{ada.id}/reset-link", headers=admin_h)
    assert first.status_code == 200
    body = first.get_json()
    assert body["reset_url"].startswith("http://keystead.test/reset-password/")
    assert body["expires_in"] == 3600 and body["sent"] is False
    second = client.post(f"{API}/users/{ada.id}/reset-link", headers=admin_h).get_json()["reset_url"]
    assert second != body["reset_url"]
    old_token = body["reset_url"].rsplit("/", 1)[1]
    new_token = second.rsplit("/", 1)[1]
    assert_error(client.post(f"{API}/auth/reset-password",
                             json={"token": old_token, "new_password": NEW_PASSWORD}), 400)
    r = client.post(f"{API}/auth/reset-password", json={"token": new_token, "new_password": NEW_PASSWORD})
    assert r.status_code == 200
    assert me_status(client, tokens["access_token"]) == 401
    assert login(client, "ada", NEW_PASSWORD)
    assert_error(client.post(f"{API}/auth/reset-password",
                             json={"token": new_token, "new_password": NEW_PASSWORD + "x"}), 400)


def test_reset_link_is_mailed_when_email_is_configured(mail_app):
    client = mail_app.test_client()
    factory = users_of(mail_app)
    factory.create("root", role="administrator")
    ada = factory.create("ada", email="ada@example.com")[0]
    h = bearer(login(client, "root")["access_token"])
    body = client.post(f"{API}/users/{ada.id}/reset-link", headers=h).get_json()
    assert body["sent"] is True
    assert mail_app.mailbox.link_to("ada@example.com", "/reset-password/") == body["reset_url"]


def test_reset_link_for_someone_of_an_outside_provider_is_409(app, client, admin_h):
    def outsider():
        from keystead.accounts import create_user
        return create_user("outsider", "out@example.com", None, provider="static").id
    uid = in_db(app, outsider)
    assert_error(client.post(f"{API}/users/{uid}/reset-link", headers=admin_h), 409, "password_managed_elsewhere")


# ---------------------------------------------------------------- description

def test_openapi_describes_every_administrator_route(client):
    doc = client.get(f"{API}/openapi.json").get_json()
    paths = doc["paths"]
    assert set(paths["/users"]) >= {"get", "post"}
    assert set(paths["/users/{id}"]) >= {"get", "patch", "delete"}
    assert "post" in paths["/users/{id}/reset-link"]
    assert set(paths["/groups"]) >= {"get", "post"}
    assert set(paths["/groups/{id}"]) >= {"get", "patch", "delete"}
    assert "get" in paths["/groups/{id}/members"]
    assert set(paths["/groups/{id}/members/{user_id}"]) >= {"put", "delete"}
    assert {"UserPage", "Group", "GroupPage"} <= set(doc["components"]["schemas"])
    for item in (paths["/users/{id}"], paths["/groups/{id}/members/{user_id}"]):
        for op in item.values():
            assert {p["name"] for p in op["parameters"]} <= {"id", "user_id", "page", "per_page", "transfer_to"}


def test_search_with_wildcards_is_not_an_error_and_a_nul_is_a_400_naming_q(client, admin_h):
    for q in ("%", "_", "\\", "x" * 1000):
        r = client.get(f"{API}/users", query_string={"q": q}, headers=admin_h)
        assert r.status_code == 200, q
        assert client.get(f"{API}/groups", query_string={"q": q}, headers=admin_h).status_code == 200
    # A NUL never reaches the search (PostgreSQL cannot take one): 400 naming the parameter.
    for q in ("\x00", "ro\x00"):
        for path in ("/users", "/groups"):
            e = assert_error(client.get(f"{API}{path}", query_string={"q": q}, headers=admin_h),
                             400, "bad_request")
            assert set(e["fields"]) == {"q"}
