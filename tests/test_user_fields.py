"""Issue 14: custom profile fields (Profile.Fields and the keystead_user_fields hook) and the
free-form `metadata` object: declaration checked at start-up, storage (jsonb on
PostgreSQL), validation per type, who may set and see which field, the Sign Up page,
/profile, the admin person page, the API, the CSV import and export, and openapi.json."""
from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys

import pytest

from api_support import API, assert_error, bearer, in_db, login
from conftest import POSTGRES_URL, STRONG_PASSWORD, post_form
from keystead import hookimpl
from keystead.config import ConfigError
from live import browser, make_live_server, watch_policy_violations  # noqa: F401  (pytest fixtures)
from pages import error_beside, field_errors

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

FIELDS = [
    {"name": "team", "label": "Team", "type": "choice", "options": ["red", "blue"],
     "required": True, "at_signup": True, "visible_to": "everyone"},
    {"name": "website", "label": "Web site", "type": "url", "at_signup": True},
    {"name": "badge", "label": "Badge number", "type": "text", "editable_by": "admin",
     "visible_to": "admin"},
    {"name": "nickname", "label": "Nickname", "type": "text", "max_length": 20},
    {"name": "backup_email", "label": "Backup address", "type": "email"},
    {"name": "newsletter", "label": "Newsletter", "type": "bool"},
    {"name": "birthday", "label": "Birthday", "type": "date"},
]


@pytest.fixture
def app(make_app):
    return make_app({"Profile.Fields": FIELDS})


@pytest.fixture
def ada(app, users):
    return users.create("ada", email="ada@example.com")[0]


@pytest.fixture
def ada_h(client, ada):
    return bearer(login(client, "ada")["access_token"])


def patch_me(client, headers, body):
    return client.patch(f"{API}/users/me", headers=headers, json=body)


def stored_fields(app, username: str) -> dict:
    from keystead.models import User
    return in_db(app, lambda: User.get(User.username == username).fields)


def register(client, headers=None, **extra):
    body = {"username": "grace", "email": "grace@example.com", "password": STRONG_PASSWORD, **extra}
    return client.post(f"{API}/auth/register", json=body, headers=headers or {})


# ---------------------------------------------------------------- declaration

@pytest.mark.parametrize("declaration, named, allowed", [
    ({"name": "team", "label": "Team", "type": "number"}, 'field "team"', "one of text, email"),
    ({"name": "team", "label": "Team", "type": "choice"}, 'field "team"', "options"),
    ({"name": "team", "label": "Team", "type": "text", "options": ["a"]}, 'field "team"', "choice"),
    ({"name": "email", "label": "Email", "type": "text"}, 'field "email"', "not a key of the user"),
    ({"name": "Team!", "label": "Team", "type": "text"}, 'field "Team!"', "lower-case letters"),
    ({"name": "team", "label": "Team", "type": "text", "editable_by": "everyone"}, 'field "team"',
     "one of self, admin"),
    ({"name": "team", "label": "Team", "type": "text", "visible_to": "public"}, 'field "team"',
     "one of self, admin, everyone"),
    ({"name": "team", "label": "Team", "type": "text", "colour": "red"}, 'field "team"', "only the keys"),
    ({"name": "team", "label": "Team", "type": "text", "required": "yes"}, 'field "team"', "true or false"),
])
def test_a_bad_declaration_refuses_start_up_with_one_line_naming_the_field(make_app, declaration, named,
                                                                            allowed):
    with pytest.raises(ConfigError) as e:
        make_app({"Profile.Fields": [declaration]})
    message = str(e.value)
    assert "\n" not in message and "Profile.Fields" in message
    assert named in message and allowed in message


def test_a_name_declared_twice_refuses_start_up(make_app):
    twice = [{"name": "team", "label": "Team", "type": "text"}] * 2
    with pytest.raises(ConfigError, match='field "team" is declared twice'):
        make_app({"Profile.Fields": twice})


