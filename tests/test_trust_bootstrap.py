"""Who gets administrator without anyone granting it (issue 13 items 2 and 13): the first
account to sign up, only on a database never initialised with an account; the Bootstrap
administrator, created only there and never silently recreated; and a loud log when the
server finds an empty database where an earlier start had people."""
from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from api_support import API, assert_error
from conftest import STRONG_PASSWORD, UserFactory, new_database
from servers import gunicorn_servers  # noqa: F401  (fixture)

from keystead import Identity
from keystead.accounts import delete_user
from keystead.plugins import hook
from keystead.models import User

ADMIN = {"Bootstrap.AdminUsername": "root", "Bootstrap.AdminEmail": "root@example.com",
         "Bootstrap.AdminPassword": "a-very-long-admin-passphrase"}


def _register(client, username: str):
    return client.post(f"{API}/auth/register", json={
        "username": username, "email": f"{username}@example.com", "password": STRONG_PASSWORD})


def _login(client, username: str, password: str):
    return client.post(f"{API}/auth/login", json={"username": username, "password": password})


def _in_db(app, fn):
    with app.app_context(), app.extensions["keystead.db"].connection_context():
        return fn()


def _lose_every_account(app) -> None:
    """What a bad restore or a hand-run DELETE leaves: the people gone, the database kept."""
    _in_db(app, lambda: User.delete().execute())


def _warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "keystead" and r.levelno >= logging.WARNING]


@pytest.fixture
def second_database_url(tmp_path):
    """Another new, empty database of the suite's kind (SQLite file or PostgreSQL)."""
    with new_database(tmp_path, "other.db") as url:
        yield url


# ---------------------------------------------------------------- item 2: the first account

@pytest.mark.parametrize("self_registration", [True, False])
def test_a_database_that_lost_its_accounts_never_makes_the_next_sign_up_an_administrator(
        make_app, caplog, self_registration):
    """Issue 13 item 2: a database that had accounts and lost every one of them is not new:
    the next sign-up gets the default role (or, with SelfRegistration off, is refused), never
    administrator; the server says so in its log, at start-up and at the sign-up."""
    settings = {"Password.SelfRegistration": self_registration}
    app = make_app(settings)
    founder = _register(app.test_client(), "founder")
    assert founder.status_code == 201 and founder.get_json()["role"] == "administrator"
    _lose_every_account(app)

    caplog.clear()
    with caplog.at_level(logging.INFO, logger="keystead"):
        restarted = make_app(settings)
    assert any("had accounts and holds none now" in m for m in _warnings(caplog)), _warnings(caplog)

    caplog.clear()
    with caplog.at_level(logging.INFO, logger="keystead"):
        r = _register(restarted.test_client(), "stranger")
    if self_registration:
        assert r.status_code == 201, r.get_data(as_text=True)
        assert r.get_json()["role"] == "viewer"
    else:
        assert_error(r, 403, "registration_closed")
        assert restarted.test_client().get("/register").status_code == 404
    assert any("A sign-up" in m and "nobody is made an administrator" in m for m in _warnings(caplog))
    assert _in_db(restarted, lambda: User.select().where(User.role == "administrator").count()) == 0


@pytest.mark.parametrize("self_registration", [True, False])
def test_on_a_never_initialised_database_the_first_sign_up_is_an_administrator(make_app, self_registration):
    """Issue 13 item 2 (what stays): on a database never initialised, the first account to
    sign up becomes an administrator even with SelfRegistration off; the second does not."""
    app = make_app({"Password.SelfRegistration": self_registration})
    client = app.test_client()
    assert client.get("/register").status_code == 200
    first = _register(client, "founder")
    assert first.status_code == 201 and first.get_json()["role"] == "administrator"
    second = _register(app.test_client(), "second")
    if self_registration:
        assert second.status_code == 201 and second.get_json()["role"] == "viewer"
    else:
        assert_error(second, 403, "registration_closed")


def test_a_first_login_through_a_provider_initialises_the_database(make_app):
    """Issue 13 item 2: initialisation is recorded when the first account of any kind
    appears, here the one a first login through a provider makes (the identity mapping
    every provider's login goes through): once it is gone, a sign-up is no administrator."""
    app = make_app()
    with app.test_request_context():
        person = hook().keystead_map_identity(identity=Identity(
            provider="static", subject="s-1", username="grace", email="grace@example.com"))
        assert person.role == "viewer"
        User.delete().execute()
    r = _register(app.test_client(), "stranger")
    assert r.status_code == 201 and r.get_json()["role"] == "viewer"


