"""The administrator's recovery tools on the command line: `keystead users show`,
`users set-password --prompt`, `users invite FILE.csv`, `mail test`, `--version`,
`doctor`; `--help` with Keystead's own commands only; `providers` saying why; `serve` and
`make serve` saying when the port is taken or PublicURL does not match.

Commands that build the app run through app.test_cli_runner(); `--help`, `--version`,
`doctor` and `serve` run as the real command (`python -c "from keystead.cli import main"`,
this checkout first on sys.path), each in an instance folder of its own."""
from __future__ import annotations

import csv
import importlib.metadata
import os
import re
import socket
import stat
import subprocess
import sys

import pytest

from api_support import in_db
from keystead.models import User
from conftest import STRONG_PASSWORD, AuthActions, csrf_from
from pages import path_of
from servers import BASE_SETTINGS, ROOT, GunicornServer, free_port, setting_env

NEW_PASSWORD = "a-brand-new-passphrase-7"
CLI = [sys.executable, "-c", "from keystead.cli import main; main()"]


def keystead(*args, instance=None, settings=None, timeout=60) -> subprocess.CompletedProcess:
    """Run the real `keystead` command from the project folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KEYSTEAD_", "FLASK_"))}
    env.update(setting_env(settings or {}), PYTHONUNBUFFERED="1")
    if instance:
        env["KEYSTEAD_INSTANCE"] = str(instance)
    return subprocess.run([*CLI, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def one_line_refusal(result, *words):
    assert result.exit_code != 0, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def create_group(app, name):
    from keystead.groups import create_group as create
    in_db(app, lambda: create(name))


# ---------------------------------------------------------------- item 7: users show

def test_users_show_tells_everything_about_a_person_lockout_and_keys_included(make_app):
    """Issue 13 item 7: `keystead users show NAME` prints the person's address and whether
    it is verified, role, status, provider, groups, that they are locked out after failed
    logins (with the failures) and their API keys by name, never a key or a hash."""
    from keystead.apikeys import create_api_key
    from keystead.groups import add_member, find_group
    from api_support import users_of
    app = make_app({"Password.LockoutThreshold": 3})
    user, _ = users_of(app).create("nadia", email="nadia@example.com", role="publisher",
                                   first_name="Nadia", last_name="Okafor")
    create_group(app, "editors")
    in_db(app, lambda: add_member(find_group("editors"), user))
    key_record, secret = in_db(app, lambda: create_api_key(User.get_by_id(user.id), "deploy-bot"))
    auth = AuthActions(app.test_client())
    for _ in range(3):
        auth.login("nadia", "not-her-password")

    r = app.test_cli_runner().invoke(args=["users", "show", "nadia"])
    assert r.exit_code == 0, r.output
    out = r.output
    assert "nadia@example.com (verified)" in out and "Nadia Okafor" in out
    assert "publisher" in out and "editors" in out and "password" in out
    assert "locked out for" in out
    unlocked = app.test_cli_runner().invoke(args=["users", "unlock", "nadia"])
    assert unlocked.exit_code == 0, unlocked.output
    assert "login lockout:  no" in app.test_cli_runner().invoke(args=["users", "show", "nadia"]).output
    assert f"key {key_record.id}: deploy-bot" in out
    assert secret not in out
    hashed = in_db(app, lambda: User.get_by_id(user.id).password_hash)
    assert hashed not in out

    r = app.test_cli_runner().invoke(args=["users", "show", "nobody"])
    one_line_refusal(r, "no person named 'nobody'")


# ---------------------------------------------------------------- item 7: set-password

def test_users_set_password_prompts_and_the_new_password_works(app, runner, users):
    """Issue 13 item 7: `keystead users set-password NAME --prompt` asks twice without echo,
    sets the password (the old one stops working), refuses a weak one in one line and
    refuses to run without --prompt (a password is never taken from the command line)."""
    users.create("olga")
    r = runner.invoke(args=["users", "set-password", "olga", "--prompt"],
                      input=f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n")
    assert r.exit_code == 0, r.output
    assert NEW_PASSWORD not in r.output
    assert AuthActions(app.test_client()).login("olga", NEW_PASSWORD).status_code == 303
    assert AuthActions(app.test_client()).login("olga", STRONG_PASSWORD).status_code != 303

    r = runner.invoke(args=["users", "set-password", "olga", "--prompt"], input="olga\nolga\n")
    assert r.exit_code == 1 and "new_password" in r.stderr.splitlines()[-1]
    assert AuthActions(app.test_client()).login("olga", NEW_PASSWORD).status_code == 303

    r = runner.invoke(args=["users", "set-password", "olga"])
    assert r.exit_code == 2 and "--prompt" in r.stderr


# ---------------------------------------------------------------- item 7: invite

def write_csv(path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def accept_invitation(app, link: str, username: str, password: str = NEW_PASSWORD):
    """Sign up on an invitation's page; returns the answer to the form."""
    client = app.test_client()
    page = client.get(path_of(link))
    assert page.status_code == 200, link
    return client.post(path_of(link), data={"csrf_token": csrf_from(page.get_data(as_text=True)),
                                            "username": username, "password": password,
                                            "password_confirm": password})


