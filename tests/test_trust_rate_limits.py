"""Issue 12, items 12, 13 and 16: rate limits that hold whatever the number of workers,
Redis that may go away without failing a request, email changes under a limit, and
Retry-After only where it means something.

The Redis tests start a real `redis-server` on a free loopback port (no persistence) and
stop and start it; they are skipped only when /usr/bin/redis-server is not installed.
"""
from __future__ import annotations

import logging
import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from api_support import API, bearer, login
from conftest import POSTGRES_URL, STRONG_PASSWORD, UserFactory, csrf_from
from servers import free_port, gunicorn_servers  # noqa: F401  (pytest fixture)

REDIS_SERVER = "/usr/bin/redis-server"
LOGIN_LIMIT = 60  # "60 per minute" (app/ratelimits.py, docs/configuration.md)
EMAIL_LIMIT = 20  # "20 per minute"
NO_LOCKOUT = {"Password.LockoutThreshold": 0}  # only the address limits are under test


def _api_login(client, n: int, addr: str):
    return client.post(f"{API}/auth/login", json={"username": f"nobody{n}", "password": "wrong-password"},
                       environ_base={"REMOTE_ADDR": addr})


# ---------------------------------------------------------------- a real Redis

class RedisServer:
    """`redis-server` on 127.0.0.1:<port>, without persistence; stop() and start() again
    on the same port."""

    def __init__(self, port: int):
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        import redis
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=1)
        end = time.monotonic() + 15
        while time.monotonic() < end:
            assert self.proc.poll() is None, f"redis-server exited with {self.proc.returncode}"
            try:
                if client.ping():
                    client.close()
                    return
            except redis.ConnectionError:
                time.sleep(0.05)
        self.stop()
        raise AssertionError("redis-server did not answer within 15s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=15)
        self.proc = None

    def client(self):
        import redis
        return redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=1)


@pytest.fixture(scope="module")
def redis_server():
    if not os.path.exists(REDIS_SERVER):
        pytest.skip(f"{REDIS_SERVER} is not installed (apt-get install redis-server)")
    server = RedisServer(free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_storage(redis_server):
    """The module's Redis, running and empty, for one test."""
    if redis_server.proc is None:
        redis_server.start()
    with redis_server.client() as c:
        c.flushdb()
    yield redis_server
    if redis_server.proc is None:
        redis_server.start()


# ---------------------------------------------------------------- item 13: one count per host

def test_two_gunicorn_workers_refuse_exactly_the_61st_login_of_a_60_per_minute_limit(
        gunicorn_servers, tmp_path, database_url):  # noqa: F811
    """Issue 12 item 13: `gunicorn -w 2 --threads 2` with the default storage. The 61 login
    attempts are sent four at a time, so both workers (and their threads) serve them: 60
    are answered (401), exactly one is refused (429), and so is every one after. With
    per-process counts each worker would let 60 through."""
    server = gunicorn_servers.start(tmp_path / "instance",
                                    {**NO_LOCKOUT, "Server.DatabaseURL": database_url},
                                    workers=2, threads=2)

    def attempt(n):
        return server.login(f"nobody{n}", "wrong-password").status_code

    with ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(attempt, range(LOGIN_LIMIT + 1)))
    assert statuses.count(401) == LOGIN_LIMIT and statuses.count(429) == 1, statuses
    for n in range(4):  # whichever worker answers
        r = server.login(f"again{n}", "wrong-password")
        assert r.status_code == 429 and 1 <= int(r.headers["Retry-After"]) <= 60
    assert server.api("GET", "/health").json() == {"status": "ok"}
    assert "Traceback" not in server.log_tail(200)


def test_the_documented_limit_is_exact_in_sequence_too(make_app):
    """Issue 12 item 13: the default storage (the database) counts request by request: the
    60th attempt is answered, the 61st refused; two apps on one database (two workers, or
    two hosts on one PostgreSQL) share the count."""
    first, second = make_app(NO_LOCKOUT), make_app(NO_LOCKOUT)
    assert first.extensions["keystead.settings"]["Server.RateLimitStorage"] == "database://"
    addr = "203.0.113.21"
    for n in range(LOGIN_LIMIT):
        client = (first if n % 2 else second).test_client()
        assert _api_login(client, n, addr).status_code == 401, n + 1
    assert _api_login(first.test_client(), 0, addr).status_code == 429
    assert _api_login(second.test_client(), 0, addr).status_code == 429
    assert _api_login(first.test_client(), 0, "198.51.100.21").status_code == 401