def test_racing_first_sign_ups_make_exactly_one_administrator(gunicorn_servers, tmp_path, database_url):  # noqa: F811
    """Issue 13 item 2: 16 first sign-ups at once on a never-initialised database, over 4
    worker processes of 4 threads, with SelfRegistration off: exactly one gets in, as an
    administrator; every other is refused (403), none is a second administrator."""
    server = gunicorn_servers.start(tmp_path / "instance", {
        "Server.RateLimits": False, "Server.DatabaseURL": database_url,
        "Password.SelfRegistration": False, "Bootstrap.AdminPassword": ""}, workers=4, threads=4)
    n = 16
    start = threading.Barrier(n)

    def sign_up(i: int) -> requests.Response:
        with requests.Session() as session:
            start.wait(timeout=30)
            return server.register(f"racer{i}", session=session)

    with ThreadPoolExecutor(n) as pool:
        answers = list(pool.map(sign_up, range(n)))
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [201] + [403] * (n - 1), statuses
    assert [r.json()["role"] for r in answers if r.status_code == 201] == ["administrator"]
    assert "Traceback" not in server.log_tail(200)


# ---------------------------------------------------------------- item 13: the Bootstrap administrator

def test_a_deleted_bootstrap_administrator_is_not_recreated_at_the_next_start(make_app, caplog):
    """Issue 13 item 13: the Bootstrap administrator, deleted by another administrator, does
    not come back with the configured password at the next start; the log says it was not
    recreated and how to create it on purpose."""
    app = make_app(ADMIN)
    other, _ = UserFactory(app).create("carol", role="administrator")
    _in_db(app, lambda: delete_user(User.get(User.username_key == "root"), actor=other))

    caplog.clear()
    with caplog.at_level(logging.INFO, logger="keystead"):
        restarted = make_app(ADMIN)
    assert _in_db(restarted, lambda: User.get_or_none(User.username_key == "root")) is None
    assert _login(restarted.test_client(), "root", ADMIN["Bootstrap.AdminPassword"]).status_code == 401
    assert any("Bootstrap administrator root does not exist" in m and "not recreated" in m
               for m in _warnings(caplog)), _warnings(caplog)
    assert ADMIN["Bootstrap.AdminPassword"] not in caplog.text


def test_the_log_says_whether_the_bootstrap_administrator_was_created_or_already_exists(make_app, caplog):
    """Issue 13 item 13: the first start says the Bootstrap administrator was created; every
    later start says it already exists (and makes no second one)."""
    with caplog.at_level(logging.INFO, logger="keystead"):
        app = make_app(ADMIN)
    assert "created the Bootstrap administrator root" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="keystead"):
        make_app(ADMIN)
    assert "the Bootstrap administrator root already exists" in caplog.text
    assert "created the Bootstrap administrator" not in caplog.text
    assert _in_db(app, lambda: User.select().count()) == 1


def test_keystead_init_creates_the_administrator_again_on_purpose_and_says_so(make_app):
    """Issue 13 item 13: after the accounts were lost, `keystead init` (the operator's own
    command) is the way back to an administrator, and its output says what happened."""
    app = make_app(ADMIN)
    _lose_every_account(app)
    result = make_app(ADMIN).test_cli_runner().invoke(args=["init"])
    assert result.exit_code == 0, result.output
    assert "had accounts before and has no administrator: created the administrator root" in result.output
    assert _login(app.test_client(), "root", ADMIN["Bootstrap.AdminPassword"]).status_code == 200


# ---------------------------------------------------------------- item 2: the wrong database

def test_an_instance_folder_with_a_secret_key_but_no_accounts_is_warned_about(make_app, caplog):
    """Issue 13 item 2: a start that finds the instance folder's secret key from an earlier
    start, and a database that never held an account, warns that it may be the wrong
    database (the upgrade that moved to a new, empty one)."""
    make_app()  # the first start makes the secret key
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="keystead"):
        make_app()
    assert any("has a secret key from an earlier start" in m and "no accounts" in m
               and "first person to sign up becomes an administrator" in m for m in _warnings(caplog)), \
        _warnings(caplog)


def test_a_configured_database_without_the_schema_is_warned_about(make_app, second_database_url, caplog):
    """Issue 13 item 2: the server had people on one database; Server.DatabaseURL now names
    another one without Keystead's tables. The start creates them and warns loudly that the
    database is new and empty, and that it may not be the people's database."""
    app = make_app()
    UserFactory(app).create("alice")
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="keystead"):
        make_app({"Server.DatabaseURL": second_database_url})
    assert any("Server.DatabaseURL names a database that had no Keystead tables" in m
               for m in _warnings(caplog)), _warnings(caplog)
