"""Issue 17 item 3: failures of the database. The tests own a PostgreSQL cluster (initdb into
a fresh folder, a server on a free loopback port) and stop it in the middle of a run: every
request then answers 503 (the API with its error shape, /api/v1/health with
{"status": "unavailable"}, a browser page with a plain error page), never 500, never a
traceback, and the log says so in one line without the database password. Started again,
the same Keystead (no restart) answers as before and has lost nothing it acknowledged.
Server.StatementTimeout and Server.LockTimeout bound how long a query may hold a worker: a
row lock held by another transaction makes the request answer 503 once the timeout passes.
"""
from __future__ import annotations

import logging
import re

import pytest
from api_support import API, assert_error, bearer, login
from conftest import STRONG_PASSWORD, TEST_SETTINGS, csrf_from
from servers import gunicorn_servers, postgres_cluster  # noqa: F401  (fixtures)

from keystead import create_app

pytestmark = pytest.mark.postgres

# Sent in the database URL; the test cluster trusts loopback, so it is never checked, but
# it must never reach a log.
DB_PASSWORD = "Pg-Secret-Never-Logged-7f3a"


@pytest.fixture
def cluster_app(postgres_cluster, tmp_path):
    """make(**settings) -> an in-process Keystead on a new database of the test's cluster."""
    made = []

    def make(settings: dict | None = None):
        name = postgres_cluster.create_database(f"keystead_{len(made)}")
        config = {**TEST_SETTINGS, "Server.RateLimits": False,
                  "Server.DatabaseURL": postgres_cluster.url(name, password=DB_PASSWORD), **(settings or {})}
        app = create_app(config, instance_path=str(tmp_path / f"instance-{len(made)}"))
        app.config["TESTING"] = True
        made.append(app)
        return app

    yield make
    for app in made:
        app.extensions["keystead.db"].close_all()


def assert_no_traceback(text: str) -> None:
    assert "Traceback" not in text and "File \"" not in text, text


def register(client, username: str):
    return client.post(f"{API}/auth/register", json={
        "username": username, "email": f"{username}@example.com", "password": STRONG_PASSWORD})


def browser_login(client, username: str):
    page = client.get("/login").get_data(as_text=True)
    return client.post("/login", data={"csrf_token": csrf_from(page), "username": username,
                                       "password": STRONG_PASSWORD})


def test_a_stopped_postgresql_answers_503_everywhere_and_keystead_recovers_when_it_is_back(
        cluster_app, postgres_cluster, caplog):
    app = cluster_app()
    client = app.test_client()
    browser = app.test_client()
    assert register(client, "ada").status_code == 201
    token = login(client, "ada")["access_token"]
    assert browser_login(browser, "ada").status_code == 303
    assert browser.get("/profile").status_code == 200

    postgres_cluster.stop("fast")  # sessions are told "terminating connection due to administrator command"
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="keystead"):
        # The API: its one error shape, 503, no Retry-After (kept for 429 and a lockout's 423).
        for r in (client.get(f"{API}/users/me", headers=bearer(token)),
                  client.post(f"{API}/auth/login", json={"username": "ada", "password": STRONG_PASSWORD}),
                  register(client, "bob")):
            error = assert_error(r, 503, "unavailable")
            assert "Retry-After" not in r.headers
            assert_no_traceback(r.get_data(as_text=True))
            assert "database" in error["message"]

        health = client.get(f"{API}/health")
        assert health.status_code == 503 and health.get_json() == {"status": "unavailable"}

        # A browser page: a plain error page, not the JSON shape, not a 500.
        page = browser.get("/profile")
        assert page.status_code == 503 and page.mimetype == "text/html"
        text = page.get_data(as_text=True)
        assert "not answering" in text
        assert_no_traceback(text)

    log = caplog.text
    assert_no_traceback(log)
    assert DB_PASSWORD not in log
    assert "database unavailable on GET /api/v1/users/me" in log
    assert "unexpected error" not in log

    postgres_cluster.start()
    # The same app, not restarted: the pool's dead connections are dropped and new ones made.
    health = client.get(f"{API}/health")
    assert health.status_code == 200 and health.get_json()["status"] == "ok"
    assert client.get(f"{API}/users/me", headers=bearer(token)).status_code == 200
    assert login(client, "ada")["access_token"]  # the account made before the stop is there
    assert browser.get("/profile").status_code == 200  # and so is the browser session
    assert register(client, "bob").status_code == 201


