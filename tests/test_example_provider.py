"""The example third-party provider (examples/keystead-header-provider) installed with pip
the way an operator installs one: once installed it is listed, made active by
configuration alone, and logs people in, with no change to the core.

How it is installed: tests/header_provider_support.py. It trusts the user-name header only
with the proxy's shared secret or from a listed proxy address (never by default: see
tests/test_trust_header_provider.py); these tests give it a secret, as an operator would.
"""
from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest

from keystead.config import ConfigError
from keystead.models import Group, Membership, User
from header_provider_support import SECRET_HEADER, installed, new_secret  # noqa: F401  (fixture)


@pytest.fixture
def proxy(monkeypatch) -> dict:
    """A shared secret set for the provider; returns the header the proxy adds."""
    secret = new_secret()
    monkeypatch.setenv("KEYSTEAD_PLUGIN_HEADER_SECRET", secret)
    return {SECRET_HEADER: secret}


def header_user(username: str):
    return User.get_or_none(User.username == username)


def test_once_installed_it_is_listed_with_its_distribution(installed, make_app):
    app = make_app()
    assert app.test_client().get("/api/v1/providers").json["header"] == {"available": True, "active": False}
    pm = app.extensions["keystead"]
    dists = {pm.get_name(plugin): dist.project_name for plugin, dist in pm.list_plugin_distinfo()}
    assert dists["header"] == "keystead-header-provider"
    import keystead_header_provider
    assert keystead_header_provider.__file__.startswith(installed)  # the installed copy, not the source


