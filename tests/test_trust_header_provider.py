"""Issue 12 item 20: the example header provider believes the user-name header only with the
proxy's shared secret (compared in constant time) or from proxy addresses listed
explicitly, none by default; and the nginx configurations of docs/deployment.md, run as
printed in front of gunicorn, never let a client's own X-Forwarded-User sign anyone in."""
from __future__ import annotations

import logging
import os
import re
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from keystead.config import ConfigError
from keystead.models import User
from header_provider_support import SECRET_HEADER, installed, new_secret  # noqa: F401  (fixture)
from https_support import DOCUMENTED_CERTIFICATE_DIR, documented_certificate
from servers import ADMIN_PASSWORD, ADMIN_USERNAME, free_port, gunicorn_servers  # noqa: F401  (fixture)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEADER_ON = {"Authentication.Provider": ["password", "header"]}
LOGIN = "/auth/header/login"
NGINX = "/usr/sbin/nginx"
FORGED = {"X-Forwarded-User": "ceo"}


def user_exists(app, username: str) -> bool:
    with app.app_context():
        return User.select().where(User.username == username).exists()


NAV_USER = re.compile(r'<nav>\s*<a href="/profile">([^<]+)</a>')


def signed_in_as(client) -> str | None:
    """The username the top bar shows on /profile, or None when nobody is signed in."""
    page = client.get("/profile")
    return NAV_USER.search(page.get_data(as_text=True)).group(1) if page.status_code == 200 else None


# ---------------------------------------------------------------- the provider's own rule