def test_a_row_lock_held_past_the_lock_timeout_answers_503_and_then_the_update_works(
        cluster_app, postgres_cluster, caplog):
    import psycopg2
    app = cluster_app({"Server.LockTimeout": "1s", "Server.StatementTimeout": "60s"})
    client = app.test_client()
    assert register(client, "ada").status_code == 201
    token = login(client, "ada")["access_token"]

    other = psycopg2.connect(postgres_cluster.url("keystead_0"))
    try:
        cursor = other.cursor()  # an open transaction holding ada's row
        cursor.execute("SELECT id FROM \"user\" WHERE username = %s FOR UPDATE", ("ada",))
        assert cursor.fetchone()
        with caplog.at_level(logging.WARNING, logger="keystead"):
            r = client.patch(f"{API}/users/me", headers=bearer(token), json={"first_name": "Ada"})
        assert_error(r, 503, "unavailable")
        assert "busy" in r.get_json()["error"]["message"]
        assert_no_traceback(r.get_data(as_text=True))
        # The lock timeout ended the wait (not the far longer statement timeout).
        assert "database busy on PATCH /api/v1/users/me" in caplog.text and "lock timeout" in caplog.text
    finally:
        other.rollback()
        other.close()

    r = client.patch(f"{API}/users/me", headers=bearer(token), json={"first_name": "Ada"})
    assert r.status_code == 200 and r.get_json()["first_name"] == "Ada"


def test_a_statement_running_past_the_statement_timeout_answers_503(cluster_app, postgres_cluster, caplog):
    import psycopg2
    app = cluster_app({"Server.LockTimeout": "60s", "Server.StatementTimeout": "1s"})
    client = app.test_client()
    assert register(client, "ada").status_code == 201
    token = login(client, "ada")["access_token"]

    other = psycopg2.connect(postgres_cluster.url("keystead_0"))
    try:
        cursor = other.cursor()
        cursor.execute("SELECT id FROM \"user\" WHERE username = %s FOR UPDATE", ("ada",))
        with caplog.at_level(logging.WARNING, logger="keystead"):
            r = client.patch(f"{API}/users/me", headers=bearer(token), json={"first_name": "Ada"})
        assert_error(r, 503, "unavailable")
        assert "statement timeout" in caplog.text
    finally:
        other.rollback()
        other.close()
    assert client.patch(f"{API}/users/me", headers=bearer(token), json={"first_name": "Ada"}).status_code == 200


def test_every_postgresql_connection_gets_the_configured_timeouts(cluster_app):
    def timeouts(app):
        with app.app_context():
            db = app.extensions["keystead.db"]
            with db.connection_context():
                return (db.execute_sql("SHOW statement_timeout").fetchone()[0],
                        db.execute_sql("SHOW lock_timeout").fetchone()[0])

    assert timeouts(cluster_app()) == ("30s", "5s")
    assert timeouts(cluster_app({"Server.StatementTimeout": "2m", "Server.LockTimeout": "3s"})) == ("2min", "3s")


def worker_boots(log: str) -> int:
    return len(re.findall(r"Booting worker with pid", log))


