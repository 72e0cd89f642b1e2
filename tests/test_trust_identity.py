"""Issue 12 item 1: ids are never reused, and a browser session, an API token, an API key or
a one-time link opens only the account it was issued to, even after deletions and even if
a row id came back."""
from __future__ import annotations

import re

from api_support import API, bearer, in_db, login, me_status, refresh
from keystead.models import User
from conftest import STRONG_PASSWORD, AuthActions, UserFactory


def run(runner, *args):
    result = runner.invoke(args=list(args))
    assert result.exit_code == 0, result.output
    return result


def opens_profile_as(client) -> str | None:
    """The username /profile shows to this client's session, or None when it redirects."""
    r = client.get("/profile")
    if r.status_code != 200:
        assert r.status_code in (302, 303) and "/login" in r.headers["Location"]
        return None
    return r.get_data(as_text=True)


def user_named(app, username: str) -> User:
    return in_db(app, lambda: User.get(User.username == username))


def forge_id_reuse(app, old: User, new: User) -> None:
    """What must never matter: the old person's row is gone and the new person now has the
    old id, while every row that named the old id (tokens, keys, links) survived. Foreign
    keys are set aside to build this (SQLite: a connection with them off; PostgreSQL:
    replica mode, which skips the foreign-key triggers)."""
    db = app.extensions["keystead.db"]

    def swap():
        sqlite = "sqlite" in type(db).__name__.lower()
        if sqlite:
            db.execute_sql("PRAGMA foreign_keys = OFF")
        try:
            with db.atomic():
                if not sqlite:
                    db.execute_sql("SET LOCAL session_replication_role = replica")
                db.execute_sql(f'DELETE FROM "user" WHERE id = {db.param}', (old.id,))
                db.execute_sql(f'UPDATE "user" SET id = {db.param} WHERE id = {db.param}', (old.id, new.id))
        finally:
            if sqlite:
                db.execute_sql("PRAGMA foreign_keys = ON")
    in_db(app, swap)
    assert user_named(app, new.username).id == old.id


def test_a_deleted_persons_browser_cookie_does_not_open_the_next_account(app, runner):
    """`keystead users delete A`, `keystead users create B`: A's kept cookie opens nothing."""
    run(runner, "users", "create", "alice", "--email", "alice@example.com", "--password", STRONG_PASSWORD)
    alice_browser = app.test_client()
    assert AuthActions(alice_browser).login("alice").status_code == 303
    assert "alice" in opens_profile_as(alice_browser)

    run(runner, "users", "delete", "alice", "--yes")
    run(runner, "users", "create", "bob", "--email", "bob@example.com", "--password", STRONG_PASSWORD)

    assert opens_profile_as(alice_browser) is None  # redirected to the login page
    bob_browser = app.test_client()
    assert AuthActions(bob_browser).login("bob").status_code == 303
    assert "bob" in opens_profile_as(bob_browser)


def test_ids_are_never_reused_after_the_newest_person_is_deleted(app, runner, users):
    alice, _ = users.create("alice")
    run(runner, "users", "delete", "alice", "--yes")
    bob, _ = users.create("bob")
    assert bob.id > alice.id
    from keystead.groups import create_group, delete_group
    first = in_db(app, lambda: create_group("Team One"))
    in_db(app, lambda: delete_group(first))
    second = in_db(app, lambda: create_group("Team Two"))
    assert second.id > first.id


