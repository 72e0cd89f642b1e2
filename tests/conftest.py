"""Fixtures: an app per test on its own database (a SQLite file, or a fresh PostgreSQL
database when KEYSTEAD_TEST_POSTGRES_URL names a server), the test client, the CLI runner,
an `auth` helper for browser logins, a `users` factory, and a real SMTP server."""
from __future__ import annotations

import contextlib
import email
import email.policy
import itertools
import os
import re
import secrets
import socket
import threading
import time

import pytest

from keystead import create_app


# ---------------------------------------------------------------- no silent skips

# With KEYSTEAD_STRICT_SKIPS=1 (.ci/run sets it), a run fails when a test was skipped for any
# reason but belonging to the other database's run: a missing Chromium, nginx, Redis or
# PostgreSQL binary there must not turn a regression into a skip.
OTHER_RUN_SKIP = re.compile(r"SQLite only|PostgreSQL only|needs a PostgreSQL server|"
                            r"runs in the SQLite run|PostgreSQL has no such answer")
_unexpected_skips: list[str] = []


def pytest_runtest_logreport(report):
    if report.skipped and isinstance(report.longrepr, tuple):
        reason = str(report.longrepr[2])
        if not OTHER_RUN_SKIP.search(reason):
            _unexpected_skips.append(f"{report.nodeid}: {reason}")


def pytest_sessionfinish(session, exitstatus):
    if os.environ.get("KEYSTEAD_STRICT_SKIPS") == "1" and _unexpected_skips:
        print("\nKEYSTEAD_STRICT_SKIPS: tests were skipped for a reason other than the other "
              "database's run:\n  " + "\n  ".join(_unexpected_skips))
        session.exitstatus = 1

POSTGRES_URL = os.environ.get("KEYSTEAD_TEST_POSTGRES_URL", "")

TEST_SETTINGS = {
    "Password.BcryptRounds": 4,
    "Password.WebSudoMode": False,
    "Server.PublicURL": "http://keystead.test",
}

STRONG_PASSWORD = "correct-horse-battery-staple-42"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch):
    """Settings come only from what a test passes, never from the developer's shell."""
    for name in list(os.environ):
        if name.startswith("KEYSTEAD_") and name != "KEYSTEAD_TEST_POSTGRES_URL":
            monkeypatch.delenv(name)


@contextlib.contextmanager
def new_database(folder, filename: str = "keystead.db"):
    """A new empty database of the run's kind: a SQLite file `filename` in `folder`, or a
    PostgreSQL database dropped afterwards."""
    if not POSTGRES_URL:
        yield f"sqlite:///{folder / filename}"
        return
    import psycopg2
    name = "ks_test_" + secrets.token_hex(6)
    admin = psycopg2.connect(POSTGRES_URL)
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def database_url(tmp_path):
    """A new empty database for this test: a SQLite file, or a PostgreSQL database."""
    with new_database(tmp_path) as url:
        yield url


@pytest.fixture
def make_app(tmp_path, database_url):
    """make_app(**settings) -> a new app on this test's database and instance folder."""
    made = []

    def make(settings: dict | None = None, plugins=()):
        config = {**TEST_SETTINGS, "Server.DatabaseURL": database_url, **(settings or {})}
        app = create_app(config, instance_path=str(tmp_path / "instance"), plugins=plugins)
        app.config["TESTING"] = True
        made.append(app)
        return app

    yield make
    for app in made:
        # Work queued after an answer (mail above all) ends with its test: it must never
        # reach the next test's SMTP server, which may listen on the same port again.
        outbox = app.extensions.get("keystead.outbox")
        if outbox is not None:
            outbox.join(30)
        db = app.extensions["keystead.db"]
        if hasattr(db, "close_all"):
            db.close_all()
        elif not db.is_closed():
            db.close()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def csrf_from(html: str) -> str:
    m = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or \
        re.search(r'value="([^"]+)"[^>]*name="csrf_token"', html)
    assert m, "no csrf_token field on the page"
    return m.group(1)


