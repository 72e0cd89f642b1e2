"""GET, PATCH, DELETE /api/v1/users/me and POST /api/v1/users/me/password (SPEC 6)."""
from __future__ import annotations

import pytest

from api_support import API, assert_error, bearer, in_db, login, me_status, users_of
from keystead.models import Group, Membership, User
from conftest import STRONG_PASSWORD

NEW_PASSWORD = "a-brand-new-passphrase-7"


@pytest.fixture
def ada(app, users):
    user = users.create("ada", email="ada@example.com", first_name="Ada", last_name="Lovelace")[0]
    return user


@pytest.fixture
def token(client, ada):
    return login(client, "ada")["access_token"]


def test_get_me_shows_the_account_with_its_groups(app, client, ada, token):
    def add_groups():
        for name in ("zeta", "Alpha"):
            g = Group.create(name=name, name_key=name.lower())
            Membership.create(user=ada.id, group=g.id)
        Group.create(name="other", name_key="other")
    in_db(app, add_groups)
    r = client.get(f"{API}/users/me", headers=bearer(token))
    assert r.status_code == 200
    body = r.get_json()
    assert body == {
        "id": ada.id, "username": "ada", "email": "ada@example.com", "first_name": "Ada",
        "last_name": "Lovelace", "role": "viewer", "locked": False, "email_verified": True,
        "created_at": body["created_at"], "last_login_at": body["last_login_at"],
        "groups": ["Alpha", "zeta"], "provider": "password", "status": "active",
        "terms_accepted_version": None, "terms_accepted_at": None,
        "fields": {}, "metadata": {},
        "permissions": ["documents.read"],  # a viewer's (issue 14)
    }
    assert body["created_at"].endswith("Z") and body["last_login_at"].endswith("Z")
    assert "T" in body["created_at"]


def test_patch_me_changes_names_and_email(app, client, ada, token):
    r = client.patch(f"{API}/users/me", headers=bearer(token),
                     json={"first_name": "Augusta", "email": "augusta@example.com",
                           "current_password": STRONG_PASSWORD})
    assert r.status_code == 200
    body = r.get_json()
    assert body["first_name"] == "Augusta" and body["last_name"] == "Lovelace"
    assert body["email"] == "augusta@example.com"
    assert client.get(f"{API}/users/me", headers=bearer(token)).get_json()["email"] == "augusta@example.com"


def test_patch_me_refuses_role_locked_and_everything_else(app, client, ada, token):
    """Keys PATCH /users/me does not take are refused, each named, and nothing changes (the
    known `last_name` beside them included)."""
    r = client.patch(f"{API}/users/me", headers=bearer(token),
                     json={"role": "administrator", "locked": True, "email_verified": False,
                           "username": "root", "id": 99, "last_name": "King"})
    e = assert_error(r, 422, "validation_failed")
    assert e["fields"] == {name: "Unknown field." for name in
                           ("role", "locked", "email_verified", "username", "id")}
    body = client.get(f"{API}/users/me", headers=bearer(token)).get_json()
    assert (body["role"], body["locked"], body["email_verified"], body["username"], body["id"],
            body["last_name"]) == ("viewer", False, True, "ada", ada.id, ada.last_name)


def test_patch_me_refuses_bad_values_with_a_field_map(client, users, ada, token):
    users.create("bob", email="bob@example.com")
    e = assert_error(client.patch(f"{API}/users/me", headers=bearer(token),
                                  json={"email": "nope", "first_name": "x" * 101,
                                        "current_password": STRONG_PASSWORD}), 422)
    assert set(e["fields"]) == {"email", "first_name"}
    e = assert_error(client.patch(f"{API}/users/me", headers=bearer(token),
                                  json={"email": "BOB@example.com", "current_password": STRONG_PASSWORD}), 422)
    assert set(e["fields"]) == {"email"}
    e = assert_error(client.patch(f"{API}/users/me", headers=bearer(token), json={"last_name": "a\nb"}), 422)
    assert set(e["fields"]) == {"last_name"}


def test_user_info_editable_by_admin_only(make_app):
    app = make_app({"Authorization.UserInfoEditableBy": "Admin"})
    users_of(app).create("boss", role="administrator")
    users_of(app).create("ada")
    client = app.test_client()
    ada_token = login(client, "ada")["access_token"]
    assert_error(client.patch(f"{API}/users/me", headers=bearer(ada_token), json={"first_name": "A"}),
                 403, "not_editable")
    boss_token = login(client, "boss")["access_token"]
    r = client.patch(f"{API}/users/me", headers=bearer(boss_token), json={"first_name": "B"})
    assert r.status_code == 200 and r.get_json()["first_name"] == "B"


def test_change_password(client, ada, token):
    r = client.post(f"{API}/users/me/password", headers=bearer(token),
                    json={"current_password": STRONG_PASSWORD, "new_password": NEW_PASSWORD})
    assert r.status_code == 204 and r.get_data() == b""
    assert client.post(f"{API}/auth/login", json={"username": "ada", "password": STRONG_PASSWORD}).status_code == 401
    assert login(client, "ada", NEW_PASSWORD)


def test_change_password_refusals(client, ada, token):
    e = assert_error(client.post(f"{API}/users/me/password", headers=bearer(token),
                                 json={"current_password": "wrong-password-1", "new_password": NEW_PASSWORD}), 422)
    assert set(e["fields"]) == {"current_password"}
    e = assert_error(client.post(f"{API}/users/me/password", headers=bearer(token),
                                 json={"current_password": STRONG_PASSWORD, "new_password": "short"}), 422)
    assert set(e["fields"]) == {"new_password"}
    e = assert_error(client.post(f"{API}/users/me/password", headers=bearer(token), json={}), 422)
    assert set(e["fields"]) == {"current_password", "new_password"}
    # Nothing changed and the session is intact.
    assert me_status(client, token) == 200
    assert login(client, "ada")


def test_delete_me_needs_the_password(app, client, ada, token):
    e = assert_error(client.delete(f"{API}/users/me", headers=bearer(token), json={"password": "wrong-one-1"}), 422)
    assert set(e["fields"]) == {"password"}
    assert_error(client.delete(f"{API}/users/me", headers=bearer(token)), 415)  # no body at all
    assert me_status(client, token) == 200
    r = client.delete(f"{API}/users/me", headers=bearer(token), json={"password": STRONG_PASSWORD})
    assert r.status_code == 204
    assert in_db(app, lambda: User.get_or_none(User.username_key == "ada")) is None
    assert_error(client.post(f"{API}/auth/login", json={"username": "ada", "password": STRONG_PASSWORD}), 401)


def test_the_last_administrator_cannot_delete_themselves(client, users):
    users.create("boss", role="administrator")
    token = login(client, "boss")["access_token"]
    assert_error(client.delete(f"{API}/users/me", headers=bearer(token), json={"password": STRONG_PASSWORD}),
                 409, "last_administrator")
    assert me_status(client, token) == 200


@pytest.mark.parametrize("method,path", [("get", "/users/me"), ("patch", "/users/me"),
                                         ("delete", "/users/me"), ("post", "/users/me/password")])
def test_me_endpoints_need_a_token(client, method, path):
    r = getattr(client, method)(API + path, json={})
    assert_error(r, 401, "authentication_required")
