"""Issue 13 item 1: every form works in a real browser over https. Debian's Chromium
(Playwright) logs in, re-enters its password (sudo), signs up, and as an administrator
creates a person who sets a password from the copied link, against Keystead served over
https twice: by gunicorn itself (--certfile/--keyfile, a certificate the test makes), and
behind nginx configured as docs/deployment.md says (started by the test). Before the fix
each form answered 400 "The form has expired": Flask-WTF's https check demanded a Referer
that the site's own Referrer-Policy (no-referrer) kept the browser from sending.

The certificate is self-signed, so the browser context ignores certificate errors; what is
tested is how the browser sends forms over https (Referer, Origin, Sec-Fetch-Site), which
that does not change. Each deployment runs on its own database (SQLite, or PostgreSQL when
the suite runs on it) and is shared by the tests of this module."""
from __future__ import annotations

import os
import re
import secrets
import time
from dataclasses import dataclass

import pytest
import requests

from conftest import POSTGRES_URL
from https_support import NGINX, Nginx, documented_nginx_config, make_certificate
from live import CHROMIUM, CHROMIUM_ARGS
from servers import ADMIN_PASSWORD, ADMIN_USERNAME, GUNICORN, GunicornServer, free_port

pytestmark = pytest.mark.browser

PASSWORD = "granite-otter-lantern-vivid-31"
REFUSED = "Could not verify the form"


@dataclass
class Deployment:
    name: str  # also a part of the usernames each test makes
    url: str  # https://127.0.0.1:<port>, what the browser opens
    server: GunicornServer
    certificate: str
    nginx_log: str | None = None

    def __call__(self, path: str = "/") -> str:
        return self.url + path


def new_database(directory) -> tuple[str, object]:
    """(database URL, drop()) for one deployment: a SQLite file, or a PostgreSQL database."""
    if not POSTGRES_URL:
        return f"sqlite:///{directory}/keystead.db", lambda: None
    import psycopg2
    name = "ks_test_" + secrets.token_hex(6)
    admin = psycopg2.connect(POSTGRES_URL)
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{name}"')

    def drop():
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
    return f"{POSTGRES_URL.rsplit('/', 1)[0]}/{name}", drop


@pytest.fixture(scope="module", params=["gunicorn-tls", "nginx"])
def deployment(request, tmp_path_factory):
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    if not os.path.exists(GUNICORN):
        pytest.skip(f"gunicorn is not installed at {GUNICORN}")
    if request.param == "nginx" and not os.path.exists(NGINX):
        pytest.skip(f"nginx is not installed at {NGINX} (apt-get install nginx)")
    base = tmp_path_factory.mktemp(request.param)
    cert, key = make_certificate(base)
    database_url, drop_database = new_database(base)
    port = free_port()
    settings = {"Server.DatabaseURL": database_url, "Server.RateLimits": False,
                "Server.PublicURL": f"https://127.0.0.1:{port}"}
    server = nginx = None
    try:
        if request.param == "gunicorn-tls":
            server = GunicornServer(base / "instance", settings, port=port, tls=(cert, key)).start()
            yield Deployment("tls", server.url, server, cert)
        else:
            # As docs/deployment.md says: the proxy terminates TLS, Keystead trusts one proxy.
            server = GunicornServer(base / "instance", {**settings, "Server.TrustedProxies": 1}).start()
            access_log = str(base / "nginx-access.log")
            config = documented_nginx_config(port, free_port(), server.port, cert, key, access_log)
            nginx = Nginx(base / "nginx", config, port).start()
            yield Deployment("nginx", f"https://127.0.0.1:{port}", server, cert, nginx_log=access_log)
    finally:
        if nginx is not None:
            nginx.stop()
        if server is not None:
            server.stop()
        drop_database()