def test_the_command_line_refuses_to_start_with_a_bad_declaration(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYSTEAD_")}
    env.update(KEYSTEAD_INSTANCE=str(tmp_path / "inst"),
               KEYSTEAD_PROFILE_FIELDS='[{name = "team", label = "Team", type = "colour"}]')
    p = subprocess.run([sys.executable, "-m", "keystead.cli", "users", "list"], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode != 0
    lines = [line for line in p.stderr.splitlines() if "configuration error" in line]
    assert len(lines) == 1, p.stderr
    assert 'field "team"' in lines[0] and 'type = "colour"' in lines[0] and "Traceback" not in p.stderr


def test_the_environment_declares_fields_as_a_whole(monkeypatch, make_app, users, client):
    monkeypatch.setenv("KEYSTEAD_PROFILE_FIELDS", '[{name = "office", label = "Office", type = "text"}]')
    app = make_app()
    users.app = app
    users.create("ada")
    headers = bearer(login(app.test_client(), "ada")["access_token"])
    r = app.test_client().patch(f"{API}/users/me", headers=headers, json={"fields": {"office": "Kyoto"}})
    assert r.status_code == 200 and r.get_json()["fields"] == {"office": "Kyoto"}


class OfficePlugin:
    """A plugin that adds a field, as a directory integration would."""

    @hookimpl
    def keystead_user_fields(self):
        return [{"name": "office", "label": "Office", "type": "choice", "options": ["Oslo", "Lima"],
                 "visible_to": "everyone"}]


def test_a_plugin_adds_fields_through_the_hook(make_app):
    app = make_app({"Profile.Fields": FIELDS}, plugins=[OfficePlugin()])
    in_db(app, lambda: __import__("keystead.accounts", fromlist=["create_user"]).create_user(
        "ada", "ada@example.com", STRONG_PASSWORD))
    client = app.test_client()
    headers = bearer(login(client, "ada")["access_token"])
    r = patch_me(client, headers, {"fields": {"office": "Lima", "team": "red"}})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["fields"]["office"] == "Lima" and r.get_json()["fields"]["team"] == "red"
    assert_error(patch_me(client, headers, {"fields": {"office": "Paris"}}), 422)
    schema = client.get(f"{API}/openapi.json").get_json()["components"]["schemas"]["UserFields"]
    assert schema["properties"]["office"]["enum"] == ["Oslo", "Lima", None]


class ClashingPlugin:
    @hookimpl
    def keystead_user_fields(self):
        return [{"name": "team", "label": "Team", "type": "text"}]


def test_a_plugin_field_that_clashes_refuses_start_up_naming_the_plugin(make_app):
    with pytest.raises(ConfigError) as e:
        make_app({"Profile.Fields": FIELDS}, plugins=[ClashingPlugin()])
    assert "ClashingPlugin" in str(e.value) and 'field "team" is declared twice' in str(e.value)


# ---------------------------------------------------------------- values per type

@pytest.mark.parametrize("name, good, stored, bad, message", [
    ("team", "blue", "blue", "green", "Choose one of red, blue."),
    ("website", "https://example.org/ada", "https://example.org/ada", "javascript:alert(1)", "http://"),
    ("website", "http://example.org", "http://example.org", "ftp://example.org", "http://"),
    ("nickname", "  Countess  ", "Countess", "x" * 21, "at most 20 characters"),
    ("backup_email", "ada@Example.org", "ada@example.org", "not-an-address", "email address"),
    ("newsletter", True, True, "yes", "true or false"),
    ("birthday", "1815-12-10", "1815-12-10", "1815-13-10", "YYYY-MM-DD"),
    ("birthday", "1815-12-10", "1815-12-10", "10/12/1815", "YYYY-MM-DD"),
    ("nickname", "Ada", "Ada", "A\x00da", "NUL"),
    ("nickname", "Ada", "Ada", 12, "string"),
])
def test_each_type_takes_good_values_and_refuses_bad_ones_naming_the_field(
        app, client, ada_h, name, good, stored, bad, message):
    r = patch_me(client, ada_h, {"fields": {name: good}})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["fields"][name] == stored
    assert stored_fields(app, "ada")[name] == stored
    error = assert_error(patch_me(client, ada_h, {"fields": {name: bad}}), 422, "validation_failed")
    assert message in error["fields"][f"fields.{name}"]
    assert stored_fields(app, "ada")[name] == stored  # unchanged


def test_unknown_field_names_are_refused_naming_them(client, ada_h):
    error = assert_error(patch_me(client, ada_h, {"fields": {"team": "red", "shoe_size": "44"}}), 422)
    assert set(error["fields"]) == {"fields.shoe_size"}


def test_fields_and_metadata_must_be_objects(client, ada_h):
    error = assert_error(patch_me(client, ada_h, {"fields": ["team"], "metadata": "x"}), 422)
    assert error["fields"] == {"fields": "Must be a JSON object.", "metadata": "Must be a JSON object."}


def test_nul_and_lone_surrogates_inside_objects_are_refused(app, client, ada_h):
    raw = '{"fields": {"nickname": "a\\u0000b"}}'
    r = client.patch(f"{API}/users/me", headers={**ada_h, "Content-Type": "application/json"}, data=raw)
    assert "fields.nickname" in assert_error(r, 422)["fields"]
    raw = '{"metadata": {"deep": [{"x": "\\ud800"}]}}'
    r = client.patch(f"{API}/users/me", headers={**ada_h, "Content-Type": "application/json"}, data=raw)
    assert "metadata.deep" in assert_error(r, 422)["fields"]
    raw = '{"metadata": {"k\\u0000": 1}}'
    r = client.patch(f"{API}/users/me", headers={**ada_h, "Content-Type": "application/json"}, data=raw)
    assert "metadata" in assert_error(r, 422)["fields"]
    assert in_db(app, lambda: __import__("keystead.models", fromlist=["User"]).User.get(
        username="ada").metadata) == {}


def test_null_clears_a_field(app, client, ada_h):
    patch_me(client, ada_h, {"fields": {"nickname": "Countess"}})
    r = patch_me(client, ada_h, {"fields": {"nickname": None}})
    assert r.status_code == 200 and r.get_json()["fields"]["nickname"] is None
    assert "nickname" not in stored_fields(app, "ada")


# ---------------------------------------------------------------- who sets, who sees

def test_a_person_cannot_set_an_administrators_field(app, client, ada_h):
    error = assert_error(patch_me(client, ada_h, {"fields": {"badge": "007", "nickname": "A"}}), 422)
    assert error["fields"] == {"fields.badge": "Only an administrator can change this field."}
    assert stored_fields(app, "ada") == {}  # all or nothing: the nickname was not kept either


def test_an_administrator_sets_every_field_of_a_person(app, client, ada, admin_h):
    r = client.patch(f"{API}/users/{ada.id}", headers=admin_h,
                     json={"fields": {"badge": "007", "team": "red"}, "first_name": "Ada"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["fields"]["badge"] == "007" and r.get_json()["first_name"] == "Ada"
    assert stored_fields(app, "ada") == {"badge": "007", "team": "red"}


def test_a_person_cannot_clear_a_required_field_but_an_administrator_can(app, client, ada, ada_h, admin_h):
    patch_me(client, ada_h, {"fields": {"team": "red"}})
    error = assert_error(patch_me(client, ada_h, {"fields": {"team": None}}), 422)
    assert error["fields"] == {"fields.team": "This field is required."}
    assert stored_fields(app, "ada") == {"team": "red"}
    r = client.patch(f"{API}/users/{ada.id}", headers=admin_h, json={"fields": {"team": None}})
    assert r.status_code == 200 and stored_fields(app, "ada") == {}


def test_a_person_does_not_see_fields_visible_to_administrators_only(app, client, ada, ada_h, admin_h):
    client.patch(f"{API}/users/{ada.id}", headers=admin_h, json={"fields": {"badge": "007"}})
    own = client.get(f"{API}/users/me", headers=ada_h).get_json()["fields"]
    assert "badge" not in own and {"team", "nickname", "website"} <= set(own)
    assert "007" not in client.get("/api/v1/users/me", headers=ada_h).get_data(as_text=True)
    seen_by_admin = client.get(f"{API}/users/{ada.id}", headers=admin_h).get_json()["fields"]
    assert seen_by_admin["badge"] == "007"


def test_others_see_only_fields_visible_to_everyone(app, users):
    """A signed-in person without people.read who is shown someone else (a member list, say)
    sees that person's `everyone` fields only: the rule every such view calls."""
    from keystead.userfields.values import visible_fields
    ada = users.create("ada")[0]
    bob = users.create("bob")[0]
    auditor = users.create("root", role="administrator")[0]

    def check():
        from keystead.models import User
        from keystead.userfields.service import update_profile
        update_profile(None, ada, fields={"team": "red", "badge": "007", "nickname": "A"})
        fresh = User.get_by_id(ada.id)
        assert visible_fields(bob, fresh) == {"team": "red"}
        assert visible_fields(ada, fresh) == {"team": "red", "website": None, "nickname": "A",
                                              "backup_email": None, "newsletter": None, "birthday": None}
        assert visible_fields(auditor, fresh)["badge"] == "007"
    with app.test_request_context():
        in_db(app, check)


# ---------------------------------------------------------------- sign-up and creation

def test_sign_up_through_the_api_stores_the_fields_asked_there(app, client, users):
    users.create("first")
    # A stale token sent along changes nothing: sign-up reads no credentials.
    r = register(client, headers=bearer("stale"), fields={"team": "blue", "website": "https://grace.example"})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["fields"]["team"] == "blue" and "badge" not in r.get_json()["fields"]
    assert stored_fields(app, "grace") == {"team": "blue", "website": "https://grace.example"}
    headers = bearer(login(client, "grace")["access_token"])
    assert client.get(f"{API}/users/me", headers=headers).get_json()["fields"]["team"] == "blue"


def test_sign_up_needs_the_required_fields_and_refuses_others_creating_nobody(app, client, users):
    users.create("first")
    error = assert_error(register(client, fields={"nickname": "G"}, password="short"), 422)
    assert error["fields"]["fields.team"] == "This field is required."
    assert error["fields"]["fields.nickname"] == "This field is not set at sign-up."
    assert "password" in error["fields"]  # the account's own problems come with them
    error = assert_error(register(client, fields={"team": "blue", "badge": "1"}), 422)
    assert set(error["fields"]) == {"fields.badge"}
    from keystead.models import User
    assert in_db(app, lambda: User.select().where(User.username == "grace").count()) == 0


def test_an_administrator_creates_a_person_with_fields_and_metadata(app, client, admin_h):
    r = client.post(f"{API}/users", headers=admin_h,
                    json={"username": "lin", "email": "lin@example.com", "fields": {"badge": "12"},
                          "metadata": {"plan": "pro"}})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["fields"]["badge"] == "12" and r.get_json()["metadata"] == {"plan": "pro"}
    error = assert_error(client.post(f"{API}/users", headers=admin_h,
                                     json={"username": "mo", "fields": {"team": "green"}}), 422)
    assert set(error["fields"]) == {"fields.team"}
    from keystead.models import User
    assert in_db(app, lambda: User.select().where(User.username == "mo").count()) == 0


# ---------------------------------------------------------------- metadata

def test_metadata_is_an_object_the_person_and_administrators_set(app, client, ada, ada_h, admin_h):
    r = patch_me(client, ada_h, {"metadata": {"theme": "dark", "n": [1, 2, {"deep": True}]}})
    assert r.status_code == 200 and r.get_json()["metadata"]["n"][2] == {"deep": True}
    assert client.get(f"{API}/users/me", headers=ada_h).get_json()["metadata"]["theme"] == "dark"
    r = client.patch(f"{API}/users/{ada.id}", headers=admin_h, json={"metadata": {"plan": "pro"}})
    assert r.status_code == 200 and r.get_json()["metadata"] == {"plan": "pro"}  # replaced whole


def test_metadata_larger_than_16_kb_is_refused(app, client, ada_h):
    fits = {"blob": "x" * (16 * 1024 - len('{"blob":""}'))}
    assert patch_me(client, ada_h, {"metadata": fits}).status_code == 200
    too_big = {"blob": "x" * (16 * 1024 - len('{"blob":""}') + 1)}
    error = assert_error(patch_me(client, ada_h, {"metadata": too_big}), 422)
    assert set(error["fields"]) == {"metadata"} and "16384 bytes" in error["fields"]["metadata"]
    from keystead.models import User
    assert in_db(app, lambda: User.get(username="ada").metadata) == fits


def test_metadata_is_never_on_the_persons_own_page(app, client, ada, ada_h, auth):
    patch_me(client, ada_h, {"metadata": {"secret_plan": "world-domination"}})
    auth.login("ada")
    assert "world-domination" not in client.get("/profile").get_data(as_text=True)


# ---------------------------------------------------------------- pages

def register_form(client, **data):
    base = {"username": "grace", "email": "grace@example.com", "password": STRONG_PASSWORD,
            "password_confirm": STRONG_PASSWORD}
    return post_form(client, "/register", {**base, **data})


def test_the_sign_up_page_asks_the_fields_marked_for_it_with_messages_beside_them(app, client, users):
    users.create("first")
    page = client.get("/register").get_data(as_text=True)
    assert 'name="field_team"' in page and 'name="field_website"' in page
    assert 'name="field_badge"' not in page and 'name="field_nickname"' not in page
    r = register_form(client, field_team="", field_website="ftp://grace.example")
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    assert error_beside(page, "field_team") == "This field is required."
    assert "http://" in error_beside(page, "field_website")
    r = register_form(client, field_team="red", field_website="https://grace.example")
    assert r.status_code == 303
    assert stored_fields(app, "grace") == {"team": "red", "website": "https://grace.example"}


def test_the_profile_page_shows_and_edits_the_persons_own_fields(app, client, ada, auth):
    auth.login("ada")
    page = client.get("/profile").get_data(as_text=True)
    assert "Nickname" in page and 'name="field_nickname"' in page
    assert "Badge number" not in page and 'name="field_badge"' not in page
    r = post_form(client, "/profile/fields", {"field_team": "blue", "field_nickname": "x" * 30,
                                              "field_newsletter": "true"}, page="/profile")
    assert r.status_code == 422
    assert field_errors(r.get_data(as_text=True)) == {"field_nickname": "Must be at most 20 characters."}
    r = post_form(client, "/profile/fields", {"field_team": "blue", "field_nickname": "Countess",
                                              "field_newsletter": "true", "field_birthday": "1815-12-10",
                                              "field_badge": "forged"}, page="/profile")
    assert r.status_code == 303
    assert stored_fields(app, "ada") == {"team": "blue", "nickname": "Countess", "newsletter": True,
                                         "birthday": "1815-12-10"}  # the forged badge is not taken
    assert "Countess" in client.get("/profile").get_data(as_text=True)


def test_the_admin_person_page_shows_every_field_and_the_metadata_and_edits_fields(app, client, ada,
                                                                                    admin, auth):
    def set_metadata():
        from keystead.userfields.service import update_profile
        update_profile(None, ada, metadata={"plan": "pro-plan-42"})
    in_db(app, set_metadata)
    auth.login("root")
    page = client.get(f"/admin/people/{ada.id}").get_data(as_text=True)
    assert "Badge number" in page and 'name="field_badge"' in page and "pro-plan-42" in page
    r = post_form(client, f"/admin/people/{ada.id}/fields", {"field_team": "red", "field_badge": "007"},
                  page=f"/admin/people/{ada.id}")
    assert r.status_code == 303
    assert stored_fields(app, "ada") == {"team": "red", "badge": "007"}
    r = post_form(client, f"/admin/people/{ada.id}/fields", {"field_team": "green"},
                  page=f"/admin/people/{ada.id}")
    assert r.status_code == 422 and error_beside(r.get_data(as_text=True), "field_team")


def test_a_viewer_cannot_use_the_administrators_fields_form(app, client, ada, users, auth):
    bob = users.create("bob")[0]
    auth.login("bob")
    r = post_form(client, f"/admin/people/{ada.id}/fields", {"field_badge": "007"}, page="/profile")
    assert r.status_code == 403
    assert stored_fields(app, "ada") == {}
    # Not even their own page's form: the administrators' form needs people.manage.
    assert client.get(f"/admin/people/{bob.id}/fields").status_code == 403
    r = post_form(client, f"/admin/people/{bob.id}/fields", {"field_nickname": "B"}, page="/profile")
    assert r.status_code == 403 and stored_fields(app, "bob") == {}


# ---------------------------------------------------------------- CSV

def test_export_then_import_round_trips_the_fields(app, runner, tmp_path, client, admin_h):
    for name, fields in (("ann", {"team": "red", "nickname": "=HYPERLINK(\"x\")", "newsletter": True,
                                  "birthday": "1990-01-31"}),
                         ("bob", {"team": "blue", "newsletter": False})):
        r = client.post(f"{API}/users", headers=admin_h,
                        json={"username": name, "email": f"{name}@example.com", "first_name": "-1",
                              "fields": fields})
        assert r.status_code == 201, r.get_json()
    out = tmp_path / "people.csv"
    result = runner.invoke(args=["users", "export", str(out)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert "field:team" in rows[0] and "password" not in rows[0]
    ann = next(r for r in rows if r["username"] == "ann")
    assert ann["field:nickname"].startswith("'=")  # a spreadsheet shows it, never runs it
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    before = {u: stored_fields(app, u) for u in ("ann", "bob")}

    def forget():
        from keystead.models import User
        User.delete().where(User.username.in_(["ann", "bob"])).execute()
    in_db(app, forget)
    result = runner.invoke(args=["users", "import", str(out)])
    assert result.exit_code == 1  # root is already there
    text = out.read_text(encoding="utf-8")
    kept = [line for line in text.splitlines() if not line.startswith("root,")]
    again = tmp_path / "again.csv"
    again.write_text("\n".join(kept) + "\n", encoding="utf-8")
    result = runner.invoke(args=["users", "import", str(again)])
    assert result.exit_code == 0, result.output
    assert {u: stored_fields(app, u) for u in ("ann", "bob")} == before
    from keystead.models import User
    assert in_db(app, lambda: User.get(username="bob").first_name) == "-1"
    shown = runner.invoke(args=["users", "show", "ann"]).output
    assert "field:team:" in shown and "red" in shown and "field:birthday:" in shown
    listing = runner.invoke(args=["users", "export"]).output
    assert listing.splitlines()[0].endswith("field:newsletter,field:birthday")


def test_import_refuses_a_bad_field_value_naming_the_line_and_column(app, runner, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("username,email,field:team\ncid,cid@example.com,green\n", encoding="utf-8")
    result = runner.invoke(args=["users", "import", str(src)])
    assert result.exit_code == 1
    assert "line 2: field:team: Choose one of red, blue." in result.output
    src.write_text("username,field:shoe_size\ncid,44\n", encoding="utf-8")
    result = runner.invoke(args=["users", "import", str(src)])
    assert result.exit_code == 1 and "field:team" in result.output  # the allowed columns


# ---------------------------------------------------------------- OpenAPI and storage

def test_openapi_describes_the_declared_fields(client):
    doc = client.get(f"{API}/openapi.json").get_json()
    schemas = doc["components"]["schemas"]
    assert schemas["User"]["properties"]["fields"] == {"$ref": "#/components/schemas/UserFields"}
    props = schemas["UserFields"]["properties"]
    assert list(props) == [f["name"] for f in FIELDS]
    assert props["team"]["enum"] == ["red", "blue", None]
    assert props["newsletter"]["type"] == ["boolean", "null"]
    assert props["birthday"]["format"] == "date" and props["backup_email"]["format"] == "email"
    assert props["website"]["format"] == "uri" and props["nickname"]["maxLength"] == 20
    assert schemas["UserFields"]["additionalProperties"] is False
    me = doc["paths"]["/users/me"]["patch"]["requestBody"]["content"]["application/json"]["schema"]
    assert me["properties"]["fields"] == {"$ref": "#/components/schemas/UserFields"}
    assert me["properties"]["metadata"] == {"$ref": "#/components/schemas/Metadata"}


@pytest.mark.skipif(not POSTGRES_URL, reason="PostgreSQL only (KEYSTEAD_TEST_POSTGRES_URL)")
def test_on_postgresql_the_columns_are_jsonb_and_queryable(app, client, ada, ada_h):
    patch_me(client, ada_h, {"fields": {"team": "blue"}, "metadata": {"plan": {"tier": 3}}})
    db = app.extensions["keystead.db"]

    def query():
        types = dict(db.execute_sql(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'user' AND column_name IN ('fields', 'metadata')").fetchall())
        found = db.execute_sql("""SELECT username FROM "user" WHERE fields->>'team' = %s""",
                               ("blue",)).fetchall()
        tier = db.execute_sql("""SELECT metadata #>> '{plan,tier}' FROM "user" WHERE username = 'ada'""").fetchone()
        return types, found, tier
    types, found, tier = in_db(app, query)
    assert types == {"fields": "jsonb", "metadata": "jsonb"}
    assert found == [("ada",)] and tier == ("3",)


def test_on_sqlite_the_columns_hold_json_text(app, client, ada, ada_h):
    if POSTGRES_URL:
        pytest.skip("SQLite only")
    patch_me(client, ada_h, {"fields": {"team": "blue"}})
    db = app.extensions["keystead.db"]
    raw = in_db(app, lambda: db.execute_sql(
        """SELECT fields, json_extract(fields, '$.team') FROM "user" WHERE username = 'ada'""").fetchone())
    assert json.loads(raw[0]) == {"team": "blue"} and raw[1] == "blue"


# ---------------------------------------------------------------- in a browser

@pytest.mark.browser
def test_in_chromium_sign_up_asks_the_fields_checks_them_and_the_api_returns_them(  # noqa: F811
        browser, make_live_server):
    server = make_live_server({"Profile.Fields": FIELDS})
    page = browser.new_context().new_page()
    page.set_default_timeout(15000)
    violations = watch_policy_violations(page)
    page.goto(server("/register"))
    assert page.get_by_label("Team").is_visible() and page.get_by_label("Web site (optional)").is_visible()
    assert page.get_by_label("Badge number").count() == 0
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("Password", exact=True).fill(STRONG_PASSWORD)
    page.get_by_label("Repeat the password").fill(STRONG_PASSWORD)
    page.get_by_label("Web site (optional)").fill("ftp://ada.example")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_role("button", name="Sign up").click()
    assert answer.value.status == 422
    assert page.locator("#field_team-error").inner_text() == "This field is required."
    assert "http://" in page.locator("#field_website-error").inner_text()
    assert page.get_by_label("Web site (optional)").get_attribute("aria-invalid") == "true"

    page.get_by_label("Team").select_option("blue")
    page.get_by_label("Web site (optional)").fill("https://ada.example/")
    page.get_by_label("Password", exact=True).fill(STRONG_PASSWORD)
    page.get_by_label("Repeat the password").fill(STRONG_PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url(server("/profile"))
    assert page.locator("#profile-fields").get_by_text("https://ada.example/").is_visible()

    tokens = page.request.post(server("/api/v1/auth/login"),
                               data={"username": "ada", "password": STRONG_PASSWORD}).json()
    me = page.request.get(server("/api/v1/users/me"),
                          headers={"Authorization": f"Bearer {tokens['access_token']}"}).json()
    assert me["fields"]["team"] == "blue" and me["fields"]["website"] == "https://ada.example/"
    assert violations == []
