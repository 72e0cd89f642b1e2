"""Issue 16: the PAM provider, against the host's real PAM: the test creates a temporary
Unix account with a password (useradd, chpasswd), logs in through the API and the browser,
and removes the account afterwards. Needs root (CI runs as root); skips saying so
otherwise."""
from __future__ import annotations

import grp
import os
import pwd
import secrets
import subprocess
import sys

import pytest

from api_support import API, assert_error, bearer
from conftest import post_form
from keystead.config import ConfigError
from live import browser, make_live_server  # noqa: F401  (pytest fixtures)

# pam_exec writes a line to the service's log each time PAM is asked (so a test sees when it
# is not); pam_unix without the 3-second delay of a failure.
TEST_SERVICE_RULES = ("auth optional pam_exec.so quiet log={log} {script}\n"
                      "auth required pam_unix.so nodelay\naccount required pam_unix.so\n")


def _usable() -> str | None:
    """Why PAM cannot be tested here, or None."""
    if os.geteuid() != 0:
        return "creating a Unix account and reading /etc/shadow needs root (CI runs as root)"
    for tool in ("/usr/sbin/useradd", "/usr/sbin/chpasswd", "/usr/sbin/userdel", "/usr/sbin/groupadd"):
        if not os.path.exists(tool):
            return f"{tool} is missing (apt-get install passwd)"
    try:
        import pam  # noqa: F401
    except ImportError:
        return "python-pam is not installed (pip install 'keystead[pam]')"
    import ctypes.util
    if ctypes.util.find_library("pam") is None:
        return "the system's PAM library is missing (apt-get install libpam0g)"
    return None