def post_form(client, path: str, data: dict, page: str | None = None, **kw):
    """GET `page` (default `path`) for its CSRF token, then POST the form to `path`."""
    html = client.get(page or path).get_data(as_text=True)
    return client.post(path, data={"csrf_token": csrf_from(html), **data}, **kw)


_PEOPLE_MADE = itertools.count(1)


class UserFactory:
    """users.create(...) -> (User, password), through the same service the CLI uses."""

    def __init__(self, app):
        self.app = app
        self.n = 0

    def create(self, username: str | None = None, password: str | None = STRONG_PASSWORD,
               role: str = "viewer", email: str | None = None, **kw):
        from keystead.accounts import create_user
        self.n += 1
        # Numbered across every factory of the process: helpers make a new factory per call
        # (api_support.users_of), and a per-factory number met its twin by chance.
        username = username or f"person{next(_PEOPLE_MADE)}{secrets.token_hex(2)}"
        email = email or f"{username}@example.com"
        with self.app.app_context():
            db = self.app.extensions["keystead.db"]
            with db.connection_context():
                user = create_user(username, email, password, role=role, email_verified=True, **kw)
        return user, password


@pytest.fixture
def users(app):
    return UserFactory(app)


@pytest.fixture
def admin(users):
    """The administrator "root", made through the service functions."""
    return users.create("root", role="administrator")[0]


@pytest.fixture
def admin_h(client, admin):
    """API headers of the administrator."""
    from api_support import bearer, login
    return bearer(login(client, "root")["access_token"])


@pytest.fixture
def viewer_h(client, users):
    """API headers of a viewer, "vera"."""
    from api_support import bearer, login
    users.create("vera")
    return bearer(login(client, "vera")["access_token"])


class AuthActions:
    def __init__(self, client):
        self.client = client

    def login(self, username: str, password: str = STRONG_PASSWORD, next_path: str | None = None):
        path = "/login" + (f"?next={next_path}" if next_path else "")
        return post_form(self.client, path, {"username": username, "password": password})

    def logout(self):
        return post_form(self.client, "/logout", {}, page="/profile")


@pytest.fixture
def auth(client):
    return AuthActions(client)


# ---------------------------------------------------------------- mail

class Mailbox:
    """aiosmtpd handler that keeps every message it receives."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._lock:
            self.messages.append(msg)
        return "250 Message accepted"

    def to(self, address: str) -> list:
        with self._lock:
            return [m for m in self.messages if address.lower() in str(m["To"]).lower()]

    @staticmethod
    def text_of(msg) -> str:
        return msg.get_body(preferencelist=("plain",)).get_content()

    @staticmethod
    def html_of(msg) -> str:
        return msg.get_body(preferencelist=("html",)).get_content()

    def link_to(self, address: str, path_part: str) -> str:
        """The first link containing `path_part` in the newest message to `address`."""
        found = self.to(address)
        assert found, f"no mail to {address}"
        text = self.text_of(found[-1])
        for url in re.findall(r"https?://\S+", text):
            if path_part in url:
                return url
        raise AssertionError(f"no link with {path_part} in:\n{text}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp():
    """A real SMTP server on loopback: yields (mailbox, settings that send mail to it)."""
    from aiosmtpd.controller import Controller
    box = Mailbox()
    port = _free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, {"Email.Host": "127.0.0.1", "Email.Port": port, "Email.Sender": "keystead@example.com"}
    controller.stop()


@pytest.fixture
def mail_app(make_app, smtp):
    """An app that sends mail to the loopback SMTP server; `mail_app.mailbox` holds it."""
    box, settings = smtp
    app = make_app(settings)
    app.mailbox = box
    return app


def wait_for(predicate, timeout: float = 5.0):
    """Poll `predicate` until true (for work another thread finishes); no fixed sleeps."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def outbox_idle(app, timeout: float = 30.0) -> bool:
    """Wait until the app has done the work it queued to do after answering (links and
    mail, app/outbox.py), so "no mail was sent" can be asserted. It returns as soon as
    the work is done; the timeout only bounds a run on a loaded machine."""
    return app.extensions["keystead.outbox"].join(timeout)
