"""Issue 16: the LDAP / Active Directory provider, against a real OpenLDAP server (slapd
started by tests/ldap_server.py on a loopback port: people in two OUs, groups with one
nested group, a person without an email, a person locked by the ppolicy overlay, StartTLS
with a CA the test makes)."""
from __future__ import annotations

import logging
import os
import re
import socket
import subprocess
import sys

import pytest

from api_support import API, assert_error, bearer
from conftest import post_form
from ldap_server import BASE, SERVICE_PASSWORD, slapd  # noqa: F401  (the pytest fixture)
from keystead.config import ConfigError
from live import browser, make_live_server  # noqa: F401  (pytest fixtures)

ALICE_DN = f"uid=alice,ou=people,{BASE}"


def login(client, username, password):
    return client.post(f"{API}/auth/login", json={"username": username, "password": password})


def me(client, response) -> dict:
    assert response.status_code == 200, response.get_data(as_text=True)
    r = client.get(f"{API}/users/me", headers=bearer(response.get_json()["access_token"]))
    assert r.status_code == 200
    return r.get_json()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens there once the socket is closed


def slapd_log(server) -> str:
    with open(server.log_path, encoding="utf-8", errors="replace") as f:
        return f.read()


def binds_and_connections(server) -> tuple[int, int]:
    text = slapd_log(server)
    return len(re.findall(r' BIND dn="[^"]*" method=', text)), len(re.findall(r" ACCEPT from ", text))


