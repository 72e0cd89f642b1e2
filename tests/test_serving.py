"""How Keystead is served: real gunicorn, run as the README and docs/deployment.md say
(`gunicorn wsgi:app` from the project folder, and `keystead serve`), stops on a
configuration error and writes an access log without link tokens; and `/` leads
somewhere."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest
import requests

from conftest import STRONG_PASSWORD
from servers import ADMIN_PASSWORD, ADMIN_USERNAME, GUNICORN, ROOT, GunicornServer, free_port

CONFIG_ERROR = "keystead: configuration error: invalid setting Password.MinimumScore = 9"
# Long enough for a slow machine to start gunicorn and load the app a few times; a
# gunicorn that respawns failing workers never exits and hits it.
STOP_DEADLINE = 60


def run_gunicorn_until_it_exits(args: list[str], cwd: str, env: dict) -> tuple[int | None, str]:
    """Run gunicorn until it exits or STOP_DEADLINE passes: (its status, or None when it had
    to be killed; everything it printed)."""
    proc = subprocess.Popen(args, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=STOP_DEADLINE)
        return proc.returncode, output.decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate(timeout=15)
        return None, output.decode("utf-8", "replace")


def bad_setting_env(tmp_path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KEYSTEAD_", "FLASK_"))}
    env.update(KEYSTEAD_INSTANCE=str(tmp_path / "instance"), KEYSTEAD_PASSWORD_MINIMUMSCORE="9",
               PYTHONUNBUFFERED="1")
    return env


@pytest.fixture
def gunicorn_installed():
    if not os.path.exists(GUNICORN):
        pytest.skip(f"gunicorn is not installed at {GUNICORN}")


# ---------------------------------------------------------------- item 4

def test_gunicorn_from_the_project_folder_stops_on_a_bad_setting_and_says_so_once(tmp_path, gunicorn_installed):
    """Issue 13 item 4: `KEYSTEAD_PASSWORD_MINIMUMSCORE=9 gunicorn wsgi:app` (four workers,
    from the project folder as the README says) exits with gunicorn's "app failed to load"
    status 4 instead of booting workers forever, and prints the one-line error once."""
    status, output = run_gunicorn_until_it_exits(
        [GUNICORN, "-w", "4", "-b", f"127.0.0.1:{free_port()}", "wsgi:app"], ROOT, bad_setting_env(tmp_path))
    assert status is not None, f"gunicorn was still running after {STOP_DEADLINE}s:\n{output[-3000:]}"
    assert status == 4, output
    assert output.count(CONFIG_ERROR) == 1, output
    assert "Traceback" not in output
    assert "Booting worker" not in output  # refused in the master, before any worker


def test_gunicorn_without_the_project_config_still_stops_on_a_bad_setting(tmp_path, gunicorn_installed):
    """Issue 13 item 4: started from elsewhere (`--chdir` to the project, so gunicorn.conf.py
    is not read), the workers' status 4 still stops gunicorn, with the one-line error.
    (When two workers fail at the same moment, gunicorn 27 itself may print a traceback of
    its HaltServer while halting, and exit 1: the master stops all the same.)"""
    status, output = run_gunicorn_until_it_exits(
        [GUNICORN, "-w", "2", "-b", f"127.0.0.1:{free_port()}", "--chdir", ROOT, "wsgi:app"],
        str(tmp_path), bad_setting_env(tmp_path))
    assert status is not None, f"gunicorn was still running after {STOP_DEADLINE}s:\n{output[-3000:]}"
    assert status in (4, 1), output
    assert CONFIG_ERROR in output and "App failed to load" in output
    assert "exited with code 4" in output


# ---------------------------------------------------------------- item 5

class KeysteadServe(GunicornServer):
    """`keystead serve`, as `make serve` runs it."""

    def command(self) -> list[str]:
        return [sys.executable, "-c", "from keystead.cli import main; main()", "serve",
                "--bind", f"127.0.0.1:{self.port}", "--workers", "1"]


def reset_link(server: GunicornServer) -> str:
    """A real password reset link for a new person, made through the admin API."""
    admin = server.token(ADMIN_USERNAME, ADMIN_PASSWORD)
    r = server.register("lena", STRONG_PASSWORD)
    assert r.status_code == 201, r.text
    r = server.api("POST", f"/users/{r.json()['id']}/reset-link", token=admin)
    assert r.status_code == 200, r.text
    return r.json()["reset_url"]


def open_the_link_in_every_way(server: GunicornServer, url: str) -> str:
    """GET the link, then again percent-encoded and as the Referer of another request; the
    token."""
    token = url.rsplit("/", 1)[1]
    assert server.request("GET", f"/reset-password/{token}").status_code == 200
    assert server.request("GET", f"/reset-password%2F{token}").status_code == 200
    assert server.request("GET", "/static/style.css", headers={"Referer": url}).status_code == 200
    return token


def logged_text(server: GunicornServer) -> str:
    with open(server.log_path, encoding="utf-8", errors="replace") as f:
        return f.read()


@pytest.mark.parametrize("kind", [GunicornServer, KeysteadServe], ids=["gunicorn wsgi:app", "keystead serve"])
def test_the_access_log_never_holds_a_link_token(tmp_path, gunicorn_installed, kind):
    """Issue 13 item 5: real gunicorn with the shipped settings (gunicorn.conf.py for a plain
    `gunicorn wsgi:app`; the same for `keystead serve`) writes an access log in which
    `GET /reset-password/<token>` appears with the token replaced, also percent-encoded
    or in a Referer."""
    server = kind(tmp_path / "instance", {"Server.RateLimits": False}, workers=1)
    try:
        server.start()
        token = open_the_link_in_every_way(server, reset_link(server))
    finally:
        server.stop()
    log = logged_text(server)
    assert token not in log
    lines = [line for line in log.splitlines() if "/reset-password/[redacted]" in line]
    assert len(lines) == 3, log[-3000:]  # the access log was written, for all three requests
    assert any('"GET /reset-password/[redacted] HTTP/1.1" 200' in line for line in lines)
    assert any('"GET /static/style.css' in line and "/reset-password/[redacted]" in line for line in lines)


def test_a_refused_form_on_a_link_page_is_logged_without_its_token(tmp_path, gunicorn_installed):
    """Issue 13 item 5: the application's own log line for a refused form names the page
    with its link token replaced."""
    server = GunicornServer(tmp_path / "instance", {"Server.RateLimits": False}, workers=1)
    try:
        server.start()
        url = reset_link(server)
        token = url.rsplit("/", 1)[1]
        r = server.request("POST", f"/reset-password/{token}", data={"password": "x"})
        assert r.status_code == 400
    finally:
        server.stop()
    log = logged_text(server)
    assert token not in log
    assert re.search(r"refused a form: POST /reset-password/\[redacted\] .*The CSRF token is missing", log), log


# ---------------------------------------------------------------- item 6

def test_the_start_address_leads_to_login_or_the_start_page(client, auth, users):
    """Issue 13 item 6: `/` sends anyone not signed in to /login, and a signed-in person to
    their start page (/profile), instead of 404."""
    users.create("ada")
    r = client.get("/")
    assert r.status_code == 302 and r.headers["Location"] == "/login"
    auth.login("ada")
    r = client.get("/")
    assert r.status_code == 302 and r.headers["Location"] == "/profile"
    assert client.get(r.headers["Location"]).status_code == 200


def test_the_back_to_the_start_link_of_an_error_page_leads_somewhere(client):
    """Issue 13 item 6: an error page's "Back to the start" link is followed to a page."""
    page = client.get("/no-such-page")
    assert page.status_code == 404
    link = re.search(r'<a href="([^"]+)">Back to the start</a>', page.get_data(as_text=True)).group(1)
    r = client.get(link, follow_redirects=True)
    assert r.status_code == 200 and r.request.path == "/login"


