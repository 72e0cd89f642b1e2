"""Issue 12 item 2: personal API keys no longer outlive everything nor bypass web sudo.

Creating a key proves the person is there (the API asks for the current password, under the
lockout; the browser asks for web sudo even with WebSudoMode off); a key never creates a
key nor changes its person's credentials; a password reset and a lock revoke every key (an
unlock brings none back); a password change keeps them unless asked; administrators list
and revoke anyone's keys through the API, the person's page and the CLI."""
from __future__ import annotations

import json
import re

import pytest

from api_support import API, assert_error, bearer, in_db, login
from keystead.apikeys import ApiKey
from keystead.audit.models import AuditEvent
from keystead.models import User
from conftest import STRONG_PASSWORD, AuthActions
from pages import flashes, redirect_to, submit

KEYS = f"{API}/users/me/api-keys"
NEW_PASSWORD = "a-brand-new-passphrase-7"


def key_header(key: str) -> dict:
    return {"Authorization": f"Key {key}"}


def make_key(client, token, name="script") -> dict:
    r = client.post(KEYS, json={"name": name, "current_password": STRONG_PASSWORD}, headers=bearer(token))
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.get_json()


def works(client, key: str) -> bool:
    status = client.get(f"{API}/users/me", headers=key_header(key)).status_code
    assert status in (200, 401), status
    return status == 200


def key_count(app, username: str) -> int:
    return in_db(app, lambda: ApiKey.select().join(User).where(User.username == username).count())


def user_id(app, username: str) -> int:
    return in_db(app, lambda: User.get(User.username == username).id)


# ---------------------------------------------------------------- creating a key

def test_creating_a_key_through_the_api_needs_the_current_password(app, client, users):
    users.create("ada")
    h = bearer(login(client, "ada")["access_token"])
    missing = assert_error(client.post(KEYS, json={"name": "script"}, headers=h), 422, "validation_failed")
    assert set(missing["fields"]) == {"current_password"}
    wrong = assert_error(client.post(KEYS, json={"name": "script", "current_password": "not-my-password-1"},
                                     headers=h), 422, "validation_failed")
    assert wrong["fields"] == {"current_password": "The current password is not correct."}
    # every problem at once
    both = assert_error(client.post(KEYS, json={"name": "", "current_password": "not-my-password-1"},
                                    headers=h), 422)
    assert set(both["fields"]) == {"name", "current_password"}
    assert key_count(app, "ada") == 0
    assert client.post(KEYS, json={"name": "script", "current_password": STRONG_PASSWORD},
                       headers=h).status_code == 201


def test_wrong_passwords_at_key_creation_count_toward_the_lockout(make_app):
    app = make_app({"Password.LockoutThreshold": 3, "Password.LockoutDuration": "15m"})
    client = app.test_client()
    from api_support import users_of
    users_of(app).create("ada")
    h = bearer(login(client, "ada")["access_token"])
    for _ in range(3):
        assert_error(client.post(KEYS, json={"name": "x", "current_password": "guess-guess-guess"},
                                 headers=h), 422)
    locked = client.post(KEYS, json={"name": "x", "current_password": STRONG_PASSWORD}, headers=h)
    assert_error(locked, 423, "locked")
    assert int(locked.headers["Retry-After"]) > 0
    # the same lockout a login meets
    assert_error(client.post(f"{API}/auth/login", json={"username": "ada", "password": STRONG_PASSWORD}), 423)
    assert key_count(app, "ada") == 0


def test_an_account_without_a_password_gets_403_password_required(app, client, users):
    """An outside provider's account (OpenID Connect, SAML) has no password to re-enter here."""
    from keystead.tokens import issue_token_pair
    olga, _ = users.create("olga", password=None, provider="oidc")
    token = in_db(app, lambda: issue_token_pair(olga))["access_token"]
    for body in ({"name": "script"}, {"name": "script", "current_password": "anything-at-all"}):
        assert_error(client.post(KEYS, json=body, headers=bearer(token)), 403, "password_required")
    assert key_count(app, "olga") == 0


def test_such_an_account_creates_keys_in_the_browser_after_a_fresh_provider_login(make_app):
    from plugins import static_provider
    app = make_app({"Authentication.Provider": ["password", "static"]}, plugins=[static_provider])
    client = app.test_client()
    assert submit(client, "/login", {"username": "robot", "password": "beep-boop-1234"}).status_code == 303
    assert submit(client, "/profile/api-keys", {"name": "fresh"}).status_code == 201
    with client.session_transaction() as s:
        s["login_at"] -= 3600  # the login is no longer fresh
    r = submit(client, "/profile/api-keys", {"name": "stale"})
    assert r.status_code == 302 and redirect_to(r)[0] == "/sudo"
    assert in_db(app, lambda: sorted(k.name for k in ApiKey.select())) == ["fresh"]