@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class Visitor:
    """One person's browser (its own context); every form refused on the way is recorded."""

    def __init__(self, chromium, deployment: Deployment):
        self.context = chromium.new_context(ignore_https_errors=True)
        self.page = self.context.new_page()
        self.page.set_default_timeout(20000)
        self.at = deployment
        self.refused: list[str] = []
        self.page.on("response", self._record_refusal)

    def _record_refusal(self, response):
        if response.request.method == "POST" and response.status == 400:
            self.refused.append(f"{response.url}: {response.status}")

    def log_in(self, username: str, password: str) -> None:
        page = self.page
        page.goto(self.at("/login"))
        page.get_by_label("Username or email").fill(username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(self.at("/profile"))

    def re_enter_password(self, password: str, then: str) -> None:
        """On the sudo page a sensitive page led to: the password, then back to `then`."""
        page = self.page
        page.wait_for_url(re.compile(re.escape(self.at("/sudo?next=")) + ".*"))
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Continue").click()
        page.wait_for_url(self.at(then))

    def session_cookie(self) -> dict:
        return next(c for c in self.context.cookies() if c["name"].startswith("__Host-"))

    def close(self) -> None:
        self.context.close()


def assert_no_refusal(visitor: Visitor) -> None:
    assert visitor.refused == [], visitor.refused
    assert REFUSED not in visitor.page.content()


def test_log_in_and_re_enter_the_password_over_https(deployment, chromium):
    """Issue 13 item 1: over https (gunicorn's own TLS, and nginx as documented) Chromium
    logs in and passes the sudo form; the session cookie is the Secure __Host- one."""
    admin = Visitor(chromium, deployment)
    admin.log_in(ADMIN_USERNAME, ADMIN_PASSWORD)
    cookie = admin.session_cookie()
    assert cookie["secure"] and cookie["path"] == "/"
    admin.page.goto(deployment("/admin/people/new"))
    admin.re_enter_password(ADMIN_PASSWORD, then="/admin/people/new")
    assert admin.page.get_by_role("heading", name="Create a person").is_visible()
    assert_no_refusal(admin)
    admin.close()


def test_sign_up_and_log_out_over_https(deployment, chromium):
    """Issue 13 item 1: over https Chromium signs up (logged in at once) and logs out."""
    username = f"ada_{deployment.name}"
    person = Visitor(chromium, deployment)
    page = person.page
    page.goto(deployment("/register"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Email").fill(f"{username}@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat the password").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url(deployment("/profile"))
    assert page.get_by_text(f"Welcome, {username}. Your account is ready.").is_visible()
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(deployment("/login"))
    assert page.get_by_text("You have logged out.").is_visible()
    assert_no_refusal(person)
    person.close()


def test_an_administrator_creates_a_person_who_sets_a_password_from_the_link_over_https(deployment, chromium):
    """Issue 13 item 1: over https an administrator (after sudo) creates a person, who opens
    the copied confirmation link, sets a password there and logs in."""
    username = f"carol_{deployment.name}"
    admin = Visitor(chromium, deployment)
    admin.log_in(ADMIN_USERNAME, ADMIN_PASSWORD)
    admin.page.goto(deployment("/admin/people/new"))
    admin.re_enter_password(ADMIN_PASSWORD, then="/admin/people/new")
    page = admin.page
    page.get_by_label("Username").fill(username)
    page.get_by_label("Email").fill(f"{username}@example.com")
    page.get_by_role("button", name="Create").click()
    page.wait_for_url(re.compile(re.escape(deployment("/admin/people/")) + r"\d+$"))
    assert page.get_by_text(f"{username} has been created.").is_visible()
    link = page.locator("#confirmation-link").inner_text().strip()
    assert link.startswith(deployment("/confirm/"))
    assert_no_refusal(admin)
    admin.close()

    carol = Visitor(chromium, deployment)
    carol.page.goto(link)
    carol.page.get_by_label("New password", exact=True).fill(PASSWORD)
    carol.page.get_by_label("Repeat the new password").fill(PASSWORD)
    carol.page.get_by_role("button", name="Set the password").click()
    carol.page.wait_for_url(deployment("/login"))
    assert carol.page.get_by_text("Your password is set. You can log in now.").is_visible()
    carol.log_in(username, PASSWORD)
    assert_no_refusal(carol)
    carol.close()


def test_a_cross_site_form_over_https_is_still_refused(deployment, chromium):
    """Issue 13 item 1: the origin check that replaced the Referer demand still refuses a
    form that a page of another site makes Chromium send (with a real, stolen token), and
    the page says the form could not be verified."""
    admin = Visitor(chromium, deployment)
    admin.log_in(ADMIN_USERNAME, ADMIN_PASSWORD)
    html = admin.page.content()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)
    # A page on another origin (another port), with a form that posts to Keystead.
    admin.page.route("https://127.0.0.1:1/attack", lambda route: route.fulfill(
        content_type="text/html",
        body=f'<form method="post" action="{deployment("/logout")}">'
             f'<input type="hidden" name="csrf_token" value="{token}"><button>Win</button></form>'))
    admin.page.goto("https://127.0.0.1:1/attack")
    with admin.page.expect_response(lambda r: r.url == deployment("/logout")) as answer:
        admin.page.get_by_role("button", name="Win").click()
    assert answer.value.status == 400
    assert admin.page.get_by_role("heading", name=REFUSED).is_visible()
    admin.page.goto(deployment("/profile"))
    assert admin.page.url == deployment("/profile")  # still logged in
    admin.close()


def _wait_for_text(path: str, text: str, deadline: float = 15) -> str:
    end = time.monotonic() + deadline
    while True:
        with open(path, encoding="utf-8", errors="replace") as f:
            content = f.read()
        if text in content or time.monotonic() > end:
            return content
        time.sleep(0.05)


def test_no_log_of_the_deployment_holds_a_link_token(deployment):
    """Issue 13 item 5: a reset link opened over https leaves its token in no log: neither
    gunicorn's access log (the shipped gunicorn.conf.py) nor nginx's (the documented
    log_format)."""
    session = requests.Session()
    session.verify = deployment.certificate
    session.trust_env = False  # else REQUESTS_CA_BUNDLE from the environment wins over `verify`
    api = deployment("/api/v1")
    token = session.post(f"{api}/auth/login", json={"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD},
                         timeout=30).json()["access_token"]
    person = session.post(f"{api}/auth/register", json={"username": f"lena_{deployment.name}",
                                                         "email": f"lena_{deployment.name}@example.com",
                                                         "password": PASSWORD}, timeout=30).json()
    link = session.post(f"{api}/users/{person['id']}/reset-link", headers={"Authorization": f"Bearer {token}"},
                        timeout=30).json()["reset_url"]
    assert link.startswith(deployment("/reset-password/"))
    assert session.get(link, timeout=30).status_code == 200
    secret = link.rsplit("/", 1)[1]
    logs = [deployment.server.log_path] + ([deployment.nginx_log] if deployment.nginx_log else [])
    for log in logs:
        content = _wait_for_text(log, "GET /reset-password/[redacted]")
        assert "GET /reset-password/[redacted]" in content, (log, content[-2000:])
        assert secret not in content, log