def test_a_real_server_answers_503_while_postgresql_is_down_and_recovers_without_a_restart(
        gunicorn_servers, postgres_cluster, tmp_path):  # noqa: F811
    """`gunicorn wsgi:app` with two workers and the default rate limits (counted in the
    database too), over HTTP; PostgreSQL is killed (`pg_ctl stop -m immediate`: no goodbye
    to the sessions) and started again."""
    import requests
    name = postgres_cluster.create_database("keystead_live")
    server = gunicorn_servers.start(tmp_path / "instance", {
        "Server.DatabaseURL": postgres_cluster.url(name, password=DB_PASSWORD)}, workers=2)
    assert server.register("ada").status_code == 201
    token = server.token("ada", STRONG_PASSWORD)
    browser = requests.Session()
    page = browser.get(server.url + "/login", timeout=30).text
    signed_in = browser.post(server.url + "/login", timeout=30, allow_redirects=False, data={
        "csrf_token": csrf_from(page), "username": "ada", "password": STRONG_PASSWORD})
    assert signed_in.status_code == 303
    assert browser.get(server.url + "/profile", timeout=30).status_code == 200
    boots = worker_boots(server.log_tail(100_000))

    postgres_cluster.stop("immediate")
    for _ in range(4):  # more requests than workers: each worker meets its dead connections
        r = server.api("GET", "/users/me", token=token)
        assert r.status_code == 503, (r.status_code, r.text)
        assert r.json()["error"]["code"] == "unavailable" and "Retry-After" not in r.headers
        r = server.api("POST", "/auth/login", json={"username": "ada", "password": STRONG_PASSWORD})
        assert r.status_code == 503 and r.json()["error"]["code"] == "unavailable", (r.status_code, r.text)
        assert_no_traceback(r.text)
        r = server.register("bob")
        assert r.status_code == 503 and r.json()["error"]["code"] == "unavailable", (r.status_code, r.text)
        health = server.api("GET", "/health")
        assert health.status_code == 503 and health.json() == {"status": "unavailable"}
        page = browser.get(server.url + "/profile", timeout=30)
        assert page.status_code == 503 and "not answering" in page.text
        assert_no_traceback(page.text)

    postgres_cluster.start()
    for _ in range(4):  # every worker, without a restart, answers at once
        health = server.api("GET", "/health")
        assert health.status_code == 200 and health.json()["status"] == "ok", health.text
        assert server.api("GET", "/users/me", token=token).status_code == 200
        assert browser.get(server.url + "/profile", timeout=30).status_code == 200
    assert server.token("ada", STRONG_PASSWORD)  # the account acknowledged before the stop
    assert server.register("bob").status_code == 201

    log = server.log_tail(100_000)
    assert worker_boots(log) == boots  # no worker died or was replaced
    assert_no_traceback(log)
    assert DB_PASSWORD not in log
    assert "database unavailable on GET /api/v1/users/me" in log


def wait_until_a_query_waits_for_a_lock(connection, timeout: float = 30) -> None:
    """Poll pg_stat_activity (bounded) until an UPDATE of a person in this database waits
    for a lock (not any waiting session: a background job of the server may wait too)."""
    import time
    cursor = connection.cursor()
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                       "AND datname = current_database() AND query LIKE 'UPDATE \"user\"%%'")
        if cursor.fetchone()[0]:
            return
        time.sleep(0.05)
    raise AssertionError("no query waited for the row lock")


def test_a_query_cut_off_by_the_server_stopping_answers_503_and_its_connection_is_not_reused(
        gunicorn_servers, postgres_cluster, tmp_path):  # noqa: F811
    """The hardest moment: a request is inside a query (waiting for a row lock another
    session holds) when PostgreSQL stops (`-m fast`: "terminating connection due to
    administrator command"). It answers 503; once the server is back the same single
    worker answers again, on a new connection, and the change is made."""
    import concurrent.futures

    import psycopg2
    name = postgres_cluster.create_database("keystead_cut")
    server = gunicorn_servers.start(tmp_path / "instance", {
        "Server.DatabaseURL": postgres_cluster.url(name, password=DB_PASSWORD), "Server.RateLimits": False,
        "Server.LockTimeout": "60s"}, workers=1)
    assert server.register("ada").status_code == 201
    token = server.token("ada", STRONG_PASSWORD)

    holder = psycopg2.connect(postgres_cluster.url(name))
    holder.cursor().execute('SELECT id FROM "user" WHERE username = %s FOR UPDATE', ("ada",))
    watcher = psycopg2.connect(postgres_cluster.url(name))
    watcher.autocommit = True
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(server.api, "PATCH", "/users/me", token=token, json={"first_name": "Ada"})
        wait_until_a_query_waits_for_a_lock(watcher)
        postgres_cluster.stop("fast")
        r = waiting.result(timeout=60)
    for connection in (holder, watcher):
        connection.close()
    # A fast shutdown ends the lock holder and the waiting request at nearly the same
    # moment: the request is cut off (503), or it got the lock and committed first (200;
    # then the change must survive). Never a 500, never a traceback.
    cut_off = r.status_code == 503
    assert cut_off and r.json()["error"]["code"] == "unavailable" or r.status_code == 200, (r.status_code, r.text)
    assert_no_traceback(r.text)

    postgres_cluster.start()
    r = server.api("PATCH", "/users/me", token=token, json={"first_name": "Ada"})
    assert r.status_code == 200 and r.json()["first_name"] == "Ada", r.text
    assert server.api("GET", "/users/me", token=token).json()["first_name"] == "Ada"
    log = server.log_tail(100_000)
    assert not cut_off or "database unavailable on PATCH /api/v1/users/me" in log
    assert_no_traceback(log)
    assert DB_PASSWORD not in log