def test_a_request_made_with_a_key_can_never_create_a_key(app, client, users):
    users.create("ada")
    made = make_key(client, login(client, "ada")["access_token"])
    r = client.post(KEYS, json={"name": "offspring", "current_password": STRONG_PASSWORD},
                    headers=key_header(made["key"]))
    assert_error(r, 403, "forbidden")
    assert key_count(app, "ada") == 1
    # the key may still list and revoke keys (a program retiring its own key)
    assert client.get(KEYS, headers=key_header(made["key"])).status_code == 200


def test_a_key_cannot_change_its_persons_credentials(app, client, users):
    """The documented rule (docs/api.md): password, email, two-factor and deletion need a login."""
    users.create("ada")
    key = key_header(make_key(client, login(client, "ada")["access_token"])["key"])
    assert_error(client.post(f"{API}/users/me/password", headers=key,
                             json={"current_password": STRONG_PASSWORD, "new_password": NEW_PASSWORD}),
                 403, "forbidden")
    assert_error(client.patch(f"{API}/users/me", json={"email": "thief@example.com"}, headers=key),
                 403, "forbidden")
    assert_error(client.delete(f"{API}/users/me", json={"password": STRONG_PASSWORD}, headers=key),
                 403, "forbidden")
    # names are not credentials
    assert client.patch(f"{API}/users/me", json={"first_name": "Ada"}, headers=key).status_code == 200
    me = client.get(f"{API}/users/me", headers=key).get_json()
    assert me["email"] == "ada@example.com" and me["first_name"] == "Ada"
    assert AuthActions(app.test_client()).login("ada").status_code == 303  # the password held


def test_what_an_administrators_key_does_is_allowed_and_audited_as_done_by_that_key(app, client, admin):
    made = make_key(client, login(client, "root")["access_token"], "provisioning")
    r = client.post(f"{API}/users", json={"username": "newbie", "email": "newbie@example.com"},
                    headers=key_header(made["key"]))
    assert r.status_code == 201
    event = in_db(app, lambda: AuditEvent.get((AuditEvent.event == "user_create")
                                              & (AuditEvent.target_name == "newbie")))
    assert event.actor_name == "root"
    assert json.loads(event.details)["via"] == f"api_key {made['id']}"


# ---------------------------------------------------------------- web sudo on /profile

def test_creating_a_key_on_the_profile_asks_for_web_sudo_even_with_sudo_mode_off(app, auth, client, users):
    assert app.extensions["keystead.settings"]["Password.WebSudoMode"] is False
    users.create("ada")
    auth.login("ada")
    profile = client.get("/profile").get_data(as_text=True)
    assert "Creating a key asks you to confirm it is you first" in profile
    r = submit(client, "/profile/api-keys", {"name": "sneaky"}, page="/profile")
    assert r.status_code == 302
    path, query = redirect_to(r)
    assert path == "/sudo" and query["next"] == "/profile/api-keys"
    assert key_count(app, "ada") == 0
    # a wrong password at /sudo counts like any other re-entry and grants nothing
    assert submit(client, r.headers["Location"], {"password": "not-my-password-1"}).status_code == 401
    back = submit(client, r.headers["Location"], {"password": STRONG_PASSWORD})
    assert back.status_code == 303 and back.headers["Location"] == "/profile/api-keys"
    assert submit(client, "/profile/api-keys", {"name": "mine"}).status_code == 201
    assert key_count(app, "ada") == 1


def test_with_sudo_mode_on_key_creation_asks_as_well(make_app):
    app = make_app({"Password.WebSudoMode": True})
    from api_support import users_of
    users_of(app).create("ada")
    client = app.test_client()
    AuthActions(client).login("ada")
    r = submit(client, "/profile/api-keys", {"name": "sneaky"})
    assert r.status_code == 302 and redirect_to(r)[0] == "/sudo"
    assert key_count(app, "ada") == 0


# ---------------------------------------------------------------- reset, lock, password change

def reset_token(client, admin_h, app, username="ada") -> str:
    r = client.post(f"{API}/users/{user_id(app, username)}/reset-link", headers=admin_h)
    assert r.status_code == 200
    return r.get_json()["reset_url"].rstrip("/").rsplit("/", 1)[1]


def test_a_password_reset_through_the_api_revokes_every_key_and_says_so(app, client, users, admin_h):
    users.create("ada")
    token = login(client, "ada")["access_token"]
    keys = [make_key(client, token, name)["key"] for name in ("one", "two")]
    r = client.post(f"{API}/auth/reset-password",
                    json={"token": reset_token(client, admin_h, app), "new_password": NEW_PASSWORD})
    assert r.status_code == 200
    assert "API key" in r.get_json()["message"]
    assert not any(works(client, k) for k in keys)
    assert key_count(app, "ada") == 0


