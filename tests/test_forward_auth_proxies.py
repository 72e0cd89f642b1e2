"""Issue 15: forward-auth behind the real proxies, as docs/apps.md configures them. Debian's
nginx (`auth_request`) and Caddy (`forward_auth`) run on loopback in front of a tiny
upstream app that echoes the Remote-* headers it receives, with a live Keystead beside them;
Chromium walks: unauthenticated -> redirected to Keystead's login -> login with two-factor
-> back at the app, whose upstream sees the identity headers; a person not allowed -> 403
page; logout at Keystead -> the next request to the app needs a login again.

Keystead and the proxy share the host 127.0.0.1 on different ports: cookies are per host,
not per port, so the browser sends Keystead's session cookie to the app as it would to
apps under Server.CookieDomain."""
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import STRONG_PASSWORD, UserFactory
from https_support import NGINX, Nginx
from live import browser, live_server, make_live_server  # noqa: F401  (pytest fixtures)
from totp_support import code_for, enable_for

DOC = Path(__file__).resolve().parent.parent / "docs" / "apps.md"
CADDY = "/usr/bin/caddy"
IDENTITY = ("Remote-User", "Remote-Email", "Remote-Name", "Remote-Groups")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Echo(BaseHTTPRequestHandler):
    """The protected app: a page showing the identity headers it received, as JSON."""

    def do_GET(self):
        seen = {h: self.headers.get(h) for h in IDENTITY}
        body = ("<!doctype html><title>The app</title><h1>The app</h1><pre id=seen>"
                + json.dumps({"path": self.path, **seen}) + "</pre>").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def upstream():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def documented(language: str) -> str:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)[0]


def wait_for_port(port: int, proc: subprocess.Popen, what: str, log=lambda: "") -> None:
    end = time.monotonic() + 30
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise AssertionError(f"{what} exited with {proc.returncode}: {log()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"{what} did not listen on {port}: {log()}")


def start_nginx(tmp_path, keystead_port: int, upstream_port: int, port: int):
    """docs/apps.md's nginx block with this test's addresses."""
    conf = (documented("nginx").replace("listen 80;", f"listen 127.0.0.1:{port};")
            .replace("server_name grafana.example.com;", "server_name 127.0.0.1;")
            .replace("127.0.0.1:8000", f"127.0.0.1:{keystead_port}")
            .replace("127.0.0.1:3000", f"127.0.0.1:{upstream_port}"))
    nginx = Nginx(tmp_path / "nginx", conf, port).start()
    return nginx.stop


def start_caddy(tmp_path, keystead_port: int, upstream_port: int, port: int):
    """docs/apps.md's Caddyfile with this test's addresses (plain http, no admin port)."""
    site = (documented("caddyfile").replace("grafana.example.com {", f"http://127.0.0.1:{port} {{")
            .replace("127.0.0.1:8000", f"127.0.0.1:{keystead_port}")
            .replace("127.0.0.1:3000", f"127.0.0.1:{upstream_port}"))
    caddyfile = tmp_path / "Caddyfile"
    caddyfile.write_text("{\n\tadmin off\n\tauto_https off\n}\n" + site)
    log = tmp_path / "caddy.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([CADDY, "run", "--config", str(caddyfile), "--adapter", "caddyfile"],
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                cwd=tmp_path, start_new_session=True,
                                env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin",
                                     "XDG_DATA_HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)})
    wait_for_port(port, proc, "caddy", lambda: log.read_text()[-2000:])

    def stop():
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait(timeout=15)
    return stop


PROXIES = {"nginx": (NGINX, start_nginx), "caddy": (CADDY, start_caddy)}


@pytest.mark.browser
@pytest.mark.parametrize("proxy", sorted(PROXIES))
def test_a_browser_signs_in_through_the_proxy_and_the_app_sees_who_it_is(
        proxy, tmp_path, browser, live_server, upstream):  # noqa: F811
    binary, start = PROXIES[proxy]
    if not Path(binary).exists():
        pytest.skip(f"{binary} is not installed")
    keystead = live_server
    keystead_port = int(keystead.url.rsplit(":", 1)[1])
    port = free_port()
    app_url = f"http://127.0.0.1:{port}"
    people = UserFactory(keystead.app)
    people.create("ada", first_name="Ada", last_name="Lovelace")
    people.create("bob")
    secret = enable_for(keystead.app, "ada")[0]
    with keystead.app.app_context(), keystead.app.extensions["keystead.db"].connection_context():
        from keystead.apps.service import create_app
        from keystead.groups import add_member, create_group
        from keystead.models import User
        add_member(create_group("ops"), User.get(User.username_key == "ada"))
        create_app({"name": "The app", "hosts": [f"127.0.0.1:{port}"], "allowed_groups": ["ops"]})
    stop = start(tmp_path, keystead_port, upstream, port)
    try:
        context = browser.new_context()
        page = context.new_page()
        page.set_default_timeout(15000)

        # Not signed in: the proxy sends the browser to Keystead's login page.
        page.goto(app_url + "/dashboards?tab=1")
        page.wait_for_url(re.compile(re.escape(keystead("/login?next=")) + ".*"))
        page.get_by_label("Username or email").fill("ada")
        page.get_by_label("Password").fill(STRONG_PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(keystead("/login/two-factor"))
        page.get_by_label("Code", exact=True).fill(code_for(secret, 1))
        page.get_by_role("button", name="Log in").click()

        # Back at the app, whose upstream saw who it is.
        page.wait_for_url(app_url + "/dashboards?tab=1")
        seen = json.loads(page.locator("#seen").inner_text())
        assert seen == {"path": "/dashboards?tab=1", "Remote-User": "ada", "Remote-Email": "ada@example.com",
                        "Remote-Name": "Ada Lovelace", "Remote-Groups": "ops"}

        # Identity headers a client sends itself never reach the app: the proxy replaces them.
        forged = context.request.get(app_url + "/forged", headers={"Remote-User": "mallory",
                                                                   "Remote-Groups": "admins"})
        text = forged.text()
        seen = json.loads(text[text.index("{"):text.rindex("}") + 1])
        assert seen["Remote-User"] == "ada" and seen["Remote-Groups"] == "ops"

        # Logout at Keystead: the next request to the app needs a login again.
        page.goto(keystead("/profile"))
        page.get_by_role("button", name="Log out").click()
        page.wait_for_url(keystead("/login"))
        page.goto(app_url + "/again")
        page.wait_for_url(re.compile(re.escape(keystead("/login?next=")) + ".*"))

        # A person not allowed: a 403 page saying who they are.
        page.get_by_label("Username or email").fill("bob")
        page.get_by_label("Password").fill(STRONG_PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(app_url + "/again")
        assert page.get_by_role("heading", name="No access to The app").is_visible()
        assert "signed in to Keystead as bob" in " ".join(page.locator("main").inner_text().split())
        response = page.goto(app_url + "/again")
        assert response.status == 403
        context.close()
    finally:
        stop()