def ldapmodify(server, ldif: str) -> None:
    from ldap_server import ROOT_DN, ROOT_PASSWORD
    r = subprocess.run(["ldapmodify", "-x", "-H", server.uri, "-D", ROOT_DN, "-w", ROOT_PASSWORD],
                       input=ldif.encode(), capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr


@pytest.fixture
def ldap_app(make_app, slapd):
    return make_app(slapd.settings())


@pytest.fixture
def ldap_client(ldap_app):
    return ldap_app.test_client()


# ---------------------------------------------------------------- availability and settings

def test_without_ldap3_it_is_listed_as_not_available_with_the_install_line(make_app, monkeypatch):
    monkeypatch.setitem(sys.modules, "ldap3", None)  # import ldap3 -> ImportError
    client = make_app().test_client()
    assert client.get(f"{API}/providers").get_json()["ldap"] == {"available": False, "active": False}
    r = client.application.test_cli_runner().invoke(args=["providers"])
    assert "pip install 'keystead[ldap]'" in r.output
    with pytest.raises(ConfigError, match=re.escape("pip install 'keystead[ldap]'")):
        make_app({"Authentication.Provider": ["password", "ldap"], "LDAP.ServerURI": "ldap://127.0.0.1",
                  "LDAP.UserSearchBase": BASE})


def test_without_a_server_and_search_base_it_is_not_available_and_says_what_to_set(make_app):
    client = make_app().test_client()
    assert client.get(f"{API}/providers").get_json()["ldap"] == {"available": False, "active": False}
    with pytest.raises(ConfigError) as e:
        make_app({"Authentication.Provider": "ldap"})
    assert "LDAP.ServerURI" in str(e.value) and "LDAP.UserSearchBase" in str(e.value)


@pytest.mark.parametrize("setting, value, words", [
    ("LDAP.ServerURI", "http://dc.example.com", "ldap:// or ldaps://"),
    ("LDAP.ServerURI", ["ldap://dc1.example.com", 5], "ldap:// or ldaps://"),
    ("LDAP.UserFilter", "uid={username}", "{username}"),
    ("LDAP.UserFilter", "(uid=someone)", "{username}"),
    ("LDAP.GroupFilter", "(member=x)", "{dn}"),
    ("LDAP.UsernameAttribute", "uid)(x", "attribute name"),
    ("LDAP.Timeout", "soon", "duration"),
    ("LDAP.NestedGroups", "yes", "true or false"),
    ("LDAP.CAFile", "/no/such/ca.pem", "LDAP.CAFile"),
    ("LDAP.StartTLS", True, "LDAP.StartTLS"),  # with an ldaps:// server below
    ("LDAP.BindPassword", None, "LDAP.BindDN"),  # a BindDN without its password
    ("PAM.MinimumUID", -1, "PAM.MinimumUID"),
    ("PAM.GroupsFrom", "ldap", "none, unix"),
    ("PAM.Service", "../etc/passwd", "PAM service"),
])
def test_bad_settings_refuse_startup_with_one_line(make_app, setting, value, words):
    settings = {"Authentication.Provider": ["password", "ldap"], "LDAP.ServerURI": "ldaps://127.0.0.1",
                "LDAP.UserSearchBase": BASE, "LDAP.BindDN": "cn=keystead", "LDAP.BindPassword": "pw-of-the-service",
                setting: value}
    with pytest.raises(ConfigError) as e:
        make_app(settings)
    message = str(e.value)
    assert "\n" not in message and words in message, message
    assert "pw-of-the-service" not in message


def test_nested_groups_without_a_group_source_refuse_startup(make_app, slapd):
    with pytest.raises(ConfigError, match="LDAP.NestedGroups"):
        make_app(slapd.settings(**{"LDAP.GroupSearchBase": None, "LDAP.NestedGroups": True}))


def test_startup_does_not_contact_the_directory(make_app):
    app = make_app({"Authentication.Provider": ["password", "ldap"],
                    "LDAP.ServerURI": f"ldap://127.0.0.1:{closed_port()}", "LDAP.UserSearchBase": BASE})
    assert app.test_client().get(f"{API}/providers").get_json()["ldap"] == {"available": True, "active": True}


# ---------------------------------------------------------------- logging in

def test_api_login_creates_the_person_from_the_directory_with_groups(ldap_client, slapd):
    person = me(ldap_client, login(ldap_client, "alice", slapd.passwords["alice"]))
    assert (person["username"], person["email"], person["first_name"], person["last_name"]) == \
        ("alice", "alice@example.org", "Alice", "Archer")
    assert person["groups"] == ["Engineers"]


def test_the_login_binds_as_the_person_and_never_reads_a_password_hash(ldap_client, slapd):
    before = slapd_log(slapd)
    assert login(ldap_client, "alice", slapd.passwords["alice"]).status_code == 200
    new = slapd_log(slapd)[len(before):]
    assert f'BIND dn="{ALICE_DN}" method=128' in new
    assert "userPassword" not in new  # never asked for, so never compared here


def test_people_of_a_second_ou_log_in(ldap_client, slapd):
    person = me(ldap_client, login(ldap_client, "carol", slapd.passwords["carol"]))
    assert person["username"] == "carol" and person["groups"] == ["Admins"]  # not nested by default


def test_a_person_without_an_email_logs_in(ldap_client, slapd):
    person = me(ldap_client, login(ldap_client, "bob", slapd.passwords["bob"]))
    assert person["username"] == "bob" and person["email"] is None and person["groups"] == ["Operators"]


def test_a_person_locked_in_the_directory_cannot_log_in(ldap_client, slapd):
    r = login(ldap_client, "locked", slapd.passwords["locked"])
    assert_error(r, 401, "invalid_credentials")
    assert f'BIND dn="uid=locked,ou=people,{BASE}"' in slapd_log(slapd)  # refused by the directory


def test_wrong_password_and_unknown_person_get_one_answer_after_a_bind_each(ldap_client, slapd):
    binds, _ = binds_and_connections(slapd)
    wrong = login(ldap_client, "alice", "not-alices-password")
    binds_wrong, _ = binds_and_connections(slapd)
    unknown = login(ldap_client, "nobody-here", "not-alices-password")
    binds_unknown, _ = binds_and_connections(slapd)
    assert_error(wrong, 401, "invalid_credentials")
    assert unknown.get_json() == wrong.get_json() and unknown.status_code == 401
    # Each costs the service bind and one bind with the password typed.
    assert binds_wrong - binds == binds_unknown - binds_wrong == 2
    assert re.search(r'BIND dn="cn=keystead-no-such-person-[0-9a-f]+,dc=example,dc=org"', slapd_log(slapd))


def test_a_dn_with_parentheses_is_escaped_in_the_group_filter(ldap_client, slapd):
    person = me(ldap_client, login(ldap_client, "pat", slapd.passwords["pat"]))
    assert person["groups"] == ["Engineers"]


@pytest.mark.parametrize("typed", ["ali*", "*", "alice)(uid=*", "alice)(|(uid=*", "*)(objectClass=*"])
def test_filter_injection_logs_nobody_in(ldap_client, slapd, typed):
    r = login(ldap_client, typed, slapd.passwords["alice"])
    assert_error(r, 401, "invalid_credentials")


def test_a_nul_in_the_name_logs_nobody_in(ldap_app, ldap_client, slapd):
    r = login(ldap_client, "alice\x00", slapd.passwords["alice"])
    assert_error(r, 422)
    with ldap_app.app_context():  # below the API's own refusal, the directory escapes it too
        directory = ldap_app.extensions["keystead.ldap"]
        assert directory.authenticate("alice\x00", slapd.passwords["alice"]) is None
        assert directory.authenticate("alice", slapd.passwords["alice"] + "\x00") is None
        assert directory.authenticate("alice", "") is None  # never an unauthenticated bind


def test_groups_are_created_and_synced_at_each_login(ldap_app, ldap_client, slapd):
    engineers = f"cn=Engineers,ou=groups,{BASE}"
    bob = f"uid=bob,ou=people,{BASE}"
    assert me(ldap_client, login(ldap_client, "bob", slapd.passwords["bob"]))["groups"] == ["Operators"]
    ldapmodify(slapd, f"dn: {engineers}\nchangetype: modify\nadd: member\nmember: {bob}\n")
    try:
        person = me(ldap_client, login(ldap_client, "bob", slapd.passwords["bob"]))
        assert person["groups"] == ["Engineers", "Operators"]
    finally:
        ldapmodify(slapd, f"dn: {engineers}\nchangetype: modify\ndelete: member\nmember: {bob}\n")
    assert me(ldap_client, login(ldap_client, "bob", slapd.passwords["bob"]))["groups"] == ["Operators"]


def test_nested_groups_by_a_bounded_search_on_openldap(make_app, slapd, caplog):
    client = make_app(slapd.settings(**{"LDAP.NestedGroups": True})).test_client()
    with caplog.at_level(logging.INFO, logger="keystead"):
        person = me(client, login(client, "carol", slapd.passwords["carol"]))
    assert person["groups"] == ["Admins", "Engineers"]  # Admins is a member of Engineers
    assert "not Active Directory" in caplog.text


def test_groups_from_the_memberof_attribute_nested_too(make_app, slapd):
    settings = slapd.settings(**{"LDAP.GroupSearchBase": None, "LDAP.GroupMembershipAttribute": "memberOf"})
    client = make_app(settings).test_client()
    assert me(client, login(client, "alice", slapd.passwords["alice"]))["groups"] == ["Engineers"]
    assert me(client, login(client, "carol", slapd.passwords["carol"]))["groups"] == ["Admins"]
    client = make_app({**settings, "LDAP.NestedGroups": True}).test_client()
    assert me(client, login(client, "carol", slapd.passwords["carol"]))["groups"] == ["Admins", "Engineers"]


def test_without_group_settings_memberships_are_left_alone(make_app, slapd):
    client = make_app(slapd.settings(**{"LDAP.GroupSearchBase": None})).test_client()
    assert me(client, login(client, "alice", slapd.passwords["alice"]))["groups"] == []


def test_an_ldap_person_cannot_change_a_password_here(ldap_client, slapd):
    tokens = login(ldap_client, "alice", slapd.passwords["alice"]).get_json()
    r = ldap_client.post(f"{API}/users/me/password", headers=bearer(tokens["access_token"]),
                         json={"current_password": slapd.passwords["alice"], "new_password": "a-new-long-passphrase-9"})
    assert_error(r, 409, "password_managed_elsewhere")


def test_re_entering_the_password_is_checked_by_the_directory(ldap_client, slapd):
    headers = bearer(login(ldap_client, "alice", slapd.passwords["alice"]).get_json()["access_token"])
    r = ldap_client.post(f"{API}/users/me/api-keys", headers=headers,
                         json={"name": "laptop", "current_password": "not-alices-password"})
    assert_error(r, 422)
    r = ldap_client.post(f"{API}/users/me/api-keys", headers=headers,
                         json={"name": "laptop", "current_password": slapd.passwords["alice"]})
    assert r.status_code == 201, r.get_data(as_text=True)


def test_the_browser_login_form_logs_a_directory_person_in(ldap_client, slapd):
    r = post_form(ldap_client, "/login", {"username": "alice", "password": slapd.passwords["alice"]})
    assert r.status_code == 303
    assert "alice" in ldap_client.get("/profile").get_data(as_text=True)


# ---------------------------------------------------------------- TLS

def test_starttls_with_the_directory_ca(make_app, slapd):
    client = make_app(slapd.settings(**{"LDAP.ServerURI": slapd.tls_uri, "LDAP.StartTLS": True,
                                        "LDAP.CAFile": slapd.ca_file})).test_client()
    before = slapd_log(slapd)
    assert me(client, login(client, "alice", slapd.passwords["alice"]))["groups"] == ["Engineers"]
    new = slapd_log(slapd)[len(before):]
    assert new.count("TLS established") == 2  # the service connection and the person's bind
    assert re.search(r"STARTTLS[\s\S]*BIND dn=\"uid=alice", new)


def test_ldaps_with_the_directory_ca(make_app, slapd):
    client = make_app(slapd.settings(**{"LDAP.ServerURI": slapd.ldaps_uri, "LDAP.CAFile": slapd.ca_file})).test_client()
    before = slapd_log(slapd)
    assert me(client, login(client, "alice", slapd.passwords["alice"]))["username"] == "alice"
    assert slapd_log(slapd)[len(before):].count("TLS established") == 2


def test_starttls_refuses_a_certificate_it_cannot_check(make_app, slapd, caplog):
    # Without LDAP.CAFile the test CA is unknown: no password is sent, the login answers 503.
    client = make_app(slapd.settings(**{"LDAP.ServerURI": slapd.tls_uri, "LDAP.StartTLS": True})).test_client()
    before = binds_and_connections(slapd)[0]
    with caplog.at_level(logging.WARNING, logger="keystead"):
        assert_error(login(client, "alice", slapd.passwords["alice"]), 503, "provider_unavailable")
    assert binds_and_connections(slapd)[0] == before
    assert "LDAP directory unavailable" in caplog.text and "certificate" in caplog.text.lower()


def test_starttls_checks_the_host_name(make_app, slapd, caplog):
    # The certificate names localhost only; the same server reached as 127.0.0.1 is refused.
    client = make_app(slapd.settings(**{"LDAP.ServerURI": slapd.uri, "LDAP.StartTLS": True,
                                        "LDAP.CAFile": slapd.ca_file})).test_client()
    before = binds_and_connections(slapd)[0]
    with caplog.at_level(logging.WARNING, logger="keystead"):
        assert_error(login(client, "alice", slapd.passwords["alice"]), 503, "provider_unavailable")
    assert binds_and_connections(slapd)[0] == before  # no password was sent
    assert "LDAP directory unavailable" in caplog.text


# ---------------------------------------------------------------- failures

def test_an_unreachable_directory_answers_503_and_logs_one_line_without_the_password(make_app, slapd, caplog):
    dead = f"ldap://127.0.0.1:{closed_port()}"
    app = make_app(slapd.settings(**{"LDAP.ServerURI": dead}))
    client = app.test_client()
    with caplog.at_level(logging.INFO, logger="keystead"):
        r = login(client, "alice", slapd.passwords["alice"])
        page = post_form(client, "/login", {"username": "alice", "password": slapd.passwords["alice"]})
    error = assert_error(r, 503, "provider_unavailable")
    assert "cannot be reached" in error["message"]
    assert page.status_code == 503 and "cannot be reached" in page.get_data(as_text=True)
    lines = [rec.getMessage() for rec in caplog.records if "LDAP directory unavailable" in rec.getMessage()]
    assert len(lines) == 2 and all("\n" not in line and dead.split("//")[1] in line for line in lines)
    assert SERVICE_PASSWORD not in caplog.text and slapd.passwords["alice"] not in caplog.text
    assert "Traceback" not in caplog.text


def test_a_refused_service_bind_answers_503_without_the_password(make_app, slapd, caplog):
    client = make_app(slapd.settings(**{"LDAP.BindPassword": "a-wrong-service-password"})).test_client()
    with caplog.at_level(logging.WARNING, logger="keystead"):
        assert_error(login(client, "alice", slapd.passwords["alice"]), 503, "provider_unavailable")
    assert "service bind" in caplog.text and "a-wrong-service-password" not in caplog.text


def test_the_next_server_is_tried_when_the_first_cannot_be_reached(make_app, slapd):
    client = make_app(slapd.settings(**{"LDAP.ServerURI": [f"ldap://127.0.0.1:{closed_port()}",
                                                           slapd.uri]})).test_client()
    assert me(client, login(client, "alice", slapd.passwords["alice"]))["username"] == "alice"


def test_the_lockout_applies_before_the_directory_is_asked(make_app, slapd):
    client = make_app(slapd.settings(**{"Password.LockoutThreshold": 3})).test_client()
    for _ in range(3):
        assert_error(login(client, "alice", "not-alices-password"), 401)
    before = binds_and_connections(slapd)
    r = login(client, "alice", slapd.passwords["alice"])
    assert_error(r, 423, "locked") and r.headers.get("Retry-After")
    assert binds_and_connections(slapd) == before  # not one connection to the directory


def test_the_rate_limit_applies_before_the_directory_is_asked(make_app, slapd):
    from keystead.ratelimits import SCOPES
    per_minute = int(SCOPES["login"][0].split()[0])
    client = make_app(slapd.settings(**{"Password.LockoutThreshold": 0})).test_client()
    for _ in range(per_minute):
        assert login(client, "nobody-here", "a-guess").status_code == 401
    before = binds_and_connections(slapd)
    assert_error(login(client, "alice", slapd.passwords["alice"]), 429, "too_many_requests")
    assert binds_and_connections(slapd) == before


# ---------------------------------------------------------------- the documented example

def test_the_documented_configuration_loads_as_printed(make_app, tmp_path):
    doc = open(os.path.join(os.path.dirname(__file__), "..", "docs", "providers.md"), encoding="utf-8").read()
    section = doc[doc.index("### LDAP and Active Directory (`ldap`)"):]
    (tmp_path / "instance").mkdir()
    (tmp_path / "instance" / "keystead.toml").write_text(re.search(r"```toml\n(.*?)```", section, re.S).group(1))
    app = make_app()  # the fixture's instance folder holds the documented keystead.toml
    settings = app.extensions["keystead.settings"]
    assert settings.providers == ["password", "ldap"] and settings["LDAP.NestedGroups"] is True
    assert settings["LDAP.ServerURI"] == ["ldaps://dc1.example.com", "ldaps://dc2.example.com"]
    assert app.test_client().get(f"{API}/providers").get_json()["ldap"] == {"available": True, "active": True}


def test_web_sudo_asks_for_the_directory_password(make_app, slapd):
    client = make_app(slapd.settings(**{"Password.WebSudoMode": True})).test_client()
    assert post_form(client, "/login", {"username": "alice", "password": slapd.passwords["alice"]}).status_code == 303
    page = client.get("/sudo?next=/profile").get_data(as_text=True)
    assert 'name="password"' in page and "no password here" not in page
    wrong = post_form(client, "/sudo?next=/profile", {"password": "not-alices-password"})
    assert wrong.status_code == 401 and "The password is not correct." in wrong.get_data(as_text=True)
    right = post_form(client, "/sudo?next=/profile", {"password": slapd.passwords["alice"]})
    assert right.status_code == 303 and right.headers["Location"].endswith("/profile")


@pytest.mark.browser
def test_browser_login_through_chromium(make_live_server, browser, slapd):
    server = make_live_server(slapd.settings(**{"LDAP.ServerURI": slapd.tls_uri, "LDAP.StartTLS": True,
                                                "LDAP.CAFile": slapd.ca_file}))
    page = browser.new_page()
    page.goto(server("/login"))
    page.fill("input[name=username]", "carol")
    page.fill("input[name=password]", "not-carols-password")
    page.click("button[type=submit]")
    assert "Invalid username or password." in page.content()
    page.fill("input[name=username]", "carol")
    page.fill("input[name=password]", slapd.passwords["carol"])
    page.click("button[type=submit]")
    page.wait_for_url(server("/profile"))
    assert "carol" in page.content() and "Carol" in page.content()


def test_a_directory_identity_linked_to_a_local_person_logs_in_as_them(ldap_app, ldap_client, slapd):
    from api_support import in_db, users_of
    from keystead.identities import identities_of, link_identity
    ada, _ = users_of(ldap_app).create("ada")
    subject = in_db(ldap_app, lambda: ldap_app.extensions["keystead.ldap"].authenticate(
        "alice", slapd.passwords["alice"]).subject)
    in_db(ldap_app, lambda: link_identity(ada, "ldap", subject))
    person = me(ldap_client, login(ldap_client, "alice", slapd.passwords["alice"]))
    assert person["id"] == ada.id and person["username"] == "ada"
    assert person["groups"] == ["Engineers"]  # synced onto the linked person
    assert in_db(ldap_app, lambda: identities_of(ada)) == [("ldap", subject)]


def test_a_deleted_directory_person_comes_back_as_a_new_person(ldap_app, ldap_client, slapd):
    from api_support import in_db
    from keystead.accounts import delete_user
    from keystead.models import User
    first = me(ldap_client, login(ldap_client, "bob", slapd.passwords["bob"]))
    in_db(ldap_app, lambda: delete_user(User.get_by_id(first["id"])))
    again = me(ldap_client, login(ldap_client, "bob", slapd.passwords["bob"]))
    assert again["id"] != first["id"] and again["username"] == "bob"


def test_a_directory_that_does_not_answer_gives_503_after_the_operation_timeout(make_app, slapd, caplog):
    with socket.socket() as silent:  # accepts connections (the kernel's backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        client = make_app(slapd.settings(**{"LDAP.ServerURI": f"ldap://127.0.0.1:{silent.getsockname()[1]}",
                                            "LDAP.OperationTimeout": "1s"})).test_client()
        with caplog.at_level(logging.WARNING, logger="keystead"):
            assert_error(login(client, "alice", slapd.passwords["alice"]), 503, "provider_unavailable")
    assert "LDAP directory unavailable" in caplog.text