def test_a_password_reset_in_the_browser_revokes_every_key_and_says_so(app, client, users, admin_h):
    users.create("ada")
    key = make_key(client, login(client, "ada")["access_token"])["key"]
    link = f"/reset-password/{reset_token(client, admin_h, app)}"
    page = client.get(link).get_data(as_text=True)
    assert "Every session and API key of this account will end." in page
    browser = app.test_client()
    r = submit(browser, link, {"new_password": NEW_PASSWORD, "new_password_confirm": NEW_PASSWORD})
    assert r.status_code == 303
    said = " ".join(flashes(browser.get("/login").get_data(as_text=True)))
    assert "every session and API key of your account has ended" in said
    assert not works(client, key)


def test_a_lock_revokes_every_key_and_an_unlock_does_not_revive_them(app, client, users, admin_h):
    users.create("ada")
    key = make_key(client, login(client, "ada")["access_token"])["key"]
    ada = user_id(app, "ada")
    assert client.patch(f"{API}/users/{ada}", json={"locked": True}, headers=admin_h).status_code == 200
    assert client.patch(f"{API}/users/{ada}", json={"locked": False}, headers=admin_h).status_code == 200
    assert not works(client, key)
    assert client.get(f"{API}/users/{ada}/api-keys", headers=admin_h).get_json()["results"] == []
    revoked = in_db(app, lambda: AuditEvent.get((AuditEvent.event == "api_key_revoke")
                                                & (AuditEvent.target_name == "ada")))
    assert revoked.actor_name == "root" and json.loads(revoked.details)["reason"] == "lock"


def test_locking_on_the_persons_page_says_the_keys_are_revoked(app, auth, client, users, admin):
    users.create("ada")
    key = make_key(client, login(client, "ada")["access_token"])["key"]
    auth.login("root")
    page = f"/admin/people/{user_id(app, 'ada')}"
    assert "API keys are revoked" in client.get(page).get_data(as_text=True)
    r = submit(client, f"{page}/lock", {}, page=page)
    assert r.status_code == 303
    assert "their API keys are revoked" in " ".join(flashes(client.get(page).get_data(as_text=True)))
    submit(client, f"{page}/unlock", {}, page=page)
    assert not works(client, key)


def test_a_password_change_through_the_api_keeps_keys_unless_asked(app, client, users):
    users.create("ada")
    h = bearer(login(client, "ada")["access_token"])
    key = make_key(client, h["Authorization"].split()[1])["key"]
    change = f"{API}/users/me/password"
    bad = assert_error(client.post(change, headers=h, json={
        "current_password": STRONG_PASSWORD, "new_password": NEW_PASSWORD, "revoke_api_keys": "yes"}), 422)
    assert set(bad["fields"]) == {"revoke_api_keys"}
    assert client.post(change, headers=h, json={
        "current_password": STRONG_PASSWORD, "new_password": NEW_PASSWORD}).status_code == 204
    assert works(client, key)
    assert client.post(change, headers=h, json={
        "current_password": NEW_PASSWORD, "new_password": STRONG_PASSWORD, "revoke_api_keys": True}).status_code == 204
    assert not works(client, key)
    assert key_count(app, "ada") == 0


@pytest.mark.parametrize("tick", [False, True])
def test_a_password_change_on_the_page_offers_to_revoke_the_keys(app, auth, client, users, tick):
    users.create("ada")
    key = make_key(client, login(client, "ada")["access_token"])["key"]
    auth.login("ada")
    form = client.get("/profile/password").get_data(as_text=True)
    assert 'name="revoke_api_keys"' in form and "Also revoke my API keys" in form
    data = {"current_password": STRONG_PASSWORD, "new_password": NEW_PASSWORD,
            "new_password_confirm": NEW_PASSWORD}
    if tick:
        data["revoke_api_keys"] = "y"
    assert submit(client, "/profile/password", data).status_code == 303
    said = " ".join(flashes(client.get("/profile").get_data(as_text=True)))
    assert works(client, key) is not tick
    assert ("Your API keys have been revoked." in said) is tick
    assert ("Your API keys still work." in said) is not tick


# ---------------------------------------------------------------- administrators