def test_users_invite_mails_an_invitation_link_to_each_row(mail_app, tmp_path):
    """Issue 13 item 7, changed by issue 14: `keystead users invite FILE.csv` (columns email,
    role, groups) with Email configured makes an invitation per row and mails its link; the
    invitee chooses a username and password there and gets the row's role and groups."""
    create_group(mail_app, "editors")
    create_group(mail_app, "ops")
    path = write_csv(tmp_path / "people.csv", "email,role,groups\n"
                     "pia@example.com,publisher,editors;ops\n"
                     "quinn@example.com,,\n")
    r = mail_app.test_cli_runner().invoke(args=["users", "invite", path])
    assert r.exit_code == 0, r.output
    assert "Invited 2 of 2" in r.output and "2 links mailed" in r.output
    link = mail_app.mailbox.link_to("pia@example.com", "/invite/")
    assert mail_app.mailbox.link_to("quinn@example.com", "/invite/")
    assert accept_invitation(mail_app, link, "pia").status_code == 303
    assert AuthActions(mail_app.test_client()).login("pia", NEW_PASSWORD).status_code == 303
    shown = mail_app.test_cli_runner().invoke(args=["users", "show", "pia"]).output
    assert "publisher" in shown and "editors, ops" in shown


def test_users_invite_without_mail_writes_the_links_to_a_private_new_file(app, runner, users, tmp_path):
    """Issue 13 item 7, changed by issue 14: without Email, `users invite` needs
    `--links-out FILE`, writes email,link,expires_at rows to it created 0600 (the links are
    secrets), refuses to overwrite it, and a bad row (by line number) leaves nothing of its
    batch made."""
    path = write_csv(tmp_path / "people.csv", "email,role\nrita@example.com,\n"
                     "sam@example.com,publisher\n")
    r = runner.invoke(args=["users", "invite", path])
    assert r.exit_code == 2 and "--links-out" in r.stderr

    out = tmp_path / "links.csv"
    r = runner.invoke(args=["users", "invite", path, "--links-out", str(out)])
    assert r.exit_code == 0, r.output
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [row["email"] for row in rows] == ["rita@example.com", "sam@example.com"]
    assert rows[0]["link"] not in r.output
    assert accept_invitation(app, rows[1]["link"], "samuel").status_code == 303
    assert AuthActions(app.test_client()).login("samuel", NEW_PASSWORD).status_code == 303
    assert "publisher" in runner.invoke(args=["users", "show", "samuel"]).output

    before = out.read_text(encoding="utf-8")
    r = runner.invoke(args=["users", "invite", path, "--links-out", str(out)])
    one_line_refusal(r, "exists")
    assert out.read_text(encoding="utf-8") == before

    users.create("taken", email="taken@example.com")
    bad = write_csv(tmp_path / "bad.csv", "email,groups\numa@example.com,\ntaken@example.com,\n"
                    "vic@example.com,no-such-group\n,editors\n")
    r = runner.invoke(args=["users", "invite", bad, "--links-out", str(tmp_path / "more.csv")])
    assert r.exit_code == 1
    assert "line 3:" in r.stderr and "exists already" in r.stderr and "line 4:" in r.stderr and "no-such-group" in r.stderr
    assert "line 5: email" in r.stderr
    listed = runner.invoke(args=["invitations", "list"]).output
    assert "uma@example.com" not in listed and "rita@example.com" in listed


