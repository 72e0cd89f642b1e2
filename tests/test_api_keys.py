"""Personal API keys (SPEC 9): shown once, stored hashed, `Authorization: Key <key>`,
listed without the key, revoked at once; a locked or deleted user's keys stop working
(a lock revokes them: tests/test_trust_api_keys.py)."""
import hashlib

from api_support import assert_error, bearer, in_db, login
from keystead import accounts
from keystead.apikeys import ApiKey
from conftest import STRONG_PASSWORD


def key_header(key):
    return {"Authorization": f"Key {key}"}


def make_key(client, token, name="laptop"):
    r = client.post("/api/v1/users/me/api-keys", json={"name": name, "current_password": STRONG_PASSWORD},
                    headers=bearer(token))
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.get_json()


def test_a_key_is_shown_once_stored_hashed_and_acts_as_its_user(app, client, users):
    users.create("ada")
    token = login(client, "ada")["access_token"]
    made = make_key(client, token)
    assert set(made) >= {"id", "name", "key", "created_at"} and made["name"] == "laptop"
    stored = in_db(app, lambda: ApiKey.get_by_id(made["id"]))
    assert made["key"] not in (stored.digest, stored.key_id)
    assert stored.digest == hashlib.sha256(made["key"].encode()).hexdigest()
    me = client.get("/api/v1/users/me", headers=key_header(made["key"]))
    assert me.status_code == 200 and me.get_json()["username"] == "ada"
    listed = client.get("/api/v1/users/me/api-keys", headers=bearer(token)).get_json()["results"]
    assert [k["name"] for k in listed] == ["laptop"] and "key" not in listed[0]
    assert listed[0]["last_used_at"] is not None


def test_revoked_wrong_and_malformed_keys_give_401(client, users):
    users.create("ada")
    token = login(client, "ada")["access_token"]
    made = make_key(client, token)
    tampered = made["key"][:-1] + ("A" if made["key"][-1] != "A" else "B")
    for bad in (tampered, "ks_nothing", "x" * 10_000, made["key"] + "x"):
        assert_error(client.get("/api/v1/users/me", headers=key_header(bad)), 401)
    assert client.delete(f"/api/v1/users/me/api-keys/{made['id']}", headers=bearer(token)).status_code == 204
    assert_error(client.get("/api/v1/users/me", headers=key_header(made["key"])), 401)
    assert_error(client.delete(f"/api/v1/users/me/api-keys/{made['id']}", headers=bearer(token)), 404)


def test_someone_elses_key_cannot_be_revoked(client, users):
    users.create("ada")
    users.create("bob")
    ada_key = make_key(client, login(client, "ada")["access_token"])
    bob = login(client, "bob")["access_token"]
    assert_error(client.delete(f"/api/v1/users/me/api-keys/{ada_key['id']}", headers=bearer(bob)), 404)
    assert client.get("/api/v1/users/me", headers=key_header(ada_key["key"])).status_code == 200


def test_locking_or_deleting_the_user_stops_their_keys(app, client, users):
    ada, _ = users.create("ada")
    made = make_key(client, login(client, "ada")["access_token"])
    with app.test_request_context():
        accounts.set_locked(ada, True)
    assert_error(client.get("/api/v1/users/me", headers=key_header(made["key"])), 401)
    with app.test_request_context():
        accounts.set_locked(accounts.get_user(ada.id), False)
    # The lock revoked the key: unlocking does not bring it back.
    assert_error(client.get("/api/v1/users/me", headers=key_header(made["key"])), 401)
    made = make_key(client, login(client, "ada")["access_token"])
    with app.test_request_context():
        accounts.delete_user(accounts.get_user(ada.id))
    assert_error(client.get("/api/v1/users/me", headers=key_header(made["key"])), 401)
    assert in_db(app, lambda: ApiKey.select().count()) == 0


def test_a_key_needs_a_name(client, users):
    users.create("ada")
    token = login(client, "ada")["access_token"]
    for body in ({}, {"name": ""}, {"name": 5}, {"name": "x" * 101}):
        body = {**body, "current_password": STRONG_PASSWORD}
        err = assert_error(client.post("/api/v1/users/me/api-keys", json=body, headers=bearer(token)), 422)
        assert "name" in err["fields"]


def test_key_management_needs_a_signed_in_caller(client):
    assert_error(client.get("/api/v1/users/me/api-keys"), 401)
    assert_error(client.post("/api/v1/users/me/api-keys", json={"name": "x"}), 401)
