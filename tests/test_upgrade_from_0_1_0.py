"""Upgrading from release 0.1.0 (issue 13, the upgrade test; issue 17: on SQLite and on
PostgreSQL, whichever database the suite runs on).

Release 0.1.0 is this repository at commit 3ea58a0. The test takes that commit's files
(`git archive`), installs them into a virtual environment of their own with pip, and runs
0.1.0 there the way an operator did: `keystead init` prints the administrator's password,
then people, a group with members, a shared document, an API key, a person with two-factor
and a pair of API tokens are made through 0.1.0's own JSON API. The same instance folder
(keystead.toml, secret key) and the same database are then opened by the code of this
checkout, which upgrades the schema at start-up; every one of them must be there and work.

How the old release is installed, and why: `python -m venv --without-pip` makes its own
environment, `pip install --no-deps --no-build-isolation` puts 0.1.0 (the `app` and
`providers` packages, its dist-info and entry points) into that environment's
site-packages, and a .pth file there adds the test run's site-packages after it for the
libraries (Flask, peewee, bcrypt, psycopg2...). The release is a real installed wheel in an
environment where only it is importable as `app` (the .pth adds a folder, so the test run's
editable install of the current code is not activated there), yet nothing is downloaded:
0.1.0 needs only libraries that the current code needs too, and the test stays as fast and
as offline as the rest of the suite.
"""
from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import sysconfig
import time

import pyotp
import pytest

from api_support import API, bearer
from conftest import STRONG_PASSWORD

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RELEASE_0_1_0 = "3ea58a0"
SUBPROCESS_TIMEOUT = 180

# Run by 0.1.0's interpreter after `keystead init`: makes the data through 0.1.0's JSON
# API and prints, as JSON, what it made and what 0.1.0 itself answered about it.
MAKE_DATA = r'''
import json, os, sys
import pyotp
import app
from app import create_app

assert os.path.realpath(app.__file__).startswith(os.path.realpath(sys.prefix)), app.__file__
admin_name, admin_password, password = sys.argv[1], sys.argv[2], sys.argv[3]
api = "/api/v1"
flask_app = create_app()
client = flask_app.test_client()


def call(method, path, token=None, key=None, expect=(200, 201, 204), **kw):
    headers = {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if key:
        headers["Authorization"] = f"Key {key}"
    r = client.open(api + path, method=method, headers=headers, **kw)
    assert r.status_code in expect, (method, path, r.status_code, r.get_data(as_text=True))
    return r.get_json(silent=True)


def login(username, pw=password):
    return call("POST", "/auth/login", json={"username": username, "password": pw})


admin = login(admin_name, admin_password)["access_token"]
made = {}
for username, role in (("alice", "publisher"), ("bob", "viewer"), ("carol", "administrator")):
    made[username] = call("POST", "/users", admin, json={
        "username": username, "email": f"{username}@example.com", "password": password,
        "first_name": username.title(), "role": role})["id"]
# Created without a password: waits for the confirmation link.
made["erin"] = call("POST", "/users", admin, json={"username": "erin", "email": "erin@example.com"})["id"]
# Signed up by herself (sign-up is open by default).
made["dave"] = call("POST", "/auth/register", json={
    "username": "dave", "email": "dave@example.com", "password": password})["id"]

research = call("POST", "/groups", admin, json={"name": "Research"})["id"]
empty = call("POST", "/groups", admin, json={"name": "Nobody Yet"})["id"]
for member in ("alice", "bob"):
    call("PUT", f"/groups/{research}/members/{made[member]}", admin)

alice = login("alice")
shared = call("POST", "/documents", alice["access_token"], json={
    "title": "Field notes", "content": "Lichen grows slowly on the north wall."})["id"]
call("PUT", f"/documents/{shared}/groups/{research}", alice["access_token"])
private = call("POST", "/documents", alice["access_token"], json={
    "title": "Diary", "content": "Nobody else reads this."})["id"]
api_key = call("POST", "/users/me/api-keys", alice["access_token"], json={"name": "laptop"})

bob = login("bob")["access_token"]
secret = call("POST", "/users/me/totp", bob, json={"password": password})["secret"]
recovery = call("POST", "/users/me/totp/confirm", bob, json={"code": pyotp.TOTP(secret).now()})["recovery_codes"]

print(json.dumps({
    "ids": made, "admin_id": call("GET", "/users/me", admin)["id"],
    "groups": {"Research": research, "Nobody Yet": empty},
    "documents": {"shared": shared, "private": private},
    "api_key": api_key["key"], "totp_secret": secret, "recovery_codes": recovery,
    "alice_tokens": alice,
    "users": call("GET", "/users?per_page=100", admin),
    "research_members": call("GET", f"/groups/{research}/members", admin),
    "shared_document": call("GET", f"/documents/{shared}", alice["access_token"]),
}))
'''