# ---------------------------------------------------------------- item 7: mail test

def test_mail_test_sends_a_message_or_says_the_smtp_error_in_one_line(mail_app, make_app):
    """Issue 13 item 7: `keystead mail test ADDRESS` sends a message through the Email
    settings and says so; with a server that does not answer, one line with the reason
    and exit 1."""
    r = mail_app.test_cli_runner().invoke(args=["mail", "test", "wes@example.com"])
    assert r.exit_code == 0, r.output
    assert "Sent a test message to wes@example.com" in r.output
    assert "test message" in mail_app.mailbox.text_of(mail_app.mailbox.to("wes@example.com")[-1])

    dead = make_app({"Email.Host": "127.0.0.1", "Email.Port": free_port()})
    r = dead.test_cli_runner().invoke(args=["mail", "test", "wes@example.com"])
    one_line_refusal(r, "not sent", "127.0.0.1")
    assert "Traceback" not in r.output


# ---------------------------------------------------------------- item 7: --version, doctor

def test_version_prints_the_installed_distribution_version():
    """Issue 13 item 7: `keystead --version` prints the version of the keystead distribution."""
    r = keystead("--version")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"keystead {importlib.metadata.version('keystead')}"


class KeysteadServe(GunicornServer):
    """`keystead serve`, as `make serve` runs it."""

    def command(self) -> list[str]:
        return [*CLI, "serve", "--bind", f"127.0.0.1:{self.port}", "--workers", "1"]


def doctor_lines(result) -> dict[str, str]:
    """{check name: whole line} of doctor's output."""
    lines = {}
    for line in result.stdout.splitlines():
        status, _, rest = line.partition(" ")
        lines[rest.strip().split(":", 1)[0]] = line
    return lines


@pytest.fixture
def served(tmp_path, database_url):
    if not os.path.exists(os.path.join(os.path.dirname(sys.executable), "gunicorn")):
        pytest.skip("gunicorn is not installed")
    server = KeysteadServe(tmp_path / "instance", {"Server.DatabaseURL": database_url}, workers=1).start()
    yield server
    server.stop()


def test_doctor_on_a_freshly_served_instance_says_ok_to_every_check(served):
    """Issue 13 item 7 (done when): on an instance `keystead serve` has just started,
    `keystead doctor --url <the served address>` prints one ok line per check
    (configuration, file permissions, database, migrations, mail, rate-limit storage,
    PublicURL) and exits 0."""
    r = keystead("doctor", "--url", served.url, instance=served.instance, settings=served.settings)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = doctor_lines(r)
    assert list(lines) == ["configuration", "file permissions", "database", "migrations", "mail",
                           "rate-limit storage", "PublicURL"], r.stdout
    assert all(line.startswith("ok ") for line in lines.values()), r.stdout
    assert served.settings["Bootstrap.AdminPassword"] not in r.stdout


