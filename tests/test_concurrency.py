"""Concurrency and durability with real server processes (issue 6, item 7): racing
sign-ups, a SQLite database locked past its busy timeout, and SIGKILL in the middle of a
storm of writes. Each test runs `gunicorn wsgi:app` (tests/servers.py) on the suite's
database: a SQLite file, or a fresh PostgreSQL database when KEYSTEAD_TEST_POSTGRES_URL is
set. The SQLite-only tests say so and run on a SQLite file either way."""
from __future__ import annotations

import re
import secrets
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from conftest import POSTGRES_URL, STRONG_PASSWORD
from servers import ADMIN_PASSWORD, ADMIN_USERNAME, gunicorn_servers  # noqa: F401  (fixture)

NO_LIMITS = {"Server.RateLimits": False}


def _admin_search(server, q: str) -> dict:
    token = server.token(ADMIN_USERNAME, ADMIN_PASSWORD)
    r = server.api("GET", f"/users?q={q}&per_page=100", token=token)
    assert r.status_code == 200, r.text
    return r.json()


# ---------------------------------------------------------------- racing sign-ups

@pytest.mark.parametrize("contested", ["username", "email"])
def test_racing_sign_ups_for_one_name_make_exactly_one_account(
        gunicorn_servers, tmp_path, database_url, contested):  # noqa: F811
    """20 sign-ups for one username (or one address) at once, over 4 workers of 5 threads:
    the unique indexes on the normalised columns let exactly one through; the others
    get 409, not a 500 or a duplicate."""
    server = gunicorn_servers.start(tmp_path / "instance", {**NO_LIMITS, "Server.DatabaseURL": database_url},
                                    workers=4, threads=5)
    n = 20
    start = threading.Barrier(n)

    def sign_up(i: int) -> int:
        username = "racer" if contested == "username" else f"racer{i}"
        email = f"racer{i}@example.com" if contested == "username" else "Racer@Example.com"
        if contested == "username" and i % 2:
            username = "RACER"  # the same name, normalised
        with requests.Session() as session:
            start.wait(timeout=30)
            return server.register(username, email=email, session=session).status_code

    with ThreadPoolExecutor(n) as pool:
        statuses = list(pool.map(sign_up, range(n)))
    assert sorted(statuses) == [201] + [409] * (n - 1), statuses
    assert _admin_search(server, "racer")["total"] == 1
    assert "Traceback" not in server.log_tail(200)


# ---------------------------------------------------------------- a locked SQLite database