def test_administrators_list_and_revoke_anyones_keys_through_the_api(app, client, users, admin_h, viewer_h):
    users.create("ada")
    users.create("bob")
    ada_token = login(client, "ada")["access_token"]
    keep, gone = make_key(client, ada_token, "keep"), make_key(client, ada_token, "gone")
    bob_key = make_key(client, login(client, "bob")["access_token"], "bobs")
    ada, bob = user_id(app, "ada"), user_id(app, "bob")

    listed = client.get(f"{API}/users/{ada}/api-keys", headers=admin_h)
    assert listed.status_code == 200
    results = listed.get_json()["results"]
    assert [k["name"] for k in results] == ["keep", "gone"] and all("key" not in k for k in results)

    # a viewer may do neither
    assert_error(client.get(f"{API}/users/{ada}/api-keys", headers=viewer_h), 403)
    assert_error(client.delete(f"{API}/users/{ada}/api-keys/{gone['id']}", headers=viewer_h), 403)
    assert works(client, gone["key"])

    # someone else's key through ada's id, or an unknown person: not found
    assert_error(client.delete(f"{API}/users/{ada}/api-keys/{bob_key['id']}", headers=admin_h), 404)
    assert_error(client.get(f"{API}/users/999999/api-keys", headers=admin_h), 404)
    assert works(client, bob_key["key"])

    assert client.delete(f"{API}/users/{ada}/api-keys/{gone['id']}", headers=admin_h).status_code == 204
    assert not works(client, gone["key"]) and works(client, keep["key"])
    assert_error(client.delete(f"{API}/users/{ada}/api-keys/{gone['id']}", headers=admin_h), 404)
    event = in_db(app, lambda: AuditEvent.select().where(AuditEvent.event == "api_key_revoke")
                  .order_by(AuditEvent.id.desc()).first())
    assert (event.actor_name, event.target_name) == ("root", "ada")
    bobs = client.get(f"{API}/users/{bob}/api-keys", headers=admin_h).get_json()["results"]
    assert [k["name"] for k in bobs] == ["bobs"]


def test_the_new_routes_are_in_the_openapi_document(client):
    paths = client.get(f"{API}/openapi.json").get_json()["paths"]
    assert "get" in paths["/users/{id}/api-keys"]
    assert "delete" in paths["/users/{id}/api-keys/{key_id}"]
    create = paths["/users/me/api-keys"]["post"]
    assert "current_password" in create["requestBody"]["content"]["application/json"]["schema"]["required"]
    change = paths["/users/me/password"]["post"]
    assert "revoke_api_keys" in change["requestBody"]["content"]["application/json"]["schema"]["properties"]


def test_administrators_revoke_keys_on_the_persons_page(app, auth, client, users, admin):
    users.create("ada")
    made = make_key(client, login(client, "ada")["access_token"], "laptop")
    page = f"/admin/people/{user_id(app, 'ada')}"

    viewer = app.test_client()
    users.create("vera")
    AuthActions(viewer).login("vera")
    assert viewer.get(page).status_code == 403

    auth.login("root")
    html = client.get(page).get_data(as_text=True)
    assert "laptop" in html and made["key"] not in html
    m = re.search(r'action="(/admin/people/\d+/api-keys/\d+/revoke)"[^<]*<input[^>]*>\s*<button[^>]*'
                  r'aria-label="Revoke laptop"', html, re.S)
    assert m, "no revoke button for the key"
    assert viewer.post(m.group(1), data={}).status_code in (400, 403)  # no CSRF token, and no right
    assert works(client, made["key"])
    r = submit(client, m.group(1), {}, page=page)
    assert r.status_code == 303 and r.headers["Location"] == page
    html = client.get(page).get_data(as_text=True)
    assert "The API key “laptop” of ada has been revoked." in " ".join(flashes(html))
    assert "ada has no API keys." in html
    assert not works(client, made["key"])
    assert submit(client, m.group(1), {}, page=page).status_code == 404


def test_administrators_list_and_revoke_keys_with_the_cli(app, client, runner, users):
    users.create("ada")
    made = make_key(client, login(client, "ada")["access_token"], "backup script")
    listed = runner.invoke(args=["users", "keys", "ada"])
    assert listed.exit_code == 0, listed.output
    assert "backup script" in listed.output and str(made["id"]) in listed.output
    assert made["key"] not in listed.output

    missing = runner.invoke(args=["users", "revoke-key", "ada", "999999"])
    assert missing.exit_code == 1 and len(missing.stderr.strip().splitlines()) == 1
    assert works(client, made["key"])

    revoked = runner.invoke(args=["users", "revoke-key", "ada", str(made["id"])])
    assert revoked.exit_code == 0, revoked.output
    assert "backup script" in revoked.output
    assert not works(client, made["key"])
    assert "ada has no API keys." in runner.invoke(args=["users", "keys", "ada"]).output
    nobody = runner.invoke(args=["users", "keys", "nobody-here"])
    assert nobody.exit_code == 1 and "nobody-here" in nobody.stderr