def test_a_forged_reuse_of_a_row_id_opens_nothing_that_was_issued_before(app, runner, users):
    """Independently of ids never being reused: even with the new person under the old id,
    the old cookie, access token, refresh token and API key do not open the new account."""
    from keystead.apikeys import create_api_key
    alice, _ = users.create("alice")
    alice_browser = app.test_client()
    assert AuthActions(alice_browser).login("alice").status_code == 303
    api = app.test_client()
    tokens = login(api, "alice")
    _, key = in_db(app, lambda: create_api_key(User.get_by_id(alice.id), "laptop"))
    assert api.get(f"{API}/users/me", headers={"Authorization": f"Key {key}"}).status_code == 200

    bob, _ = users.create("bob")
    forge_id_reuse(app, alice, bob)

    assert opens_profile_as(alice_browser) is None
    assert me_status(api, tokens["access_token"]) == 401
    assert refresh(api, tokens["refresh_token"]).status_code == 401
    assert api.get(f"{API}/users/me", headers={"Authorization": f"Key {key}"}).status_code == 401
    # Bob himself, under the reused id, is a working account.
    bob_tokens = login(api, "bob")
    me = api.get(f"{API}/users/me", headers=bearer(bob_tokens["access_token"])).get_json()
    assert me["username"] == "bob" and me["id"] == alice.id


def test_a_forged_reuse_of_a_row_id_does_not_pass_an_old_confirmation_link(app, users):
    """Two people invited without a password have the same password fingerprint, so only
    the binding to the person stops the first one's link from setting the second's password."""
    from keystead.links import make_link
    alice, _ = users.create("alice", password=None)
    url = in_db(app, lambda: make_link(User.get_by_id(alice.id), "confirm"))
    path = url.split("keystead.test", 1)[1]
    client = app.test_client()
    assert client.get(path).status_code == 200  # the link works for alice

    bob, _ = users.create("bob", password=None)
    forge_id_reuse(app, alice, bob)

    page = client.get(path)
    assert page.status_code == 400
    assert "bob" not in page.get_data(as_text=True)


def test_a_deleted_persons_tokens_and_key_answer_401_after_a_new_person_exists(app, runner, users):
    from keystead.apikeys import create_api_key
    alice, _ = users.create("alice")
    api = app.test_client()
    tokens = login(api, "alice")
    _, key = in_db(app, lambda: create_api_key(User.get_by_id(alice.id), "laptop"))

    run(runner, "users", "delete", "alice", "--yes")
    run(runner, "users", "create", "bob", "--email", "bob@example.com", "--password", STRONG_PASSWORD)
    login(api, "bob")  # bob has tokens of his own now

    assert me_status(api, tokens["access_token"]) == 401
    assert refresh(api, tokens["refresh_token"]).status_code == 401
    assert api.get(f"{API}/users/me", headers={"Authorization": f"Key {key}"}).status_code == 401


def test_the_audit_log_does_not_mix_a_deleted_person_with_the_next(app, client, runner, admin_h):
    run(runner, "users", "create", "alice", "--email", "alice@example.com", "--password", STRONG_PASSWORD)
    login(app.test_client(), "alice")
    run(runner, "users", "delete", "alice", "--yes")
    run(runner, "users", "create", "bob", "--email", "bob@example.com", "--password", STRONG_PASSWORD)
    login(app.test_client(), "bob")
    bob_id = user_named(app, "bob").id

    def events(**query):
        r = client.get(f"{API}/audit", query_string={"per_page": 200, **query}, headers=admin_h)
        assert r.status_code == 200, r.get_data(as_text=True)
        return r.get_json()["results"]

    alices = events(person="alice")
    assert {e["event"] for e in alices} >= {"user_create", "login", "user_delete"}
    # Every event that names alice carries an id that is not bob's...
    for e in alices:
        for side in ("actor", "target"):
            if e[side] and e[side]["username"] == "alice":
                assert e[side]["id"] != bob_id
    # ...and every event carrying bob's id is about bob.
    for e in events():
        for side in ("actor", "target"):
            if e[side] and e[side]["id"] == bob_id:
                assert e[side]["username"] == "bob", e


def test_every_person_gets_a_distinct_random_uniquifier(app, users):
    people = [users.create()[0] for _ in range(3)]
    keys = [in_db(app, lambda p=p: User.get_by_id(p.id).uniquifier) for p in people]
    assert len(set(keys)) == 3
    assert all(re.fullmatch(r"[0-9a-f]{32}", k) for k in keys)  # 128 random bits


