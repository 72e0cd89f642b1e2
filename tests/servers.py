"""Real Keystead servers for the concurrency, durability and deployment tests:
`gunicorn wsgi:app` processes started from the project folder and configured the way an
operator does it, with KEYSTEAD_INSTANCE and KEYSTEAD_<SECTION>_<KEY> variables.

    from servers import gunicorn_servers  # noqa: F401  (the pytest fixture)

    def test_x(gunicorn_servers, tmp_path):
        server = gunicorn_servers.start(tmp_path / "instance", {"Server.RateLimits": False})
        server.api("POST", "/auth/login", json={...})

Only 127.0.0.1 is contacted. Every start, stop and request is bounded in time; the
servers a test started are stopped (their own process groups only) when it ends.
"""
from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest
import requests

from conftest import STRONG_PASSWORD

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GUNICORN = os.path.join(os.path.dirname(sys.executable), "gunicorn")
API = "/api/v1"
START_TIMEOUT = 45
REQUEST_TIMEOUT = 30

ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "Adm1n-Keystead-Server-Tests-9"

# What every test server runs with: fast bcrypt and a known administrator (so no sign-up
# is ever "the first account"). Tests add their own settings on top.
BASE_SETTINGS = {
    "Password.BcryptRounds": 4,
    "Bootstrap.AdminUsername": ADMIN_USERNAME,
    "Bootstrap.AdminEmail": "admin@example.com",
    "Bootstrap.AdminPassword": ADMIN_PASSWORD,
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def setting_env(settings: dict) -> dict:
    """{"Password.MinimumScore": 3, "Server.RateLimits": False} -> KEYSTEAD_* variables."""
    env = {}
    for name, value in settings.items():
        if isinstance(value, bool):
            value = "true" if value else "false"
        env["KEYSTEAD_" + name.replace(".", "_").upper()] = str(value)
    return env


class ServerUnreachable(requests.ConnectionError):
    """A request to a test's gunicorn that could not be sent or answered, saying what
    gunicorn logged (still a ConnectionError: tests that kill servers expect those)."""


class GunicornServer:
    """One `gunicorn wsgi:app` on 127.0.0.1:<port> with its own instance folder."""

    def __init__(self, instance, settings: dict, workers: int = 2, threads: int = 1,
                 port: int | None = None, extra_env: dict | None = None, tls: tuple[str, str] | None = None):
        self.instance = str(instance)
        os.makedirs(self.instance, exist_ok=True)
        self.port = port or free_port()
        self.tls = tls  # (certificate file, key file): gunicorn serves https itself
        self.verify = tls[0] if tls else True  # a test's self-signed certificate vouches for itself
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.settings = {**BASE_SETTINGS, "Server.PublicURL": self.url, **settings}
        self.workers, self.threads = workers, threads
        self.extra_env = dict(extra_env or {})
        self.log_path = os.path.join(self.instance, f"gunicorn-{self.port}.log")
        self.proc: subprocess.Popen | None = None
        self._log = None

    def env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KEYSTEAD_", "FLASK_"))}
        env.update(setting_env(self.settings), KEYSTEAD_INSTANCE=self.instance, PYTHONUNBUFFERED="1")
        env.update(self.extra_env)
        return env

    def command(self) -> list[str]:
        """`gunicorn ... wsgi:app`, run from the project folder (so it reads gunicorn.conf.py)."""
        tls = ["--certfile", self.tls[0], "--keyfile", self.tls[1]] if self.tls else []
        return [GUNICORN, "-w", str(self.workers), "--threads", str(self.threads),
                "-b", f"127.0.0.1:{self.port}", "--timeout", "60", "--graceful-timeout", "5", *tls, "wsgi:app"]

    def start(self) -> "GunicornServer":
        cmd = self.command()
        self._log = open(self.log_path, "ab")
        # A session of its own: kill() reaches the master and every worker, and nothing else.
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env(), stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        end = time.monotonic() + START_TIMEOUT
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise AssertionError(f"gunicorn exited with {self.proc.returncode} at start-up:\n"
                                     f"{self.log_tail()}")
            try:
                if requests.get(self.url + API + "/health", timeout=2, verify=self.verify).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.kill()
        raise AssertionError(f"/api/v1/health did not answer within {START_TIMEOUT}s:\n{self.log_tail()}")

    def stop(self) -> None:
        """Graceful stop (SIGTERM to the master); SIGKILL to its group if it lingers."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        self._close_log()

    def kill(self) -> None:
        """SIGKILL the master and every worker at once (a crash: nothing is flushed or
        finished), then reap the master."""
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=15)
            self._wait_group_gone()
        self._close_log()

    def _wait_group_gone(self, timeout: float = 10) -> None:
        """Workers are children of the killed master; wait until none of the group is left."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                os.killpg(self.proc.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)

    def restart(self) -> "GunicornServer":
        self.stop()
        return self.start()

    def _close_log(self) -> None:
        if self._log is not None and not self._log.closed:
            self._log.close()

    def log_tail(self, n: int = 40) -> str:
        try:
            with open(self.log_path, "rb") as f:
                return "\n".join(f.read().decode("utf-8", "replace").splitlines()[-n:])
        except OSError:
            return ""

    # ---- HTTP

    def request(self, method: str, path: str, **kw) -> requests.Response:
        kw.setdefault("timeout", REQUEST_TIMEOUT)
        kw.setdefault("allow_redirects", False)
        kw.setdefault("verify", self.verify)
        return self._send(requests, method, self.url + path, **kw)

    def api(self, method: str, path: str, token: str | None = None, session=None, **kw) -> requests.Response:
        headers = dict(kw.pop("headers", None) or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        kw.setdefault("timeout", REQUEST_TIMEOUT)
        kw.setdefault("verify", self.verify)
        return self._send(session or requests, method, self.url + API + path, headers=headers, **kw)

    def _send(self, client, method: str, url: str, **kw) -> requests.Response:
        """One request; when the server cannot be reached at all, the failure says whether
        gunicorn is still running and what it logged last (a refused connection alone
        cannot tell a dead master from a wrong port)."""
        try:
            return client.request(method, url, **kw)
        except requests.ConnectionError as e:
            status = self.proc.poll() if self.proc is not None else "never started"
            raise ServerUnreachable(f"{method} {url} failed ({e}); gunicorn's exit status: {status}; "
                                    f"its log ends:\n{self.log_tail(60)}") from e

    def login(self, username: str, password: str, session=None) -> requests.Response:
        return self.api("POST", "/auth/login", json={"username": username, "password": password},
                        session=session)

    def token(self, username: str, password: str) -> str:
        r = self.login(username, password)
        assert r.status_code == 200, (r.status_code, r.text)
        return r.json()["access_token"]

    def register(self, username: str, password: str = STRONG_PASSWORD, email: str | None = None,
                 session=None) -> requests.Response:
        return self.api("POST", "/auth/register", session=session, json={
            "username": username, "email": email or f"{username}@example.com", "password": password})


class ServerSet:
    """The `gunicorn_servers` fixture: start(...) servers, all stopped at the end."""

    def __init__(self):
        self.started: list[GunicornServer] = []

    def start(self, instance, settings: dict, **kw) -> GunicornServer:
        server = GunicornServer(instance, settings, **kw)
        self.started.append(server)
        return server.start()

    def stop_all(self) -> None:
        for server in self.started:
            server.stop()


@pytest.fixture
def gunicorn_servers():
    if not os.path.exists(GUNICORN):
        pytest.skip(f"gunicorn is not installed at {GUNICORN}")
    servers = ServerSet()
    try:
        yield servers
    finally:
        servers.stop_all()


# ---------------------------------------------------------------- a PostgreSQL of the test's own

def postgres_binaries() -> str | None:
    """The newest /usr/lib/postgresql/<version>/bin holding initdb and pg_ctl (Debian's
    layout, as .ci/run uses it), or None."""
    found = [path for path in glob.glob("/usr/lib/postgresql/*/bin")
             if os.path.exists(os.path.join(path, "initdb")) and os.path.exists(os.path.join(path, "pg_ctl"))]
    return max(found, key=lambda path: int(path.split("/")[-2]), default=None) if found else None


class PostgresCluster:
    """A throw-away PostgreSQL cluster that a test owns: initdb into a fresh folder, a
    server on 127.0.0.1:<free port> (its socket in that folder), which the test may stop
    and start at will. Run as the `postgres` user when the tests run as root (PostgreSQL
    refuses to run as root)."""

    def __init__(self, binaries: str):
        self.binaries = binaries
        self.port = free_port()
        # Not under pytest's tmp_path: that folder is private to root, and the server runs
        # as postgres.
        self.data = tempfile.mkdtemp(prefix="keystead-test-pg-")
        self.log_path = os.path.join(self.data, "server.log")
        self.running = False

    def _run(self, program: str, *args: str) -> None:
        command = [os.path.join(self.binaries, program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=90)
        if done.returncode != 0:
            raise AssertionError(f"{program} {' '.join(args)} failed ({done.returncode}):\n"
                                 f"{done.stdout}{done.stderr}\n{self.log_tail()}")

    def init(self) -> "PostgresCluster":
        if os.geteuid() == 0:
            shutil.chown(self.data, "postgres")
        os.chmod(self.data, 0o700)
        self._run("initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
        return self

    def start(self) -> "PostgresCluster":
        """Start the server and wait until it accepts connections."""
        self._run("pg_ctl", "-D", self.data, "-l", self.log_path, "-w", "-t", "60", "-o",
                  f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c max_connections=100",
                  "start")
        self.running = True
        return self

    def stop(self, mode: str = "fast") -> None:
        """`pg_ctl stop -m fast` (sessions told "terminating connection due to administrator
        command") or `-m immediate` (the server just goes away), waiting until it is down."""
        self._run("pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "60", "stop")
        self.running = False

    def url(self, database: str = "postgres", password: str | None = None) -> str:
        user = f"postgres:{password}" if password else "postgres"
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        import psycopg2
        admin = psycopg2.connect(self.url())
        try:
            admin.autocommit = True
            admin.cursor().execute(f'CREATE DATABASE "{name}"')
        finally:
            admin.close()
        return name

    def log_tail(self, n: int = 20) -> str:
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return "\n".join(f.read().splitlines()[-n:])
        except OSError:
            return ""

    def destroy(self) -> None:
        try:
            if self.running:
                self.stop("immediate")
        finally:
            shutil.rmtree(self.data, ignore_errors=True)


@pytest.fixture
def postgres_cluster():
    """A PostgreSQL cluster of this test's own, initialised and started; destroyed after."""
    binaries = postgres_binaries()
    if binaries is None:
        pytest.skip("the PostgreSQL server binaries are not installed (/usr/lib/postgresql/<version>/bin/"
                    "initdb and pg_ctl; apt-get install postgresql)")
    cluster = PostgresCluster(binaries)
    try:
        cluster.init().start()
        yield cluster
    finally:
        cluster.destroy()