def _run(*cmd, input_text: str | None = None) -> None:
    r = subprocess.run(cmd, input=input_text, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, f"{' '.join(cmd)}: {r.stderr}"


class UnixAccount:
    def __init__(self, name: str, password: str, group: str):
        self.name, self.password, self.group = name, password, group


@pytest.fixture(scope="module")
def unix_account():
    """A temporary account (uid >= 1000, in a temporary extra group), removed afterwards."""
    reason = _usable()
    if reason:
        pytest.skip(f"PAM cannot be tested here: {reason}")
    name = "kst" + secrets.token_hex(4)
    group = name + "grp"
    password = "Unix-password-" + secrets.token_hex(6)
    _run("/usr/sbin/groupadd", group)
    try:
        _run("/usr/sbin/useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", "--comment",
             "Ada Lovelace,,,", "--groups", group, "--user-group", name)
        try:
            _run("/usr/sbin/chpasswd", input_text=f"{name}:{password}\n")
            assert pwd.getpwnam(name).pw_uid >= 1000
            yield UnixAccount(name, password, group)
        finally:
            subprocess.run(["/usr/sbin/userdel", name], capture_output=True, timeout=30)
    finally:
        subprocess.run(["/usr/sbin/groupdel", group], capture_output=True, timeout=30)
    with pytest.raises(KeyError):
        pwd.getpwnam(name)


class PamService(str):
    """The name of a PAM service; `.asked()` counts how often PAM was asked through it
    (about `user`, or about anyone)."""
    log: str

    def asked(self, user: str | None = None) -> int:
        try:
            with open(self.log, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            return 0
        return sum(1 for line in lines if line.startswith("asked ") and (user is None or line == f"asked {user}"))


@pytest.fixture(scope="module")
def pam_service(unix_account, tmp_path_factory):
    """A PAM service of the test's own (pam_unix without the 3-second delay of a failure,
    and a line in a log each time it is asked), removed afterwards."""
    service = PamService("keystead-test-" + secrets.token_hex(4))
    folder = tmp_path_factory.mktemp("pam")
    service.log = str(folder / "asked.log")
    script = folder / "asked.sh"
    script.write_text('#!/bin/sh\necho "asked $PAM_USER"\n')  # pam_exec passes the user in PAM_USER
    script.chmod(0o755)
    path = os.path.join("/etc/pam.d", service)
    with open(path, "x") as f:
        f.write(TEST_SERVICE_RULES.format(log=service.log, script=script))
    try:
        yield service
    finally:
        os.remove(path)


@pytest.fixture
def pam_settings(pam_service):
    return {"Authentication.Provider": ["password", "pam"], "PAM.Service": pam_service}


def login(client, username, password):
    return client.post(f"{API}/auth/login", json={"username": username, "password": password})


def me(client, response) -> dict:
    assert response.status_code == 200, response.get_data(as_text=True)
    r = client.get(f"{API}/users/me", headers=bearer(response.get_json()["access_token"]))
    assert r.status_code == 200
    return r.get_json()


# ---------------------------------------------------------------- availability

def test_without_python_pam_it_is_listed_as_not_available_with_the_install_line(make_app, monkeypatch):
    monkeypatch.setitem(sys.modules, "pam", None)
    client = make_app().test_client()
    assert client.get(f"{API}/providers").get_json()["pam"] == {"available": False, "active": False}
    with pytest.raises(ConfigError, match=r"pip install 'keystead\[pam\]'"):
        make_app({"Authentication.Provider": ["password", "pam"]})


def test_a_service_without_a_file_in_pam_d_refuses_startup(make_app):
    pytest.importorskip("pam", reason="python-pam is not installed (pip install 'keystead[pam]')")
    with pytest.raises(ConfigError) as e:
        make_app({"Authentication.Provider": ["password", "pam"], "PAM.Service": "no-such-service"})
    assert "PAM.Service" in str(e.value) and "\n" not in str(e.value)


# ---------------------------------------------------------------- logging in

def test_the_default_login_service_logs_a_unix_account_in(make_app, unix_account):
    client = make_app({"Authentication.Provider": ["password", "pam"]}).test_client()
    person = me(client, login(client, unix_account.name, unix_account.password))
    assert person["username"] == unix_account.name


def test_api_login_maps_the_unix_account(make_app, pam_settings, unix_account):
    client = make_app(pam_settings).test_client()
    person = me(client, login(client, unix_account.name, unix_account.password))
    assert (person["username"], person["email"], person["first_name"], person["last_name"]) == \
        (unix_account.name, None, "Ada", "Lovelace")
    assert person["groups"] == []  # GroupsFrom = "none"


def test_unix_groups_are_synced_when_asked(make_app, pam_settings, unix_account):
    client = make_app({**pam_settings, "PAM.GroupsFrom": "unix"}).test_client()
    person = me(client, login(client, unix_account.name, unix_account.password))
    assert person["groups"] == sorted([unix_account.name, unix_account.group])
    assert unix_account.name in grp.getgrnam(unix_account.group).gr_mem


def test_wrong_password_and_unknown_name_get_one_answer(make_app, pam_settings, unix_account):
    client = make_app(pam_settings).test_client()
    wrong = login(client, unix_account.name, "not-the-password")
    unknown = login(client, "nosuchunixuser", "not-the-password")
    assert_error(wrong, 401, "invalid_credentials")
    assert (unknown.status_code, unknown.get_json()) == (401, wrong.get_json())


def test_root_and_accounts_below_the_minimum_uid_are_refused(make_app, pam_settings, unix_account):
    uid = pwd.getpwnam(unix_account.name).pw_uid
    client = make_app({**pam_settings, "PAM.MinimumUID": uid + 1}).test_client()
    assert_error(login(client, unix_account.name, unix_account.password), 401, "invalid_credentials")
    client = make_app({**pam_settings, "PAM.MinimumUID": 0}).test_client()
    assert_error(login(client, "root", "whatever-root-has"), 401, "invalid_credentials")
    with client.application.app_context():
        accounts = client.application.extensions["keystead.pam"]
        assert accounts.account("root") is None and accounts.account(unix_account.name) is not None


def test_a_locked_unix_account_cannot_log_in(make_app, pam_settings, unix_account):
    client = make_app(pam_settings).test_client()
    _run("/usr/sbin/usermod", "--lock", unix_account.name)
    try:
        assert_error(login(client, unix_account.name, unix_account.password), 401)
    finally:
        _run("/usr/sbin/usermod", "--unlock", unix_account.name)
    assert login(client, unix_account.name, unix_account.password).status_code == 200


def test_names_that_are_not_unix_usernames_log_nobody_in(make_app, pam_settings, unix_account):
    client = make_app(pam_settings).test_client()
    for typed in (unix_account.name + "*", unix_account.name.upper(), f"{unix_account.name}@example.com", "../root"):
        assert_error(login(client, typed, unix_account.password), 401)


def test_the_lockout_applies_before_pam_is_asked(make_app, pam_settings, pam_service, unix_account):
    client = make_app({**pam_settings, "Password.LockoutThreshold": 2}).test_client()
    before = pam_service.asked()
    for _ in range(2):
        assert_error(login(client, unix_account.name, "not-the-password"), 401)
    assert pam_service.asked() == before + 2
    assert_error(login(client, unix_account.name, unix_account.password), 423, "locked")
    assert pam_service.asked() == before + 2  # PAM was not asked


def test_root_is_refused_without_asking_pam_for_root(make_app, pam_settings, pam_service, unix_account):
    client = make_app({**pam_settings, "PAM.MinimumUID": 0}).test_client()
    before = pam_service.asked("keystead-no-such-account")
    assert_error(login(client, "root", "whatever-root-has"), 401, "invalid_credentials")
    # The same work as an unknown name: PAM is asked once, about a name that cannot exist.
    assert pam_service.asked("keystead-no-such-account") == before + 1
    assert pam_service.asked("root") == 0


def test_a_pam_person_cannot_change_a_password_here(make_app, pam_settings, unix_account):
    client = make_app(pam_settings).test_client()
    token = login(client, unix_account.name, unix_account.password).get_json()["access_token"]
    r = client.post(f"{API}/users/me/password", headers=bearer(token),
                    json={"current_password": unix_account.password, "new_password": "a-new-long-passphrase-9"})
    assert_error(r, 409, "password_managed_elsewhere")


def test_the_login_form_logs_a_unix_account_in(make_app, pam_settings, unix_account):
    client = make_app(pam_settings).test_client()
    r = post_form(client, "/login", {"username": unix_account.name, "password": unix_account.password})
    assert r.status_code == 303
    assert unix_account.name in client.get("/profile").get_data(as_text=True)


@pytest.mark.browser
def test_browser_login_with_a_unix_account(make_live_server, browser, pam_settings, unix_account):
    server = make_live_server(pam_settings)
    page = browser.new_page()
    page.goto(server("/login"))
    page.fill("input[name=username]", unix_account.name)
    page.fill("input[name=password]", unix_account.password)
    page.click("button[type=submit]")
    page.wait_for_url(server("/profile"))
    assert unix_account.name in page.content()


def test_the_documented_configuration_loads_as_printed(make_app, tmp_path):
    import re
    doc = open(os.path.join(os.path.dirname(__file__), "..", "docs", "providers.md"), encoding="utf-8").read()
    section = doc[doc.index("### PAM (`pam`)"):]
    (tmp_path / "instance").mkdir()
    (tmp_path / "instance" / "keystead.toml").write_text(re.search(r"```toml\n(.*?)```", section, re.S).group(1))
    pytest.importorskip("pam", reason="python-pam is not installed (pip install 'keystead[pam]')")
    app = make_app()  # the app fixture's instance folder holds the documented keystead.toml
    settings = app.extensions["keystead.settings"]
    assert settings.providers == ["password", "pam"]
    assert (settings["PAM.Service"], settings["PAM.MinimumUID"], settings["PAM.GroupsFrom"]) == ("login", 1000, "unix")
    assert app.test_client().get(f"{API}/providers").get_json()["pam"] == {"available": True, "active": True}