def test_the_keystead_providers_command_lists_it(installed, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYSTEAD_")}
    env.update(PYTHONPATH=installed, KEYSTEAD_INSTANCE=str(tmp_path / "instance"),
               KEYSTEAD_PASSWORD_BCRYPTROUNDS="4", KEYSTEAD_AUTHENTICATION_PROVIDER='["password", "header"]')
    keystead = os.path.join(os.path.dirname(sys.executable), "keystead")
    result = subprocess.run([keystead, "providers"], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "header       active         Log in with single sign-on" in result.stdout
    assert "header: keystead_blueprints, keystead_provider_info, keystead_startup" in result.stdout


def test_made_active_by_configuration_alone_it_logs_people_in(installed, make_app, proxy):
    app = make_app({"Authentication.Provider": ["password", "header"]})
    client = app.test_client()
    assert client.get("/api/v1/providers").json["header"] == {"available": True, "active": True}
    page = client.get("/login").get_data(as_text=True)
    assert 'href="/auth/header/login"' in page and "Log in with single sign-on" in page
    r = client.get("/auth/header/login?next=/documents", headers={"X-Forwarded-User": "ada.lovelace", **proxy})
    assert r.status_code == 302 and r.headers["Location"] == "/documents"
    profile = client.get("/profile")
    assert profile.status_code == 200 and "ada.lovelace" in profile.get_data(as_text=True)
    with app.app_context():
        user = header_user("ada.lovelace")
        assert user.provider == "header" and user.password_hash is None
    # the same person again: the same local user
    again = app.test_client()
    assert again.get("/auth/header/login", headers={"X-Forwarded-User": "ada.lovelace", **proxy}).status_code == 302
    with app.app_context():
        assert User.select().where(User.provider == "header").count() == 1


def test_its_own_settings_come_from_the_environment(installed, make_app, monkeypatch, caplog):
    monkeypatch.setenv("KEYSTEAD_PLUGIN_HEADER_NAME", "Remote-User")
    monkeypatch.setenv("KEYSTEAD_PLUGIN_HEADER_EMAIL", "Remote-Email")
    monkeypatch.setenv("KEYSTEAD_PLUGIN_HEADER_GROUPS", "Remote-Groups")
    monkeypatch.setenv("KEYSTEAD_PLUGIN_HEADER_TRUSTED_PROXIES", "10.1.2.0/24")
    monkeypatch.setenv("KEYSTEAD_PLUGIN_HEADER_TITLE", "Corporate sign-on")
    with caplog.at_level(logging.WARNING, logger="keystead"):
        app = make_app({"Authentication.Provider": "header"})
    unknown = [r.getMessage() for r in caplog.records if "no such setting" in r.getMessage()]
    assert not [m for m in unknown if "KEYSTEAD_PLUGIN" in m]
    # Trusting addresses without a secret is allowed, with a warning of what it needs.
    assert any("no KEYSTEAD_PLUGIN_HEADER_SECRET" in r.getMessage() and "must remove Remote-User" in r.getMessage()
               for r in caplog.records)
    proxy = {"REMOTE_ADDR": "10.1.2.3"}
    headers = {"Remote-User": "Alan Turing", "Remote-Email": "alan@example.com", "Remote-Groups": "Bletchley, Maths"}
    client = app.test_client()
    assert "Corporate sign-on" in client.get("/login").get_data(as_text=True)
    r = client.get("/auth/header/login", headers=headers, environ_base=proxy)
    assert r.status_code == 302
    with app.app_context():
        user = header_user("Alan_Turing")  # made a valid username
        assert user.email == "alan@example.com"
        assert {g.name for g in Group.select().join(Membership).where(Membership.user == user)} == {"Bletchley", "Maths"}
    # the default header and the default proxy address are no longer trusted
    other = app.test_client()
    assert other.get("/auth/header/login", headers=headers).status_code == 403
    assert other.get("/auth/header/login", headers={"X-Forwarded-User": "x"}, environ_base=proxy).status_code == 401
    assert other.get("/profile").status_code == 302  # nobody signed in


def test_a_request_not_from_a_trusted_proxy_is_refused_even_when_forwarded(installed, make_app, caplog,
                                                                            monkeypatch):
    # Keystead itself trusts one proxy's X-Forwarded-For: a client that claims to come from
    # 127.0.0.1 must still be judged by the address it really connects from.
    monkeypatch.setenv("KEYSTEAD_PLUGIN_HEADER_TRUSTED_PROXIES", "127.0.0.1, ::1")
    app = make_app({"Authentication.Provider": ["password", "header"], "Server.TrustedProxies": 1})
    client = app.test_client()
    with caplog.at_level(logging.WARNING, logger="keystead"):
        r = client.get("/auth/header/login", headers={"X-Forwarded-User": "admin", "X-Forwarded-For": "127.0.0.1"},
                       environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert r.status_code == 403 and "Traceback" not in r.get_data(as_text=True)
    assert any("203.0.113.9" in rec.getMessage() and "not a trusted proxy" in rec.getMessage()
               for rec in caplog.records)
    assert client.get("/profile").status_code == 302
    with app.app_context():
        assert not User.select().where(User.provider == "header").exists()


@pytest.mark.parametrize("value", [None, "", "   ", "a" * 256, "eve\x01admin", "eve\x7f"])
def test_a_missing_or_unusable_header_is_refused(installed, make_app, proxy, value):
    app = make_app({"Authentication.Provider": ["password", "header"]})
    client = app.test_client()
    headers = dict(proxy) if value is None else {"X-Forwarded-User": value, **proxy}
    r = client.get("/auth/header/login", headers=headers)
    assert r.status_code == 401
    assert client.get("/profile").status_code == 302


def test_installed_but_not_active_it_answers_404(installed, make_app):
    app = make_app()
    r = app.test_client().get("/auth/header/login", headers={"X-Forwarded-User": "ada"})
    assert r.status_code == 404
    assert 'href="/auth/header/login"' not in app.test_client().get("/login").get_data(as_text=True)


def test_a_wrong_trusted_proxy_setting_refuses_startup(installed, make_app, monkeypatch):
    monkeypatch.setenv("KEYSTEAD_PLUGIN_HEADER_TRUSTED_PROXIES", "10.0.0.1, proxy.example.com")
    with pytest.raises(ConfigError) as e:
        make_app({"Authentication.Provider": ["password", "header"]})
    assert "KEYSTEAD_PLUGIN_HEADER_TRUSTED_PROXIES" in str(e.value) and "proxy.example.com" in str(e.value)


def test_its_people_cannot_change_a_password_here(installed, make_app, proxy):
    app = make_app({"Authentication.Provider": ["password", "header"]})
    client = app.test_client()
    assert client.get("/auth/header/login", headers={"X-Forwarded-User": "ada", **proxy}).status_code == 302
    from keystead.tokens import issue_token_pair
    with app.test_request_context():
        tokens = issue_token_pair(header_user("ada"))
    r = client.post("/api/v1/users/me/password", json={"current_password": "", "new_password": "a-long-passphrase-9"},
                    headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert r.status_code == 409 and r.json["error"]["code"] == "password_managed_elsewhere"
