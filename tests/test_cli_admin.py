"""CLI parity with the admin pages and the API: `keystead users ...` and `keystead groups
...`, including `keystead users import FILE.csv`. Refusals are one line and exit 1."""
from __future__ import annotations

import pytest

from api_support import in_db
from keystead.models import Group, Membership, OneTimeLink, User
from conftest import STRONG_PASSWORD, AuthActions, csrf_from
from pages import path_of

NEW_PASSWORD = "a-brand-new-passphrase-7"


def run(runner, *args, input=None):
    return runner.invoke(args=list(args), input=input)


def refused(result, *words):
    """Exit 1 with one line on stderr saying why (containing `words`)."""
    assert result.exit_code == 1, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def names(app):
    return in_db(app, lambda: sorted(u.username for u in User.select()))


# ---------------------------------------------------------------- users

def test_create_with_and_without_password(app, runner, admin):
    r = run(runner, "users", "create", "bob", "--email", "bob@example.com", "--password", STRONG_PASSWORD,
            "--role", "publisher", "--first-name", "Bob")
    assert r.exit_code == 0, r.output
    assert "Created bob" in r.output and "publisher" in r.output and "/confirm/" not in r.output
    assert AuthActions(app.test_client()).login("bob").status_code == 303
    r = run(runner, "users", "create", "carol", "--email", "carol@example.com")
    assert r.exit_code == 0
    link = next(w for w in r.output.split() if "/confirm/" in w)
    client = app.test_client()
    page = client.get(path_of(link))
    assert page.status_code == 200
    client.post(path_of(link), data={"csrf_token": csrf_from(page.get_data(as_text=True)),
                                     "new_password": NEW_PASSWORD, "new_password_confirm": NEW_PASSWORD})
    assert AuthActions(app.test_client()).login("carol", NEW_PASSWORD).status_code == 303


def test_create_mails_the_link_when_email_is_configured(mail_app):
    r = mail_app.test_cli_runner().invoke(args=["users", "create", "dora", "--email", "dora@example.com"])
    assert r.exit_code == 0 and "mailed to dora@example.com" in r.output
    assert mail_app.mailbox.link_to("dora@example.com", "/confirm/") in r.output


@pytest.mark.parametrize("args, words", [
    (["users", "create", "ROOT", "--email", "x@example.com"], ["username", "taken"]),
    (["users", "create", "1abc"], ["username", "Start with a letter"]),
    (["users", "create", "fresh", "--email", "bad"], ["email"]),
    (["users", "create", "fresh", "--password", "short"], ["password"]),
    (["users", "set-role", "nobody", "viewer"], ["no person named 'nobody'"]),
    (["users", "lock", "nobody"], ["nobody"]),
    (["users", "reset-link", "nobody"], ["nobody"]),
    (["users", "delete", "nobody", "--yes"], ["nobody"]),
])
def test_refusals_are_one_line_and_change_nothing(app, runner, admin, args, words):
    refused(run(runner, *args), *words)
    assert names(app) == ["root"]


def test_invalid_role_is_refused_by_the_command_line(app, runner, admin):
    r = run(runner, "users", "set-role", "root", "emperor")
    assert r.exit_code == 2 and "emperor" in r.output


def test_set_role_lock_unlock_and_the_last_administrator(app, runner, admin, users):
    users.create("ada")
    assert run(runner, "users", "set-role", "ada", "publisher").output.strip() == "ada is now publisher."
    refused(run(runner, "users", "set-role", "root", "viewer"), "last administrator")
    refused(run(runner, "users", "lock", "root"), "last administrator")
    refused(run(runner, "users", "delete", "root", "--yes"), "last administrator")
    assert in_db(app, lambda: (User.get_by_id(admin.id).role, User.get_by_id(admin.id).locked)) == ("administrator", False)
    browser = app.test_client()
    AuthActions(browser).login("ada")
    assert browser.get("/profile").status_code == 200
    assert run(runner, "users", "lock", "ADA").exit_code == 0
    assert browser.get("/profile").status_code == 302  # the lock ended her session
    assert AuthActions(app.test_client()).login("ada").status_code == 423
    assert run(runner, "users", "unlock", "ada@example.com").output.strip() == "ada is unlocked."
    assert AuthActions(app.test_client()).login("ada").status_code == 303