def _git(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", ROOT, *args], capture_output=True, timeout=60, **kw)


@pytest.fixture(scope="module")
def release_0_1_0(tmp_path_factory):
    """Release 0.1.0 installed in a virtual environment of its own; yields its python."""
    work = tmp_path_factory.mktemp("release-0.1.0")
    source = work / "source"
    source.mkdir()
    archive = _git("archive", "--format=tar", RELEASE_0_1_0)
    assert archive.returncode == 0, (
        f"release 0.1.0 (commit {RELEASE_0_1_0}) is not in this repository's history: "
        f"{archive.stderr.decode(errors='replace')}")
    subprocess.run(["tar", "-x", "-C", str(source)], input=archive.stdout, check=True, timeout=60)
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = str(venv / "bin" / "python")
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True, timeout=60).stdout.strip()
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
         "--disable-pip-version-check", "--target", site, str(source)],
        capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT, cwd=str(work))
    assert installed.returncode == 0, installed.stderr[-3000:]
    # The libraries come from the test run's environment, after 0.1.0 itself.
    libraries = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    with open(os.path.join(site, "zz_libraries.pth"), "w") as f:
        f.write("".join(f"{path}\n" for path in libraries))
    yield python


def _old_env(instance) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYSTEAD_") and k != "PYTHONPATH"}
    env["KEYSTEAD_INSTANCE"] = str(instance)
    return env


def _run_old(python: str, instance, args: list[str]) -> str:
    done = subprocess.run([python, "-P", *args], capture_output=True, text=True, env=_old_env(instance),
                          cwd=str(instance), timeout=SUBPROCESS_TIMEOUT)
    assert done.returncode == 0, f"0.1.0 failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return done.stdout


@pytest.fixture
def made_by_0_1_0(release_0_1_0, tmp_path, database_url):
    """An instance folder and a database that release 0.1.0 made and filled; yields
    (instance folder, what 0.1.0 made and answered)."""
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "keystead.toml").write_text(
        "[Server]\n"
        f'DatabaseURL = "{database_url}"\n'
        'PublicURL = "http://keystead.test"\n'
        "[Password]\n"
        "BcryptRounds = 4\n")
    out = _run_old(release_0_1_0, instance, ["-c", "from app.cli import main; main()", "init"])
    admin_password = re.search(r"^Password: (\S+)$", out, re.M).group(1)
    script = tmp_path / "make_data.py"
    script.write_text(MAKE_DATA)
    made = json.loads(_run_old(release_0_1_0, instance, [str(script), "admin", admin_password, STRONG_PASSWORD]))
    made["admin_password"] = admin_password
    yield instance, made


@pytest.fixture
def upgraded(made_by_0_1_0):
    """The current code started on 0.1.0's instance folder and database; yields
    (app, test client, what 0.1.0 made)."""
    from keystead import create_app
    instance, made = made_by_0_1_0
    app = create_app(instance_path=str(instance))
    app.config["TESTING"] = True
    yield app, app.test_client(), made
    db = app.extensions["keystead.db"]
    if hasattr(db, "close_all"):
        db.close_all()
    elif not db.is_closed():
        db.close()


def _login(client, username: str, password: str = STRONG_PASSWORD, **extra):
    return client.post(f"{API}/auth/login", json={"username": username, "password": password, **extra})


def _token(client, username: str, password: str = STRONG_PASSWORD) -> str:
    r = _login(client, username, password)
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_json()["access_token"]


def _people(listing: dict) -> dict:
    keep = ("id", "username", "email", "first_name", "last_name", "role", "locked", "email_verified",
            "created_at", "groups", "provider")
    return {u["username"]: {k: u.get(k) for k in keep} for u in listing["results"]}