def test_doctor_names_each_problem_of_a_broken_instance(served, tmp_path):
    """Issue 13 item 7 (done when): with an unreachable database, world-readable files in
    the instance folder and a PublicURL other than the served address, `keystead doctor`
    prints a FAIL line naming each (the file, the database, both addresses), never the
    database password, and exits 1."""
    served.stop()
    secret_file = os.path.join(served.instance, "secret_key")
    toml = os.path.join(served.instance, "keystead.toml")
    with open(toml, "w", encoding="utf-8") as f:
        f.write("# settings\n")
    os.chmod(toml, 0o644)
    unreachable = f"postgresql://keystead:hunter2-db-password@127.0.0.1:{free_port()}/keystead"
    settings = {**served.settings, "Server.DatabaseURL": unreachable,
                "Server.PublicURL": "http://keystead.example.org"}
    r = keystead("doctor", "--bind", f"127.0.0.1:{served.port}", instance=served.instance, settings=settings)
    assert r.returncode == 1, r.stdout + r.stderr
    lines = doctor_lines(r)
    assert lines["file permissions"].startswith("FAIL") and toml in lines["file permissions"], r.stdout
    assert "644" in lines["file permissions"] and "chmod 600" in lines["file permissions"]
    assert lines["database"].startswith("FAIL") and "127.0.0.1" in lines["database"], r.stdout
    assert lines["migrations"].startswith("FAIL")
    assert lines["PublicURL"].startswith("FAIL") and "keystead.example.org" in lines["PublicURL"]
    assert f"127.0.0.1:{served.port}" in lines["PublicURL"]
    assert lines["configuration"].startswith("ok")
    assert "hunter2-db-password" not in r.stdout + r.stderr
    assert "checks failed" in r.stderr
    # doctor only reads: the file it found world-readable is still so
    assert stat.S_IMODE(os.stat(toml).st_mode) == 0o644
    assert not os.path.exists(secret_file) or stat.S_IMODE(os.stat(secret_file).st_mode) == 0o600


def test_doctor_mail_connects_to_the_smtp_server(tmp_path, smtp):
    """Issue 13 item 7: `keystead doctor --mail` connects to the configured SMTP server:
    ok when it answers, FAIL naming host and port when nothing listens there."""
    _, mail_settings = smtp
    instance = tmp_path / "instance"
    base = {**BASE_SETTINGS, "Server.DatabaseURL": f"sqlite:///{tmp_path / 'k.db'}"}
    assert keystead("init", instance=instance, settings=base).returncode == 0
    r = keystead("doctor", "--mail", instance=instance, settings={**base, **mail_settings})
    assert doctor_lines(r)["mail"].startswith("ok") and "answers" in doctor_lines(r)["mail"], r.stdout
    dead_port = free_port()
    r = keystead("doctor", "--mail", instance=instance, settings={**base, **mail_settings,
                                                                 "Email.Port": dead_port})
    assert r.returncode == 1
    assert doctor_lines(r)["mail"].startswith("FAIL") and f"127.0.0.1:{dead_port}" in doctor_lines(r)["mail"]


# ---------------------------------------------------------------- item 8

def test_help_lists_only_keysteads_own_commands(tmp_path):
    """Issue 13 item 8: `keystead --help` lists Keystead's commands, not Flask-Limiter's
    `limiter` group nor Flask's --env-file, --app and --debug options, and needs no
    instance (it creates none)."""
    instance = tmp_path / "instance"
    r = keystead("--help", instance=instance)
    assert r.returncode == 0, r.stderr
    for word in ("limiter", "--env-file", "--app", "--debug", "routes", "shell"):
        assert word not in r.stdout, r.stdout
    for command in ("init", "serve", "users", "groups", "providers", "doctor", "mail"):
        assert f"\n  {command} " in r.stdout, r.stdout
    assert "--version" in r.stdout
    assert not instance.exists()


def test_providers_says_why_one_is_not_available_and_lists_hooks_by_plugin_name(runner):
    """Issue 13 item 8: `keystead providers` shows the reason a provider is not available
    (before, only KEYSTEAD_TRACE=1 showed it) and the plugins' hooks sorted by plugin name."""
    r = runner.invoke(args=["providers"])
    assert r.exit_code == 0, r.output
    providers, _, hooks = r.output.partition("\n\n")
    ldap = next(line for line in providers.splitlines() if line.startswith("ldap"))
    assert "not available" in ldap and "LDAP.ServerURI" in ldap, ldap
    names = [line.split(":", 1)[0] for line in hooks.splitlines() if line.strip()]
    assert names == sorted(names) and "password" in names


