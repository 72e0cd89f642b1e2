"""A real Keystead served over HTTP on 127.0.0.1 for browser tests (Playwright).

Import the fixtures into a test module:

    from live import live_server, make_live_server  # noqa: F401  (pytest fixtures)

`live_server` is a server with the test defaults; `make_live_server(settings)` makes one
with more settings. Each has its own instance folder, the test's own database (a SQLite
file, or a PostgreSQL database when the suite runs on PostgreSQL: see `database_url` in
conftest.py), bcrypt at 4 rounds, and Server.PublicURL set to its own address (so mailed
links lead back to it). The server
is werkzeug's threaded development server in a daemon thread, stopped after the test.

The models bind to one database at a time (a module-level proxy): do not use a live
server and another app of the same test on different databases at once.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass

import pytest
from werkzeug.serving import make_server

from keystead import create_app

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

LIVE_SETTINGS = {
    "Password.BcryptRounds": 4,
    "Password.WebSudoMode": False,
}


@dataclass
class LiveServer:
    url: str  # http://127.0.0.1:<port>, no trailing slash
    app: object

    def __call__(self, path: str = "/") -> str:
        """The full address of `path` on this server."""
        return self.url + path


class _Dispatch:
    """The server is bound before the app exists (the app needs the port in PublicURL)."""
    app = None

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)


@pytest.fixture
def make_live_server(tmp_path, database_url):
    started = []

    def make(settings: dict | None = None) -> LiveServer:
        n = len(started)
        if n:  # the models bind to one database at a time (see above): one server per test
            raise RuntimeError("one live server per test")
        instance = tmp_path / "live"
        instance.mkdir()
        dispatch = _Dispatch()
        server = make_server("127.0.0.1", 0, dispatch, threaded=True)
        url = f"http://127.0.0.1:{server.server_port}"
        config = {**LIVE_SETTINGS, "Server.PublicURL": url, "Server.DatabaseURL": database_url,
                  **(settings or {})}
        try:
            app = create_app(config, instance_path=str(instance))
        except Exception:
            server.server_close()
            raise
        dispatch.app = app
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                  daemon=True, name=f"keystead-live-{server.server_port}")
        thread.start()
        started.append((server, thread, app))
        return LiveServer(url, app)

    yield make
    for server, thread, app in started:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        db = app.extensions["keystead.db"]
        if hasattr(db, "close_all"):
            db.close_all()


@pytest.fixture
def live_server(make_live_server) -> LiveServer:
    return make_live_server()


@pytest.fixture
def browser():
    """A headless Debian Chromium driven by Playwright (skips when Chromium is absent)."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


def watch_policy_violations(page) -> list[str]:
    """Collect the page's Content-Security-Policy violations and script errors as they
    happen; a test asserts the list stays empty."""
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text)
            if msg.type == "error" and "Content Security Policy" in msg.text else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    return problems