def test_everything_release_0_1_0_made_is_there_and_works_after_the_upgrade(upgraded):
    """Issue 13 (done-when): a database made by release 0.1.0, installed in its own
    environment, is opened by this code: the schema is brought to the newest version, and
    every person, group, membership, document and API key is there and works: each person
    logs in with their 0.1.0 password (the two-factor person with a code from their 0.1.0
    authenticator), the API key and the API tokens 0.1.0 issued still authenticate, the
    documents are readable by their owner and by the group they were shared with, and
    by nobody else."""
    app, client, made = upgraded
    from keystead.migrations import available_migrations, current_version
    with app.app_context():
        assert current_version(app.extensions["keystead.db"]) == available_migrations()[-1][0]

    # Every person, with the id, name, address and role 0.1.0 gave them.
    admin = _token(client, "admin", made["admin_password"])
    r = client.get(f"{API}/users?per_page=100", headers=bearer(admin))
    assert r.status_code == 200, r.get_data(as_text=True)
    assert _people(r.get_json()) == _people(made["users"])
    assert set(_people(r.get_json())) == {"admin", "alice", "bob", "carol", "dave", "erin"}
    assert r.get_json()["total"] == 6

    # Passwords made by 0.1.0 still open their accounts; a wrong one does not.
    for username in ("alice", "carol", "dave"):
        me = client.get(f"{API}/users/me", headers=bearer(_token(client, username))).get_json()
        assert me["id"] == made["ids"][username] and me["username"] == username
    assert _login(client, "alice", "not-" + STRONG_PASSWORD).status_code == 401
    assert _login(client, "erin").status_code == 401  # still waiting for her confirmation link

    # Two-factor from 0.1.0 still guards bob, and his authenticator still answers.
    r = _login(client, "bob")
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "otp_required", r.get_data(as_text=True)
    next_step_code = pyotp.TOTP(made["totp_secret"]).at(time.time() + 30)  # 0.1.0 spent this step
    r = _login(client, "bob", otp=next_step_code)
    assert r.status_code == 200, r.get_data(as_text=True)
    bob = r.get_json()["access_token"]
    assert _login(client, "bob", otp=made["recovery_codes"][0]).status_code == 200

    # Groups and memberships.
    r = client.get(f"{API}/groups?per_page=100", headers=bearer(admin))
    assert {g["name"]: g["id"] for g in r.get_json()["results"]} == made["groups"]
    members = client.get(f"{API}/groups/{made['groups']['Research']}/members", headers=bearer(admin)).get_json()
    assert sorted(m["username"] for m in members["results"]) == ["alice", "bob"]
    assert sorted(m["id"] for m in members["results"]) == sorted(m["id"] for m in made["research_members"]["results"])
    empty = client.get(f"{API}/groups/{made['groups']['Nobody Yet']}/members", headers=bearer(admin)).get_json()
    assert empty["results"] == []

    # The API key 0.1.0 issued authenticates alice; the tokens it issued still hold.
    key_me = client.get(f"{API}/users/me", headers={"Authorization": f"Key {made['api_key']}"})
    assert key_me.status_code == 200, key_me.get_data(as_text=True)
    assert key_me.get_json()["username"] == "alice"
    old_access = made["alice_tokens"]["access_token"]
    assert client.get(f"{API}/users/me", headers=bearer(old_access)).get_json()["username"] == "alice"
    r = client.post(f"{API}/auth/refresh", json={"refresh_token": made["alice_tokens"]["refresh_token"]})
    assert r.status_code == 200, r.get_data(as_text=True)

    # Documents: readable by their owner, the shared one by the group, by nobody else.
    alice = _token(client, "alice")
    shared, private = made["documents"]["shared"], made["documents"]["private"]
    doc = client.get(f"{API}/documents/{shared}", headers={"Authorization": f"Key {made['api_key']}"})
    assert doc.status_code == 200, doc.get_data(as_text=True)
    assert doc.get_json()["title"] == made["shared_document"]["title"] == "Field notes"
    assert doc.get_json()["owner"] == {"id": made["ids"]["alice"], "username": "alice"}
    assert doc.get_json()["text"] == made["shared_document"]["text"] == "Lichen grows slowly on the north wall."
    assert client.get(f"{API}/documents/{private}", headers=bearer(alice)).status_code == 200
    assert client.get(f"{API}/documents/{shared}", headers=bearer(bob)).status_code == 200
    assert client.get(f"{API}/documents/{private}", headers=bearer(bob)).status_code == 404
    dave = _token(client, "dave")
    assert client.get(f"{API}/documents/{shared}", headers=bearer(dave)).status_code == 404
    found = client.get(f"{API}/documents/search?q=lichen", headers=bearer(bob)).get_json()
    assert [d["id"] for d in found["results"]] == [shared]

    # The upgraded database counts as initialised: a sign-up is an ordinary one.
    r = client.post(f"{API}/auth/register", json={
        "username": "frank", "email": "frank@example.com", "password": STRONG_PASSWORD})
    assert r.status_code == 201 and r.get_json()["role"] == "viewer"


# Run by 0.1.0's interpreter: every account deleted (cascading to what is theirs), as a
# bad restore or a hand-run DELETE would leave the database.
DELETE_EVERYONE = r'''
from app import create_app
from app.models import User
flask_app = create_app()
with flask_app.app_context():
    User.delete().execute()
    assert User.select().count() == 0
'''


def test_a_0_1_0_database_that_lost_its_accounts_is_not_new_after_the_upgrade(
        release_0_1_0, made_by_0_1_0, caplog):
    """Issue 13 item 2: a 0.1.0 database had people, and lost every one of them before
    the upgrade. The upgrade records it as initialised all the same (0.1.0 left traces: the
    audit log, the id sequence), so the next person to sign up does not become an
    administrator, and the start-up log says the database had accounts and holds none."""
    from keystead import create_app
    instance, made = made_by_0_1_0
    script = instance.parent / "delete_everyone.py"
    script.write_text(DELETE_EVERYONE)
    _run_old(release_0_1_0, instance, [str(script)])
    with caplog.at_level(logging.INFO, logger="keystead"):
        app = create_app(instance_path=str(instance))
    try:
        assert any("had accounts and holds none now" in r.getMessage() for r in caplog.records
                   if r.levelno == logging.WARNING), caplog.text
        r = app.test_client().post(f"{API}/auth/register", json={
            "username": "stranger", "email": "stranger@example.com", "password": STRONG_PASSWORD})
        assert r.status_code == 201, r.get_data(as_text=True)
        assert r.get_json()["role"] == "viewer"
    finally:
        db = app.extensions["keystead.db"]
        if hasattr(db, "close_all"):
            db.close_all()
        elif not db.is_closed():
            db.close()