def test_an_error_of_the_code_or_schema_stays_a_500_not_a_503(cluster_app, postgres_cluster):
    """Only a database that is busy or gone answers 503 ("try again"); a query PostgreSQL
    refuses for what it says (here a column missing from the schema) is a bug, 500."""
    import psycopg2
    app = cluster_app()
    client = app.test_client()
    assert register(client, "ada").status_code == 201
    token = login(client, "ada")["access_token"]
    other = psycopg2.connect(postgres_cluster.url("keystead_0"))
    other.autocommit = True
    other.cursor().execute('ALTER TABLE "user" RENAME COLUMN first_name TO given_name')
    other.close()
    r = client.get(f"{API}/users/me", headers=bearer(token))
    assert_error(r, 500, "internal_error")
    assert_no_traceback(r.get_data(as_text=True))


def test_after_a_postgresql_restart_the_first_requests_already_succeed(cluster_app, postgres_cluster):
    """PostgreSQL restarted between two requests (an upgrade, a failover): the pool's
    connections all died with the old server, yet no request fails: a dead connection is
    never handed to a request."""
    app = cluster_app()
    client = app.test_client()
    assert register(client, "ada").status_code == 201
    token = login(client, "ada")["access_token"]
    postgres_cluster.stop("fast")
    postgres_cluster.start()
    assert client.get(f"{API}/users/me", headers=bearer(token)).status_code == 200
    assert client.get(f"{API}/health").status_code == 200
    assert login(client, "ada")["access_token"]


def test_only_a_busy_or_unreachable_database_counts_as_unavailable():
    """What the 503 covers, error by error (the driver's exceptions as peewee wraps them):
    timeouts and a lost or refused connection yes; a bug in a query or in how peewee is
    used no (those stay 500 with their traceback in the log)."""
    import sqlite3

    import peewee
    import psycopg2
    import psycopg2.errors

    from keystead.db import database_failure

    def wrapped(kind, driver_error):
        return kind(driver_error)

    assert database_failure(wrapped(peewee.OperationalError, sqlite3.OperationalError("database is locked"))) == "busy"
    assert database_failure(wrapped(peewee.OperationalError, psycopg2.errors.LockNotAvailable("lock timeout"))) == "busy"
    assert database_failure(wrapped(peewee.OperationalError, psycopg2.errors.QueryCanceled("statement timeout"))) == "busy"
    assert database_failure(wrapped(peewee.OperationalError, psycopg2.OperationalError("Connection refused"))) == "unavailable"
    assert database_failure(wrapped(peewee.OperationalError, psycopg2.errors.AdminShutdown("terminating"))) == "unavailable"
    assert database_failure(psycopg2.InterfaceError("connection already closed")) == "unavailable"
    assert database_failure(wrapped(peewee.OperationalError, sqlite3.OperationalError("unable to open database file"))) == "unavailable"

    assert database_failure(wrapped(peewee.OperationalError, sqlite3.OperationalError("no such table: user"))) is None
    assert database_failure(wrapped(peewee.InterfaceError, sqlite3.InterfaceError("Error binding parameter 1"))) is None
    assert database_failure(wrapped(peewee.ProgrammingError, psycopg2.ProgrammingError("can't adapt type 'dict'"))) is None
    assert database_failure(peewee.OperationalError("Connection already opened.")) is None
    assert database_failure(ValueError("a bug")) is None


def test_the_log_line_of_a_failure_never_shows_the_database_password(tmp_path):
    """Should a driver ever quote its connection string in an error, the one log line
    shows the URL's password masked (the database is not contacted here)."""
    import peewee
    import psycopg2

    from keystead.db import describe_failure, open_database
    db = open_database(f"postgresql://keystead:{DB_PASSWORD}@127.0.0.1:1/keystead", str(tmp_path))
    error = peewee.OperationalError(psycopg2.OperationalError(
        f"could not connect: password={DB_PASSWORD} host=127.0.0.1\nsecond line"))
    line = describe_failure(error, db)
    assert DB_PASSWORD not in line and "\n" not in line
    assert line.startswith("OperationalError: could not connect")