def test_list_and_search(app, runner, admin, users):
    users.create("grace", first_name="Grace", last_name="Hopper")
    users.create("alan")
    r = run(runner, "users", "list")
    assert r.exit_code == 0 and "3 in all" in r.output
    r = run(runner, "users", "list", "-q", "hop")
    assert "grace" in r.output and "alan" not in r.output and "1 in all" in r.output


def test_reset_link_gives_a_reset_or_confirmation_link(app, runner, admin, users):
    users.create("ada")
    users.create("nopass", password=None)
    r = run(runner, "users", "reset-link", "ada")
    assert r.exit_code == 0 and "valid 1 hour" in r.output
    link = next(w for w in r.output.split() if "/reset-password/" in w)
    assert app.test_client().get(path_of(link)).status_code == 200
    r = run(runner, "users", "reset-link", "nopass")
    assert r.exit_code == 0 and "/confirm/" in r.output and "valid 7 days" in r.output


def test_delete_asks_unless_told_yes(app, runner, admin, users):
    ada = users.create("ada")[0]
    in_db(app, lambda: Membership.create(user=ada.id, group=Group.create(name="G", name_key="g").id))
    r = run(runner, "users", "delete", "ada", input="n\n")
    assert r.exit_code == 1 and names(app) == ["ada", "root"]
    r = run(runner, "users", "delete", "ada", input="y\n")
    assert r.exit_code == 0 and "ada has been deleted." in r.output
    assert names(app) == ["root"] and in_db(app, lambda: Membership.select().count()) == 0
    users.create("bob")
    assert run(runner, "users", "delete", "bob", "--yes").exit_code == 0


# ---------------------------------------------------------------- import

HEADER = "username,email,first_name,last_name,role,password\n"


def test_import_creates_everyone_in_batches(app, runner, admin, tmp_path):
    rows = [f"user{i:03d},user{i:03d}@example.com,First{i},Last{i},viewer," for i in range(23)]
    rows.append(f"pw_person,pw@example.com,P,W,publisher,{STRONG_PASSWORD}")
    path = tmp_path / "people.csv"
    path.write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    r = run(runner, "users", "import", str(path), "--batch-size", "5")
    assert r.exit_code == 0, r.output
    assert "Created 24 of 24 people." in r.output
    assert "Importing" in r.stderr  # the progress bar
    assert "23 have no password yet" in r.output
    assert len(names(app)) == 25
    got = in_db(app, lambda: User.get(User.username_key == "user007"))
    assert (got.email, got.first_name, got.last_name, got.role, got.account_state) == \
        ("user007@example.com", "First7", "Last7", "viewer", "unconfirmed")
    assert in_db(app, lambda: User.get(User.username_key == "pw_person").role) == "publisher"
    assert AuthActions(app.test_client()).login("pw_person").status_code == 303


def test_import_reports_bad_rows_by_line_and_creates_none_of_their_batch(app, runner, admin, tmp_path):
    lines = [
        "ok01,ok01@example.com,,,,",             # line 2  batch 1
        "ok02,ok02@example.com,,,,",             # line 3  batch 1
        "root,dup@example.com,,,,",              # line 4  batch 1: taken
        "ok04,ok04@example.com,,,,",             # line 5  batch 2
        "ok05,ok05@example.com,,,,",             # line 6  batch 2
        "ok06,ok06@example.com,,,,",             # line 7  batch 2
        "ok07,ok07@example.com,,,emperor,",      # line 8  batch 3: bad role
        "OK07,ok07b@example.com,,,,",            # line 9  batch 3: same as line 8's name
        "ok09,not-an-email,,,,",                 # line 10 batch 3: bad email
        "ok10,ok10@example.com,,,,",             # line 11 batch 4
        "ok10,other@example.com,,,,",            # line 12 batch 4: a duplicate inside the batch
    ]
    path = tmp_path / "people.csv"
    path.write_text(HEADER + "\n".join(lines) + "\n", encoding="utf-8")
    r = run(runner, "users", "import", str(path), "--batch-size", "3")
    assert r.exit_code == 1
    err = r.stderr
    assert "line 4: username: This username is taken." in err
    assert "line 8: role:" in err and "line 10: email:" in err
    assert "line 12: username: This username is taken." in err
    assert "line 9" not in err  # OK07 is fine once ok07 is refused
    assert "lines 2-4: nobody of this batch was created" in err
    assert "Error: 4 bad rows" in err
    assert "Created 3 of 11 people." in r.output
    assert names(app) == ["ok04", "ok05", "ok06", "root"]


