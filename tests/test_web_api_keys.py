"""Personal API keys in the browser (SPEC 9): /profile/api-keys creates a key (shown once,
in the answer), lists them (name, created, last used) and revokes them (POST, CSRF).
Creating one asks for web sudo first (tests/test_trust_api_keys.py); these tests re-enter
the password right after logging in."""
from __future__ import annotations

import re

from conftest import STRONG_PASSWORD, csrf_from
from pages import error_beside, flashes, redirect_to, submit

from keystead.apikeys import ApiKey

PAGE = "/profile/api-keys"


def log_in(auth, users, username="ada"):
    users.create(username)
    auth.login(username)
    reenter_password(auth.client)


def reenter_password(client):
    """Web sudo: re-enter the password at /sudo."""
    r = submit(client, "/sudo", {"password": STRONG_PASSWORD})
    assert r.status_code == 303, r.status_code


def create(client, name):
    return submit(client, PAGE, {"name": name})


def key_on(page: str) -> str:
    m = re.search(r'id="api-key">\s*(ks_[A-Za-z0-9_-]+)\s*<', page)
    assert m, "no key on the page"
    return m.group(1)


def me(client, key):
    return client.get("/api/v1/users/me", headers={"Authorization": f"Key {key}"})


def rows(page: str) -> list[list[str]]:
    """The cells (text) of the keys table."""
    body = re.search(r"<tbody>(.*?)</tbody>", page, re.S)
    if not body:
        return []
    return [[" ".join(re.sub(r"<[^>]+>", " ", cell).split()) for cell in re.findall(r"<td>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S)]


def revoke_path(page: str, name: str) -> str:
    m = re.search(r'action="(/profile/api-keys/\d+/revoke)"[^<]*<input[^>]*>\s*<button[^>]*aria-label="Revoke '
                  + re.escape(name) + '"', page, re.S)
    assert m, f"no revoke button for {name}"
    return m.group(1)


def test_the_profile_holds_the_key_form(auth, client, users):
    log_in(auth, users)
    assert f'action="{PAGE}"' in client.get("/profile").get_data(as_text=True)
    page = client.get(PAGE).get_data(as_text=True)
    assert "You have no API keys." in page


def test_a_key_is_shown_once_and_acts_as_its_owner(app, auth, client, users):
    log_in(auth, users)
    r = create(client, "backup script")
    assert r.status_code == 201
    html = r.get_data(as_text=True)
    key = key_on(html)
    assert "shown only this once" in html
    with app.app_context():
        stored = ApiKey.get(ApiKey.name == "backup script")
        assert key not in (stored.digest, stored.key_id)

    page = client.get(PAGE).get_data(as_text=True)
    assert key not in page
    [[name, created, last_used, _]] = rows(page)
    assert name == "backup script" and created.endswith("UTC") and last_used == "never"

    answer = me(client, key)
    assert answer.status_code == 200 and answer.get_json()["username"] == "ada"
    [[_, _, last_used, _]] = rows(client.get(PAGE).get_data(as_text=True))
    assert last_used.endswith("UTC")


def test_a_name_is_needed_and_checked(auth, client, users):
    log_in(auth, users)
    r = create(client, "")
    assert r.status_code == 400 and error_beside(r.get_data(as_text=True), "name") == "Give the key a name."
    r = create(client, "x" * 101)
    assert r.status_code == 422 and error_beside(r.get_data(as_text=True), "name")
    assert rows(client.get(PAGE).get_data(as_text=True)) == []


def test_revoking_a_key_stops_it_at_once(auth, client, users):
    log_in(auth, users)
    keep = key_on(create(client, "keep").get_data(as_text=True))
    gone = key_on(create(client, "gone").get_data(as_text=True))
    page = client.get(PAGE).get_data(as_text=True)
    r = client.post(revoke_path(page, "gone"), data={"csrf_token": csrf_from(page)})
    assert r.status_code == 303 and r.headers["Location"] == PAGE
    page = client.get(PAGE).get_data(as_text=True)
    assert "The key has been revoked." in " ".join(flashes(page))
    assert [row[0] for row in rows(page)] == ["keep"]
    assert me(client, gone).status_code == 401
    assert me(client, keep).status_code == 200


def test_revoking_needs_the_csrf_token(auth, client, users):
    log_in(auth, users)
    key = key_on(create(client, "laptop").get_data(as_text=True))
    path = revoke_path(client.get(PAGE).get_data(as_text=True), "laptop")
    assert client.post(path).status_code == 400
    assert client.post(path, data={"csrf_token": "forged"}).status_code == 400
    assert me(client, key).status_code == 200


def test_creating_needs_the_csrf_token(auth, client, users):
    log_in(auth, users)
    assert client.post(PAGE, data={"name": "sneaky"}).status_code == 400
    assert rows(client.get(PAGE).get_data(as_text=True)) == []


def test_someone_elses_key_cannot_be_revoked(app, auth, client, users):
    log_in(auth, users, "grace")
    grace_key = key_on(create(client, "graces-laptop").get_data(as_text=True))
    path = revoke_path(client.get(PAGE).get_data(as_text=True), "graces-laptop")
    auth.logout()

    log_in(auth, users, "ada")
    page = client.get(PAGE).get_data(as_text=True)
    assert "graces-laptop" not in page
    assert client.post(path, data={"csrf_token": csrf_from(page)}).status_code == 404
    assert me(client, grace_key).status_code == 200


def test_the_keys_page_needs_a_login(client):
    r = client.get(PAGE)
    assert r.status_code == 302 and redirect_to(r)[0] == "/login"
    html = client.get("/login").get_data(as_text=True)
    r = client.post(f"{PAGE}/1/revoke", data={"csrf_token": csrf_from(html)})
    assert r.status_code == 302 and redirect_to(r)[0] == "/login"


def test_keys_are_listed_and_created_on_the_profile_page(client, users, auth):
    from conftest import csrf_from
    users.create("ada")
    auth.login("ada")
    reenter_password(client)
    page = client.get("/profile").get_data(as_text=True)
    assert "You have no API keys." in page and 'name="name"' in page
    r = client.post("/profile/api-keys", data={"csrf_token": csrf_from(page), "name": "from-profile"})
    assert r.status_code == 201
    page = client.get("/profile").get_data(as_text=True)
    assert "from-profile" in page and "Revoke" in page