# ---------------------------------------------------------------- item 18

def test_serve_warns_when_public_url_is_not_the_address_served(tmp_path, database_url):
    """Issue 13 item 18: `keystead serve --bind` says, before serving, that
    Server.PublicURL names another address than the one served."""
    if not os.path.exists(os.path.join(os.path.dirname(sys.executable), "gunicorn")):
        pytest.skip("gunicorn is not installed")
    server = KeysteadServe(tmp_path / "instance", {"Server.DatabaseURL": database_url,
                                                   "Server.PublicURL": "http://127.0.0.1:1"}, workers=1)
    server.start()
    try:
        log = open(server.log_path, encoding="utf-8").read()
    finally:
        server.stop()
    assert "warning: Server.PublicURL is http://127.0.0.1:1" in log, log
    assert f"served at 127.0.0.1:{server.port}" in log


def test_serve_says_in_one_line_when_the_port_is_taken(tmp_path):
    """Issue 13 item 18: `keystead serve --bind` on a port another program listens on
    exits 1 at once with one line naming the port and how to choose another (gunicorn
    itself would retry and print its own messages)."""
    base = {**BASE_SETTINGS, "Server.DatabaseURL": f"sqlite:///{tmp_path / 'k.db'}"}
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = keystead("serve", "--bind", f"127.0.0.1:{port}", instance=tmp_path / "instance",
                     settings={**base, "Server.PublicURL": f"http://127.0.0.1:{port}"})
    assert r.returncode == 1, r.stdout + r.stderr
    # The start-up log (timestamped records) may precede it; the refusal is one line.
    lines = [line for line in r.stderr.splitlines()
             if line.strip() and not re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d", line)]
    assert len(lines) == 1, r.stderr
    assert f"port {port} is already in use" in lines[0] and "PORT=" in lines[0]
    assert "Booting" not in r.stdout + r.stderr


def test_make_serve_takes_port():
    """Issue 13 item 18: `make serve PORT=8123` serves on 127.0.0.1:8123; 8000 unless given."""
    run = lambda *args: subprocess.run(["make", "-n", "serve", *args], cwd=ROOT, capture_output=True,
                                       text=True, timeout=30).stdout
    assert "keystead serve --bind 127.0.0.1:8123" in run("PORT=8123")
    assert "keystead serve --bind 127.0.0.1:8000" in run()


def test_invite_and_import_show_a_progress_bar_on_a_terminal(tmp_path):
    """Issue 13 item 7: the long commands (`users import`, `users invite`) draw a progress
    bar when stderr is a terminal (a pseudo-terminal here), reaching 100%."""
    import pty
    base = {**BASE_SETTINGS, "Server.DatabaseURL": f"sqlite:///{tmp_path / 'k.db'}"}
    instance = tmp_path / "instance"
    assert keystead("init", instance=instance, settings=base).returncode == 0
    people = write_csv(tmp_path / "people.csv", "email\n" + "".join(f"person{i}@example.com\n" for i in range(30)))
    staff = write_csv(tmp_path / "staff.csv", "username\n" + "".join(f"staff{i}\n" for i in range(30)))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KEYSTEAD_", "FLASK_"))}
    env.update(setting_env(base), KEYSTEAD_INSTANCE=str(instance), TERM="xterm")
    for args, label in ((["users", "invite", people, "--links-out", str(tmp_path / "links.csv"),
                          "--batch-size", "10"], "Inviting"),
                        (["users", "import", staff, "--batch-size", "10"], "Importing")):
        controller, terminal = pty.openpty()
        proc = subprocess.Popen([*CLI, *args], cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=terminal)
        os.close(terminal)
        drawn = b""
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # the command ended and closed the terminal
                break
            if not chunk:
                break
            drawn += chunk
        proc.communicate(timeout=60)
        os.close(controller)
        assert proc.returncode == 0, drawn.decode(errors="replace")
        text = drawn.decode(errors="replace")
        assert label in text and "100%" in text and "#" in text, text