@pytest.mark.parametrize("content, words", [
    ("", ["empty"]),
    ("name,email\nx,y\n", ["line 1", "username"]),
    ("username,email,username\n", ["line 1"]),
])
def test_import_refuses_an_unusable_header(app, runner, admin, tmp_path, content, words):
    path = tmp_path / "people.csv"
    path.write_text(content, encoding="utf-8")
    refused(run(runner, "users", "import", str(path)), *words)
    assert names(app) == ["root"]


def test_import_reports_rows_with_too_many_fields(app, runner, admin, tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("username,email\nok01,ok01@example.com\nok02,ok02@example.com,extra\n", encoding="utf-8")
    r = run(runner, "users", "import", str(path))
    assert r.exit_code == 1 and "line 3: more fields than the header has columns" in r.stderr
    assert names(app) == ["root"]


def test_import_of_a_missing_file_is_a_usage_error(runner, tmp_path):
    r = run(runner, "users", "import", str(tmp_path / "nope.csv"))
    assert r.exit_code == 2 and "nope.csv" in r.output


def test_import_accepts_a_byte_order_mark_and_header_order(app, runner, admin, tmp_path):
    path = tmp_path / "people.csv"
    path.write_bytes("\ufeffemail,username\nzoe@example.com,Zoë\n".encode("utf-8"))
    r = run(runner, "users", "import", str(path))
    assert r.exit_code == 0, r.output
    assert in_db(app, lambda: User.get(User.username_key == "zoë").email) == "zoe@example.com"


# ---------------------------------------------------------------- groups

def test_groups_commands(app, runner, admin, users):
    users.create("ada")
    users.create("bob")
    assert run(runner, "groups", "create", "Engineering").output.startswith("Created the group Engineering")
    refused(run(runner, "groups", "create", "engineering"), "already exists")
    refused(run(runner, "groups", "create", ""), "name")
    r = run(runner, "groups", "add", "ENGINEERING", "ada", "bob@example.com")
    assert r.exit_code == 0 and "ada is now a member of Engineering." in r.output
    assert "already was" in run(runner, "groups", "add", "Engineering", "ada").output
    # A name that does not exist stops the whole command before any change.
    refused(run(runner, "groups", "remove", "Engineering", "ada", "nobody"), "nobody")
    r = run(runner, "groups", "list")
    assert "Engineering" in r.output and " 2" in r.output and "1 in all" in r.output
    assert "ada" in run(runner, "groups", "members", "Engineering").output
    assert run(runner, "groups", "remove", "Engineering", "ada").exit_code == 0
    refused(run(runner, "groups", "remove", "Engineering", "ada"), "not a member")
    assert run(runner, "groups", "rename", "Engineering", "Eng").exit_code == 0
    refused(run(runner, "groups", "add", "Engineering", "ada"), "No group named 'Engineering'")
    assert run(runner, "groups", "delete", "Eng", input="n\n").exit_code == 1
    assert run(runner, "groups", "delete", "eng", "--yes").output.strip() == "The group Eng has been deleted."
    assert in_db(app, lambda: (Group.select().count(), Membership.select().count(), User.select().count())) == (0, 0, 3)
    refused(run(runner, "groups", "delete", "eng", "--yes"), "No group")


def test_cli_links_are_spent_like_any_other(app, runner, admin, users):
    users.create("ada")
    first = next(w for w in run(runner, "users", "reset-link", "ada").output.split() if "/reset-password/" in w)
    second = next(w for w in run(runner, "users", "reset-link", "ada").output.split() if "/reset-password/" in w)
    assert app.test_client().get(path_of(first)).status_code == 400
    assert app.test_client().get(path_of(second)).status_code == 200
    assert in_db(app, lambda: OneTimeLink.select().count()) == 2