def test_by_default_it_trusts_no_request_and_says_so(installed, make_app, caplog):
    with caplog.at_level(logging.WARNING, logger="keystead"):
        app = make_app(HEADER_ON)
    assert any("trusts no request" in r.getMessage() for r in caplog.records)
    client = app.test_client()
    # From 127.0.0.1, the address the old default trusted: refused all the same.
    r = client.get(LOGIN, headers=FORGED, environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert r.status_code == 403
    assert signed_in_as(client) is None and not user_exists(app, "ceo")


@pytest.mark.parametrize("sent", [None, "", "wrong", "x" * 43, "{secret} ", "{secret}x", "{secret_upper}",
                                  "{secret_prefix}"])
def test_without_the_right_secret_the_header_is_ignored(installed, make_app, monkeypatch, caplog, sent):
    secret = new_secret()
    monkeypatch.setenv("KEYSTEAD_PLUGIN_HEADER_SECRET", secret)
    app = make_app(HEADER_ON)
    client = app.test_client()
    headers = dict(FORGED)
    if sent is not None:
        headers[SECRET_HEADER] = sent.format(secret=secret, secret_upper=secret.upper(), secret_prefix=secret[:-1])
    with caplog.at_level(logging.WARNING, logger="keystead"):
        r = client.get(LOGIN, headers=headers)
    assert r.status_code == 403 and "Traceback" not in r.get_data(as_text=True)
    assert signed_in_as(client) is None and not user_exists(app, "ceo")
    logged = " ".join(rec.getMessage() for rec in caplog.records)
    assert "shared secret" in logged and secret not in logged  # the reason, never the secret


def test_with_the_right_secret_the_header_signs_in(installed, make_app, monkeypatch, caplog):
    secret = new_secret()
    monkeypatch.setenv("KEYSTEAD_PLUGIN_HEADER_SECRET", secret)
    with caplog.at_level(logging.INFO, logger="keystead"):
        app = make_app(HEADER_ON)
        client = app.test_client()
        # From any address: the secret is the proof (the proxy may be on another host).
        r = client.get(LOGIN, headers={**FORGED, SECRET_HEADER: secret}, environ_base={"REMOTE_ADDR": "10.9.8.7"})
    assert r.status_code == 302
    assert signed_in_as(client) == "ceo"
    assert not any(secret in rec.getMessage() for rec in caplog.records)


def test_with_a_secret_and_proxy_addresses_both_must_hold(installed, make_app, monkeypatch):
    secret = new_secret()
    monkeypatch.setenv("KEYSTEAD_PLUGIN_HEADER_SECRET", secret)
    monkeypatch.setenv("KEYSTEAD_PLUGIN_HEADER_TRUSTED_PROXIES", "10.1.2.0/24")
    app = make_app(HEADER_ON)
    proxy, elsewhere = {"REMOTE_ADDR": "10.1.2.3"}, {"REMOTE_ADDR": "127.0.0.1"}
    with_secret = {**FORGED, SECRET_HEADER: secret}
    assert app.test_client().get(LOGIN, headers=with_secret, environ_base=elsewhere).status_code == 403
    assert app.test_client().get(LOGIN, headers=FORGED, environ_base=proxy).status_code == 403
    assert not user_exists(app, "ceo")
    client = app.test_client()
    assert client.get(LOGIN, headers={**FORGED, SECRET_HEADER: secret}, environ_base=proxy).status_code == 302
    assert signed_in_as(client) == "ceo"


@pytest.mark.parametrize("value", ["short-secret", "é" * 40, "a" * 31])
def test_a_weak_secret_refuses_start_up_without_showing_it(installed, make_app, monkeypatch, value):
    monkeypatch.setenv("KEYSTEAD_PLUGIN_HEADER_SECRET", value)
    with pytest.raises(ConfigError) as e:
        make_app(HEADER_ON)
    assert "KEYSTEAD_PLUGIN_HEADER_SECRET" in str(e.value) and value not in str(e.value)


# ---------------------------------------------------------------- docs/deployment.md's nginx, as printed

def nginx_blocks() -> list[str]:
    with open(os.path.join(ROOT, "docs", "deployment.md"), encoding="utf-8") as f:
        return re.findall(r"```nginx\n(.*?)```", f.read(), re.S)


def adapt(block: str, replacements: dict[str, str]) -> str:
    """The documented block on loopback ports: each replaced text must be in the doc (so
    the test follows the doc, and fails loudly when they drift apart)."""
    for old, new in replacements.items():
        assert old in block, f"docs/deployment.md's nginx block no longer has {old!r}"
        block = block.replace(old, new)
    return block


class Nginx:
    """/usr/sbin/nginx with a server block, under its own temporary prefix."""

    def __init__(self, prefix, server_block: str):
        self.prefix = str(prefix)
        os.makedirs(self.prefix, exist_ok=True)
        temp = "\n".join(f"    {kind}_temp_path {self.prefix}/{kind};"
                         for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        user = "user root;\n" if os.geteuid() == 0 else ""
        self.conf = os.path.join(self.prefix, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(f"{user}worker_processes 1;\npid {self.prefix}/nginx.pid;\nerror_log {self.prefix}/error.log;\n"
                    f"events {{ worker_connections 64; }}\nhttp {{\n    access_log off;\n{temp}\n{server_block}\n}}\n")
        self.proc = None

    def start(self, port: int) -> "Nginx":
        self.proc = subprocess.Popen([NGINX, "-p", self.prefix, "-e", f"{self.prefix}/error.log", "-c", self.conf,
                                      "-g", "daemon off;"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, start_new_session=True)
        end = time.monotonic() + 20
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise AssertionError(f"nginx exited at start-up: {self.proc.stderr.read().decode()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError("nginx did not start listening")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait(timeout=15)


@pytest.fixture
def nginx_servers():
    if not os.path.exists(NGINX):
        pytest.skip(f"nginx is not installed at {NGINX}")
    started = []

    def start(prefix, block, port):
        server = Nginx(prefix, block)
        started.append(server)
        return server.start(port)
    yield start
    for server in started:
        server.stop()


class SignOnService:
    """A stand-in for oauth2-proxy's /oauth2/auth: 202 with X-Auth-Request-User for a
    browser holding its cookie `sso=<name>-ticket`, else 401."""

    def __init__(self):
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                match = re.search(r"(?:^|;\s*)sso=([a-z]+)-ticket", self.headers.get("Cookie", ""))
                self.send_response(202 if match and self.path == "/oauth2/auth" else 401)
                if match:
                    self.send_header("X-Auth-Request-User", match.group(1))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def start_keystead(gunicorn_servers, tmp_path, database_url, installed, provider_env):  # noqa: F811
    settings = {"Server.DatabaseURL": database_url, "Server.TrustedProxies": 1, "Server.RateLimits": False,
                "Authentication.Provider": '["password", "header"]'}
    return gunicorn_servers.start(tmp_path / "instance", settings, workers=1,
                                  extra_env={"PYTHONPATH": installed, **provider_env})


def people_named(server, username: str) -> list[str]:
    token = server.token(ADMIN_USERNAME, ADMIN_PASSWORD)
    r = server.api("GET", f"/users?q={username}", token=token)
    assert r.status_code == 200, r.text
    return [u["username"] for u in r.json()["results"]]


def profile_name(session, base: str) -> str | None:
    page = session.get(base + "/profile", allow_redirects=False, timeout=30)
    return NAV_USER.search(page.text).group(1) if page.status_code == 200 else None


def test_the_documented_nginx_proxy_drops_a_clients_identity_headers(
        installed, gunicorn_servers, nginx_servers, tmp_path, database_url):  # noqa: F811
    # The provider set up as the old default was (trusting 127.0.0.1, where nginx connects
    # from, and no secret): what nginx passes on is all that stands between a client and
    # any account.
    keystead = start_keystead(gunicorn_servers, tmp_path, database_url, installed,
                              {"KEYSTEAD_PLUGIN_HEADER_TRUSTED_PROXIES": "127.0.0.1, ::1"})
    port = free_port()
    block = adapt(nginx_blocks()[0], {"listen 443 ssl;": f"listen 127.0.0.1:{port};",
                                      DOCUMENTED_CERTIFICATE_DIR: documented_certificate(tmp_path / "tls"),
                                      "http://127.0.0.1:8000": keystead.url,
                                      "server { listen 80;": "# server { listen 80;"})
    nginx_servers(tmp_path / "nginx", block, port)
    base = f"http://127.0.0.1:{port}"
    for forged in (FORGED, {"X_Forwarded_User": "ceo"}, {"Remote-User": "ceo", "X-Forwarded-User": "ceo"},
                   {**FORGED, SECRET_HEADER: "guessed"}):
        session = requests.Session()
        r = session.get(base + LOGIN, headers=forged, allow_redirects=False, timeout=30)
        assert r.status_code == 401, (forged, r.status_code)  # Keystead saw no user-name header
        assert profile_name(session, base) is None
    assert people_named(keystead, "ceo") == []
    # The control: sent straight to gunicorn from 127.0.0.1, the same header would have worked.
    direct = requests.Session()
    assert direct.get(keystead.url + LOGIN, headers=FORGED, allow_redirects=False, timeout=30).status_code == 302
    assert profile_name(direct, keystead.url) == "ceo"


def test_the_documented_sign_on_proxy_passes_only_the_sign_on_services_word(
        installed, gunicorn_servers, nginx_servers, tmp_path, database_url):  # noqa: F811
    secret = new_secret()
    keystead = start_keystead(gunicorn_servers, tmp_path, database_url, installed,
                              {"KEYSTEAD_PLUGIN_HEADER_SECRET": secret})
    sso = SignOnService()
    try:
        port = free_port()
        block = adapt(nginx_blocks()[1], {"listen 443 ssl;": f"listen 127.0.0.1:{port};",
                                          DOCUMENTED_CERTIFICATE_DIR: documented_certificate(tmp_path / "tls"),
                                          "http://127.0.0.1:8000": keystead.url,
                                          "http://127.0.0.1:4180": f"http://127.0.0.1:{sso.port}",
                                          "<KEYSTEAD_PLUGIN_HEADER_SECRET>": secret})
        nginx_servers(tmp_path / "nginx", block, port)
        base = f"http://127.0.0.1:{port}"

        # Not signed on: nginx refuses before Keystead sees anything.
        anonymous = requests.Session()
        assert anonymous.get(base + LOGIN, headers=FORGED, allow_redirects=False, timeout=30).status_code == 401
        # Other spellings of the path reach `location /`, where the headers are dropped.
        for path in ("/auth/header/login/", "/auth/header//login", "/auth/header/login;x",
                     "/x/../auth/header/login%3F"):
            r = anonymous.get(base + path, headers={**FORGED, SECRET_HEADER: "guessed"}, allow_redirects=False,
                              timeout=30)
            assert r.status_code in (401, 403, 404), (path, r.status_code)
        assert profile_name(anonymous, base) is None

        # Signed on as ada, claiming to be ceo: ada it is.
        ada = requests.Session()
        ada.cookies.set("sso", "ada-ticket")
        r = ada.get(base + LOGIN, headers=FORGED, allow_redirects=False, timeout=30)
        assert r.status_code == 302, r.text
        assert profile_name(ada, base) == "ada"
        assert people_named(keystead, "ceo") == []

        # Straight to gunicorn, even from 127.0.0.1, the header is worth nothing without the secret.
        direct = requests.Session()
        assert direct.get(keystead.url + LOGIN, headers=FORGED, allow_redirects=False, timeout=30).status_code == 403
        assert people_named(keystead, "ceo") == []
    finally:
        sso.stop()