def test_make_serve_opens_a_page_at_the_address_it_prints(tmp_path, gunicorn_installed):
    """Issue 13 item 6: `keystead serve` (what `make serve` runs) prints its address, and
    that address answers with the login page, not 404."""
    server = KeysteadServe(tmp_path / "instance", {}, workers=1)
    try:
        server.start()
        r = requests.get(server.url, timeout=30)
    finally:
        server.stop()
    assert r.status_code == 200 and r.url == server.url + "/login"
    assert f"Serving Keystead on {server.url}" in logged_text(server)


def _workers_of(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(p) for p in f.read().split()]


def test_a_worker_that_cannot_open_the_database_does_not_stop_gunicorn(tmp_path, gunicorn_installed):
    """Issue 13 item 4: only a wrong setting stops gunicorn. Its one worker, killed while
    another process holds SQLite's write lock, restarts into a database it cannot upgrade
    (status 1, not 4): gunicorn goes on replacing it, and serves again once the lock goes."""
    import sqlite3
    path = tmp_path / "keystead.db"
    server = GunicornServer(tmp_path / "instance", {"Server.DatabaseURL": f"sqlite:///{path}",
                                                    "Server.SQLiteBusyTimeout": "1s"}, workers=1)
    try:
        server.start()
        holder = sqlite3.connect(path, timeout=10, isolation_level=None)
        try:
            holder.execute("BEGIN EXCLUSIVE")
            (worker,) = _workers_of(server.proc.pid)
            os.kill(worker, signal.SIGKILL)
            end = time.monotonic() + STOP_DEADLINE
            while "the database cannot be opened" not in server.log_tail(200) and time.monotonic() < end:
                assert server.proc.poll() is None, server.log_tail()
                time.sleep(0.1)
            assert "the database cannot be opened" in server.log_tail(200)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert server.request("GET", "/api/v1/health").status_code == 200
        assert server.proc.poll() is None
        assert "exited with code 1" in server.log_tail(200)
    finally:
        server.stop()


@pytest.mark.parametrize("how", ["gunicorn wsgi:app", "keystead serve"])
def test_gunicorn_opens_no_control_socket_that_other_instances_would_share(tmp_path, gunicorn_installed, how):
    """gunicorn 25.1+ opens a control socket at $HOME/.gunicorn/gunicorn.ctl (one path per
    Unix user, accepting "shutdown"): two instances of one user would take it from each
    other. Keystead's settings keep it closed, started either documented way."""
    home = tmp_path / "home"
    (home / "run").mkdir(parents=True)
    extra = {"HOME": str(home), "XDG_RUNTIME_DIR": str(home / "run")}
    server = GunicornServer(tmp_path / "instance", {}, workers=1, extra_env=extra)
    if how == "keystead serve":
        keystead = os.path.join(os.path.dirname(GUNICORN), "keystead")
        server.command = lambda: [keystead, "serve", "--bind", f"127.0.0.1:{server.port}", "--workers", "1"]
    try:
        server.start()
        assert server.request("GET", "/api/v1/health").status_code == 200
        assert "Control socket" not in server.log_tail(200)
        assert not (home / ".gunicorn").exists() and not list((home / "run").iterdir())
    finally:
        server.stop()