def test_logout_still_ends_every_copy_of_the_session(app, users):
    users.create("alice")
    first, second = app.test_client(), app.test_client()
    for browser in (first, second):
        assert AuthActions(browser).login("alice").status_code == 303
    AuthActions(first).logout()
    assert opens_profile_as(second) is None


def test_an_old_style_session_cookie_without_the_uniquifier_is_refused(app, users):
    alice, _ = users.create("alice")
    client = app.test_client()
    with client.session_transaction() as s:
        s["_user_id"] = f"{alice.id}:0"  # what sessions held before the uniquifier
        s["login_at"] = s["seen_at"] = 2**31
    assert opens_profile_as(client) is None


def test_a_new_person_made_by_insert_many_gets_a_uniquifier_too(app):
    def bulk():
        User.insert_many([{"username": f"bulk{n}", "username_key": f"bulk{n}"} for n in range(3)]).execute()
        return {u.uniquifier for u in User.select()}
    assert len(in_db(app, bulk)) == 3


def test_a_pending_second_factor_step_does_not_carry_over_to_someone_else(app, users):
    """Alice's right password starts the two-factor step; if bob then held her id, her own
    right code must not log this browser in as bob."""
    from conftest import csrf_from
    from pages import submit
    from totp_support import code_for, enable_for
    alice, _ = users.create("alice")
    alice_secret, _ = enable_for(app, "alice")
    bob, _ = users.create("bob")
    client = app.test_client()
    r = submit(client, "/login", {"username": "alice", "password": STRONG_PASSWORD})
    assert r.headers["Location"] == "/login/two-factor"

    forge_id_reuse(app, alice, bob)

    step = client.get("/login/two-factor")
    if step.status_code == 200:  # the step still offered: the code must not open bob's account
        client.post("/login/two-factor", data={"csrf_token": csrf_from(step.get_data(as_text=True)),
                                               "code": code_for(alice_secret, 1)})
    else:
        assert step.headers["Location"].startswith("/login")
    assert opens_profile_as(client) is None


# ---------------------------------------------------------------- upgrading a database

def _schema_objects(db) -> set[str]:
    """Names of the indexes and triggers of the database (SQLite) or its indexes (PostgreSQL)."""
    if "sqlite" in type(db).__name__.lower():
        rows = db.execute_sql("SELECT type || ' ' || name FROM sqlite_master "
                              "WHERE type IN ('index', 'trigger') AND sql IS NOT NULL").fetchall()
    else:
        rows = db.execute_sql("SELECT 'index ' || indexname FROM pg_indexes WHERE schemaname = 'public' "
                              "UNION SELECT 'trigger ' || tgname FROM pg_trigger WHERE NOT tgisinternal").fetchall()
    return {r[0] for r in rows}


def _back_to_version_8(app) -> None:
    """Turn this database into what version 8 left: no uniquifier, no user_key, and (SQLite)
    no AUTOINCREMENT, as every database made before this change is."""
    db = app.extensions["keystead.db"]

    def downgrade():
        sqlite = "sqlite" in type(db).__name__.lower()
        db.execute_sql('DROP INDEX "user_uniquifier"')
        db.execute_sql('ALTER TABLE "user" DROP COLUMN "uniquifier"')
        for table in ("token", "one_time_link", "api_key"):
            db.execute_sql(f'ALTER TABLE "{table}" DROP COLUMN "user_key"')
        db.execute_sql("DELETE FROM schema_version WHERE version = 9")
        if sqlite:
            db.execute_sql("PRAGMA writable_schema = ON")
            db.execute_sql("UPDATE sqlite_master SET sql = replace(sql, ' AUTOINCREMENT', '') WHERE type = 'table'")
            db.execute_sql("PRAGMA writable_schema = OFF")
            db.execute_sql("DELETE FROM sqlite_sequence")
        assert "uniquifier" not in {c.name for c in db.get_columns("user")}
    in_db(app, downgrade)
    if hasattr(db, "close_all"):
        db.close_all()
    elif not db.is_closed():
        db.close()