def test_limits_are_counted_in_redis_shared_by_two_hosts(make_app, redis_storage):
    """Issue 12 item 13: with Server.RateLimitStorage = redis://…, two apps (two hosts)
    count one address together, and the counts are in Redis."""
    settings = {**NO_LOCKOUT, "Server.RateLimitStorage": redis_storage.url}
    host_a, host_b = make_app(settings).test_client(), make_app(settings).test_client()
    addr = "203.0.113.31"
    for n in range(LOGIN_LIMIT):
        assert _api_login(host_a if n % 2 else host_b, n, addr).status_code == 401
    assert _api_login(host_a, 0, addr).status_code == 429
    assert _api_login(host_b, 0, addr).status_code == 429
    with redis_storage.client() as c:
        assert any(addr.encode() in key for key in c.keys("*"))


def test_redis_going_away_degrades_to_per_process_limits_and_back(make_app, redis_storage, caplog):
    """Issue 12 item 13: Redis stops while Keystead serves: requests are still answered
    (never 500), counted per process (the 61st is refused), a warning is logged and
    /api/v1/health says "rate_limits": "degraded"; once Redis answers again, health is
    plain ok."""
    app = make_app({**NO_LOCKOUT, "Server.RateLimitStorage": redis_storage.url})
    client = app.test_client()
    addr = "203.0.113.41"
    assert _api_login(client, 0, addr).status_code == 401
    assert client.get(f"{API}/health").json == {"status": "ok"}

    redis_storage.stop()
    caplog.set_level(logging.INFO, logger="keystead")
    statuses = [_api_login(client, n, addr).status_code for n in range(LOGIN_LIMIT)]
    assert statuses == [401] * LOGIN_LIMIT
    r = _api_login(client, LOGIN_LIMIT, addr)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    warnings = [rec for rec in caplog.records
                if rec.name.startswith("keystead") and rec.levelno == logging.WARNING]
    assert any("unreachable" in rec.getMessage() for rec in warnings), caplog.text
    r = client.get(f"{API}/health")
    assert r.status_code == 200 and r.json == {"status": "ok", "rate_limits": "degraded"}
    assert client.get("/login").status_code == 200  # pages that are not limited are unaffected

    redis_storage.start()
    assert client.get(f"{API}/health").json == {"status": "ok"}


def test_an_app_started_while_redis_is_down_answers_and_says_degraded(make_app):
    """Issue 12 item 13: nothing listens at the configured Redis: start-up works, limited
    requests are answered, health says degraded."""
    app = make_app({**NO_LOCKOUT, "Server.RateLimitStorage": f"redis://127.0.0.1:{free_port()}/0"})
    client = app.test_client()
    assert _api_login(client, 0, "203.0.113.51").status_code == 401
    r = client.get(f"{API}/health")
    assert r.status_code == 200 and r.json == {"status": "ok", "rate_limits": "degraded"}


def test_health_has_no_rate_limit_note_with_the_limits_off(make_app):
    """Issue 12 item 13: with Server.RateLimits = false there is no storage to report on."""
    app = make_app({"Server.RateLimits": False,
                    "Server.RateLimitStorage": f"redis://127.0.0.1:{free_port()}/0"})
    assert app.test_client().get(f"{API}/health").json == {"status": "ok"}


def test_an_unknown_rate_limit_storage_refuses_start_up_in_one_line(make_app):
    """Issue 12 item 13: a storage that cannot keep a moving window (or a typo) is refused
    at start-up, naming the setting."""
    from keystead.config import ConfigError
    for uri in ("memcached://127.0.0.1:11211", "redsi://127.0.0.1:6379", "database"):
        with pytest.raises(ConfigError, match="Server.RateLimitStorage") as e:
            make_app({"Server.RateLimitStorage": uri})
        assert "\n" not in str(e.value)


# ---------------------------------------------------------------- item 12: email changes

@pytest.fixture
def ada_token(app, client, users):
    users.create("ada")
    users.create("bob")  # holds bob@example.com
    return login(client, "ada")["access_token"]