def test_a_sqlite_database_locked_past_its_busy_timeout_answers_503(gunicorn_servers, tmp_path):  # noqa: F811
    """Another process holds the write lock (BEGIN EXCLUSIVE) for longer than
    Server.SQLiteBusyTimeout: writes wait that long, then answer 503 (without Retry-After,
    which is kept for 429 and a lockout's 423), in the API's error shape or the browser's
    error page. Reads go on (WAL)."""
    path = tmp_path / "keystead.db"
    server = gunicorn_servers.start(tmp_path / "instance", {
        **NO_LIMITS, "Server.DatabaseURL": f"sqlite:///{path}", "Server.SQLiteBusyTimeout": "1s"})
    browser = requests.Session()
    page = browser.get(server.url + "/register", timeout=10).text
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)

    # A worker may still be booting (its start-up takes the write lock briefly): wait for it.
    holder = sqlite3.connect(path, timeout=10, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        began = time.monotonic()
        r = server.register("blocked")
        waited = time.monotonic() - began
        assert r.status_code == 503, r.text
        assert r.json()["error"]["code"] == "unavailable"
        assert "Retry-After" not in r.headers
        assert waited >= 0.9  # it waited out the busy timeout first

        r = server.login(ADMIN_USERNAME, "not-the-password")  # records the failure: a write
        assert r.status_code == 503 and "Retry-After" not in r.headers

        r = browser.post(server.url + "/register", timeout=30, allow_redirects=False, data={
            "csrf_token": csrf, "username": "blocked", "email": "blocked@example.com",
            "password": STRONG_PASSWORD, "password_confirm": STRONG_PASSWORD})
        assert r.status_code == 503 and "Retry-After" not in r.headers
        assert "busy" in r.text and "Traceback" not in r.text

        assert server.api("GET", "/health").status_code == 200  # reads are not blocked
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    assert server.register("blocked").status_code == 201  # the retry goes through
    log = server.log_tail(200)
    assert "database busy" in log and "Traceback" not in log


# ---------------------------------------------------------------- SIGKILL during a storm

STORM_THREADS = 8
STORM_MAX_SECONDS = 20
KILL_AFTER_ACKS = 150


class Ledger:
    """What the server acknowledged (2xx) to the storm, and what it may or may not have
    done (requests cut off by the kill)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.password: dict[str, str] = {}  # username -> last acknowledged password
        self.first: dict[str, str] = {}  # username -> the password it signed up with
        self.maybe: dict[str, str] = {}  # username -> a newer password whose change got no answer
        self.acks = 0

    def ack(self, username: str, password: str) -> None:
        with self.lock:
            self.first.setdefault(username, password)
            self.password[username] = password
            self.maybe.pop(username, None)
            self.acks += 1


def _storm(server, ledger: Ledger, worker: int, stop: threading.Event) -> None:
    """Sign up, log in, change the password; again with a new name. Bounded in count and
    time; ends at the first request the dead server does not answer."""
    deadline = time.monotonic() + STORM_MAX_SECONDS
    with requests.Session() as session:
        for k in range(10_000):
            if stop.is_set() or time.monotonic() > deadline:
                return
            username, password = f"storm{worker}x{k}", f"Pw-{secrets.token_urlsafe(9)}-{k}"
            try:
                r = server.register(username, password=password, session=session)
                if r.status_code != 201:
                    raise AssertionError(f"sign-up answered {r.status_code}: {r.text[:200]}")
                ledger.ack(username, password)
                r = server.login(username, password, session=session)
                if r.status_code != 200:
                    raise AssertionError(f"login answered {r.status_code}: {r.text[:200]}")
                new = f"New-{secrets.token_urlsafe(9)}-{k}"
                with ledger.lock:
                    ledger.maybe[username] = new
                r = server.api("POST", "/users/me/password", token=r.json()["access_token"], session=session,
                               json={"current_password": password, "new_password": new})
                if r.status_code != 204:
                    raise AssertionError(f"password change answered {r.status_code}: {r.text[:200]}")
                ledger.ack(username, new)
            except requests.RequestException:
                if stop.is_set():
                    return  # the server was killed under this request
                raise


def test_acknowledged_changes_survive_sigkill_during_a_storm(gunicorn_servers, tmp_path, database_url):  # noqa: F811
    """SIGKILL to the gunicorn master and every worker at once while 8 clients sign up and
    change passwords; after a restart every acknowledged change is there (each account
    logs in with its last acknowledged password, or with a newer one whose change was cut
    off), and SQLite's integrity check passes."""
    settings = {**NO_LIMITS, "Server.DatabaseURL": database_url, "Password.LockoutThreshold": 0}
    server = gunicorn_servers.start(tmp_path / "instance", settings, workers=2, threads=4)
    ledger, stop = Ledger(), threading.Event()
    with ThreadPoolExecutor(STORM_THREADS) as pool:
        runs = [pool.submit(_storm, server, ledger, w, stop) for w in range(STORM_THREADS)]
        end = time.monotonic() + STORM_MAX_SECONDS
        while ledger.acks < KILL_AFTER_ACKS and time.monotonic() < end and not any(f.done() for f in runs):
            time.sleep(0.02)
        stop.set()
        server.kill()
        for f in runs:
            f.result(timeout=60)  # re-raises a storm failure from before the kill
    assert ledger.acks >= KILL_AFTER_ACKS, f"only {ledger.acks} acknowledged changes before the deadline"

    if database_url.startswith("sqlite"):
        path = database_url.split("sqlite:///", 1)[1]
        with sqlite3.connect(path) as db:  # opening it recovers the write-ahead log
            assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            assert db.execute("PRAGMA foreign_key_check").fetchall() == []

    server.start()
    lost = []
    with requests.Session() as session:
        for username, password in sorted(ledger.password.items()):
            if server.login(username, password, session=session).status_code == 200:
                continue
            newer = ledger.maybe.get(username)
            if newer and server.login(username, newer, session=session).status_code == 200:
                continue
            lost.append(username)
    assert not lost, f"{len(lost)} of {len(ledger.password)} acknowledged changes lost: {lost[:10]}"
    # After an acknowledged change the sign-up password no longer works.
    replaced = sorted(u for u, p in ledger.password.items() if p != ledger.first[u])
    assert replaced
    for username in replaced[:10]:
        assert server.login(username, ledger.first[username]).status_code == 401


@pytest.mark.skipif(bool(POSTGRES_URL), reason="SQLite only: this run is on PostgreSQL")
def test_gunicorn_serves_no_debugger_console(gunicorn_servers, tmp_path):  # noqa: F811
    """The real server, with FLASK_DEBUG=1 in its environment by mistake."""
    server = gunicorn_servers.start(tmp_path / "instance", NO_LIMITS, extra_env={"FLASK_DEBUG": "1"})
    for path in ("/console", "/console?__debugger__=yes&cmd=resource&f=debugger.js"):
        r = server.request("GET", path)
        assert r.status_code == 404 and "Werkzeug" not in r.text