def test_upgrading_a_version_8_database_keeps_everything_and_binds_what_was_issued(make_app, tmp_path):
    from keystead.apikeys import create_api_key
    from keystead.groups import add_member, create_group
    from keystead.links import make_link
    from documents_support import create_text
    old_app = make_app()
    users = UserFactory(old_app)
    users.create("root", role="administrator")
    alice, _ = users.create("alice", first_name="Alice", role="publisher")  # she uploads (issue 14)
    bob, _ = users.create("bob")
    dave, _ = users.create("dave", password=None)
    carol, _ = users.create("carol")  # the newest, deleted below: only the audit log remembers her id
    api = old_app.test_client()
    tokens = login(api, "alice")
    create_text(api, tokens["access_token"], "Quarterly notes", "the zeppelin budget")
    _, key = in_db(old_app, lambda: create_api_key(User.get_by_id(alice.id), "laptop"))
    confirm_path = in_db(old_app, lambda: make_link(User.get_by_id(dave.id), "confirm")).split("keystead.test")[1]
    in_db(old_app, lambda: add_member(create_group("Team"), User.get_by_id(bob.id)))
    from keystead.accounts import delete_user
    in_db(old_app, lambda: delete_user(User.get_by_id(carol.id)))
    db = old_app.extensions["keystead.db"]
    objects_before = in_db(old_app, lambda: _schema_objects(db))
    _back_to_version_8(old_app)

    app = make_app()  # starts on the old database: m0009 runs
    db = app.extensions["keystead.db"]
    client = app.test_client()
    people = in_db(app, lambda: {u.username: (u.id, u.first_name, u.uniquifier) for u in User.select()})
    assert {name: v[:2] for name, v in people.items()} == {
        "root": (1, ""), "alice": (alice.id, "Alice"), "bob": (bob.id, ""), "dave": (dave.id, "")}
    assert len({v[2] for v in people.values()}) == 4
    assert all(re.fullmatch(r"[0-9a-f]{32}", v[2]) for v in people.values())
    assert in_db(app, lambda: _schema_objects(db)) == objects_before  # indexes and triggers kept

    # What alice and dave were issued before the upgrade still works, for them.
    assert me_status(client, tokens["access_token"]) == 200
    assert client.get(f"{API}/users/me", headers={"Authorization": f"Key {key}"}).status_code == 200
    assert client.get(confirm_path).status_code == 200
    found = client.get(f"{API}/documents/search", query_string={"q": "zeppelin"},
                       headers=bearer(tokens["access_token"])).get_json()
    assert [d["title"] for d in found["results"]] == ["Quarterly notes"]  # full-text index kept
    assert refresh(client, tokens["refresh_token"]).status_code == 200

    # Memberships, the people count and its triggers, and the cascades still hold.
    from keystead.accounts import delete_user, user_count
    from keystead.groups import find_group, members_of
    assert in_db(app, lambda: [u.username for u in members_of(find_group("Team"))[0]]) == ["bob"]
    erin, _ = UserFactory(app).create("erin")
    assert in_db(app, user_count) == 5
    assert erin.id > carol.id  # carol's id is never handed out again
    in_db(app, lambda: delete_user(User.get_by_id(alice.id)))
    assert in_db(app, user_count) == 4
    left = in_db(app, lambda: [db.execute_sql(f'SELECT COUNT(*) FROM "{t}" WHERE {c} = {db.param}',
                                              (alice.id,)).fetchone()[0]
                               for t, c in (("token", "user_id"), ("api_key", "user_id"),
                                            ("document", "owner_id"))])
    assert left == [0, 0, 0]
    if "sqlite" in type(db).__name__.lower():
        tables = in_db(app, lambda: dict(db.execute_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table'").fetchall()))
        for table in ("user", "group", "api_key", "document"):
            assert "AUTOINCREMENT" in tables[table], table
        assert in_db(app, lambda: db.execute_sql("PRAGMA integrity_check").fetchone()[0]) == "ok"
        assert in_db(app, lambda: db.execute_sql("PRAGMA foreign_key_check").fetchall()) == []