def test_patch_me_probing_addresses_is_limited(client, ada_token):
    """Issue 12 item 12: PATCH /users/me naming an address answers whether another account
    holds it; the 21st within a minute from one address is refused with 429."""
    addr = {"REMOTE_ADDR": "203.0.113.61"}
    probe = {"email": "bob@example.com", "current_password": STRONG_PASSWORD}
    for n in range(EMAIL_LIMIT):
        r = client.patch(f"{API}/users/me", json=probe, headers=bearer(ada_token), environ_base=addr)
        assert r.status_code not in (429, 500), (n + 1, r.status_code)
    r = client.patch(f"{API}/users/me", json=probe, headers=bearer(ada_token), environ_base=addr)
    assert r.status_code == 429 and r.json["error"]["code"] == "too_many_requests"
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    # A change that names no address is not counted; another client address is not limited.
    r = client.patch(f"{API}/users/me", json={"first_name": "Ada"}, headers=bearer(ada_token),
                     environ_base=addr)
    assert r.status_code == 200
    r = client.patch(f"{API}/users/me", json=probe, headers=bearer(ada_token),
                     environ_base={"REMOTE_ADDR": "198.51.100.61"})
    assert r.status_code != 429


def test_the_profile_form_shares_the_email_change_bucket(client, auth, ada_token):
    """Issue 12 item 12: the browser's profile form (it always carries the email field)
    counts in the same bucket as the API."""
    addr = {"REMOTE_ADDR": "203.0.113.62"}
    for _ in range(EMAIL_LIMIT):
        client.patch(f"{API}/users/me", json={"email": "bob@example.com"}, headers=bearer(ada_token),
                     environ_base=addr)
    auth.login("ada")
    token = csrf_from(client.get("/profile").get_data(as_text=True))
    r = client.post("/profile", data={"csrf_token": token, "email": "ada2@example.com", "first_name": "",
                                      "last_name": ""}, environ_base=addr)
    assert r.status_code == 429 and "Retry-After" in r.headers


# ---------------------------------------------------------------- item 16: headers

def _vary(response) -> list[str]:
    return response.headers.getlist("Vary")


def test_answers_other_than_429_carry_no_retry_after_and_one_vary(app, client, users):
    """Issue 12 item 16: a 200 login (API and browser), a 401, a page and an API answer
    carry no Retry-After and no X-RateLimit-* headers, and exactly one Vary header that
    names Cookie and Authorization."""
    users.create("ada")
    answers = {
        "api login 200": client.post(f"{API}/auth/login", json={"username": "ada", "password": STRONG_PASSWORD}),
        "api login 401": client.post(f"{API}/auth/login", json={"username": "ada", "password": "wrong-password"}),
        "login page": client.get("/login"),
        "health": client.get(f"{API}/health"),
    }
    token = csrf_from(answers["login page"].get_data(as_text=True))
    answers["browser login 303"] = client.post(
        "/login", data={"csrf_token": token, "username": "ada", "password": STRONG_PASSWORD})
    assert answers["api login 200"].status_code == 200
    assert answers["browser login 303"].status_code == 303
    for what, r in answers.items():
        assert "Retry-After" not in r.headers, what
        assert not [h for h in r.headers.keys() if h.lower().startswith("x-ratelimit")], what
        vary = _vary(r)
        assert len(vary) == 1, (what, vary)
        names = [n.strip().lower() for n in vary[0].split(",")]
        assert sorted(names) == ["authorization", "cookie"], (what, vary)


def test_a_429_carries_retry_after_within_the_window(make_app):
    """Issue 12 item 16: the refused request says when to come back: at most the minute of
    the breached limit, at least one second; one Vary header there too."""
    client = make_app(NO_LOCKOUT).test_client()
    addr = "203.0.113.71"
    for n in range(LOGIN_LIMIT):
        assert _api_login(client, n, addr).status_code == 401
    r = _api_login(client, LOGIN_LIMIT, addr)
    assert r.status_code == 429
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    assert len(_vary(r)) == 1


@pytest.mark.skipif(bool(POSTGRES_URL), reason="SQLite's busy timeout (PostgreSQL has no such answer)")
def test_a_busy_sqlite_answers_503_without_retry_after(make_app, tmp_path):
    """Issue 12 item 16: Retry-After is kept for 429 and a lockout's 423: the 503 of a
    SQLite database held busy by another process carries none."""
    import sqlite3
    path = tmp_path / "busy.db"
    app = make_app({"Server.DatabaseURL": f"sqlite:///{path}", "Server.SQLiteBusyTimeout": "1s",
                    "Server.RateLimits": False})
    UserFactory(app).create("ada")
    client = app.test_client()
    holder = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        r = client.post(f"{API}/auth/register", json={"username": "blocked", "email": "b@example.com",
                                                      "password": STRONG_PASSWORD})
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert r.status_code == 503 and r.json["error"]["code"] == "unavailable"
    assert "Retry-After" not in r.headers
