"""The OpenID Connect provider end to end, against the identity provider of
tests/oidc_idp.py on loopback: discovery, PKCE, state, nonce, ID token checks, claims from
the ID token and UserInfo, group mapping, and every refusal ending without a session."""
from __future__ import annotations

import logging
import socket
import sys
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from keystead.config import ConfigError
from keystead.models import ExternalIdentity, Group, Membership, OneTimeLink, User
from conftest import STRONG_PASSWORD, outbox_idle, wait_for
from oidc_idp import CLIENT_ID, IdentityProvider, new_key


@pytest.fixture
def idp():
    provider = IdentityProvider().start()
    yield provider
    provider.stop()


@pytest.fixture
def oidc_app(make_app, idp):
    return make_app(idp.settings(**{"OIDC.Title": "Log in with Example ID"}))


@pytest.fixture
def oidc_client(oidc_app):
    return oidc_app.test_client()


def start(client, next_path: str | None = None) -> str:
    """Begin a sign-in at Keystead and let the identity provider answer the browser: the
    callback URL (path and query) the browser would be sent back to."""
    r = client.get("/auth/oidc/login" + (f"?next={next_path}" if next_path else ""))
    assert r.status_code == 302, r.get_data(as_text=True)
    answer = requests.get(r.headers["Location"], allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    back = urlsplit(answer.headers["Location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == "http://keystead.test/auth/oidc/callback"
    return f"{back.path}?{back.query}"


def sign_in(client, next_path: str | None = None):
    return client.get(start(client, next_path))


def signed_in_as(client) -> str | None:
    """The username of the browser session, or None when nobody is signed in."""
    r = client.get("/profile")
    if r.status_code != 200:
        return None
    with client.session_transaction() as s:
        user_id = s.get("_user_id")
    return User.get_by_id(int(user_id.split(":")[0])).username if user_id else None


def groups_of(user) -> set[str]:
    return {g.name for g in Group.select().join(Membership).where(Membership.user == user)}


def assert_refused(response, status: int, caplog, reason: str, client):
    assert response.status_code == status
    page = response.get_data(as_text=True)
    assert "Sign-in failed" in page and "Traceback" not in page
    assert any(reason in r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING), \
        [r.getMessage() for r in caplog.records]
    assert signed_in_as(client) is None
    assert User.select().where(User.provider == "oidc").count() == 0


# ---------------------------------------------------------------- configuration

def test_listed_as_not_available_until_configured(client):
    body = client.get("/api/v1/providers").json
    assert body["oidc"] == {"available": False, "active": False}


def test_naming_it_without_its_settings_refuses_startup(make_app):
    with pytest.raises(ConfigError) as e:
        make_app({"Authentication.Provider": ["password", "oidc"], "OIDC.ClientId": "x"})
    message = str(e.value)
    assert "Authentication.Provider" in message
    assert "OIDC.Issuer" in message and "OIDC.ClientSecret" in message and "OIDC.ClientId," not in message
    assert "http://keystead.test/auth/oidc/callback" in message  # the redirect URI to register


def test_without_authlib_it_is_not_available_and_refuses_startup(make_app, monkeypatch, idp):
    monkeypatch.setitem(sys.modules, "authlib", None)  # as if Authlib were not installed
    with pytest.raises(ConfigError) as e:
        make_app(idp.settings())
    assert "pip install 'Authlib" in str(e.value)
    assert make_app().test_client().get("/api/v1/providers").json["oidc"]["available"] is False


def test_an_http_issuer_elsewhere_than_loopback_refuses_startup(make_app):
    with pytest.raises(ConfigError, match="https://"):
        make_app({"Authentication.Provider": "oidc", "OIDC.Issuer": "http://id.example.com",
                  "OIDC.ClientId": "a", "OIDC.ClientSecret": "b"})


def test_startup_does_not_need_the_identity_provider_and_a_dead_one_gives_a_clean_page(make_app, caplog):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    app = make_app({"Authentication.Provider": ["password", "oidc"], "OIDC.Issuer": f"http://127.0.0.1:{port}",
                    "OIDC.ClientId": CLIENT_ID, "OIDC.ClientSecret": "x"})
    client = app.test_client()
    assert client.get("/api/v1/providers").json["oidc"] == {"available": True, "active": True}
    with caplog.at_level(logging.WARNING, logger="keystead"):
        r = client.get("/auth/oidc/login")
    assert r.status_code == 502
    page = r.get_data(as_text=True)
    assert "cannot be reached" in page and "Traceback" not in page and str(port) not in page
    assert any("discovery document" in rec.getMessage() for rec in caplog.records)


def test_a_failed_discovery_is_not_retried_on_every_login(oidc_app, idp, monkeypatch, caplog):
    import keystead.providers.oidc
    idp.discovery_fails = True
    client = oidc_app.test_client()
    with caplog.at_level(logging.WARNING, logger="keystead"):
        assert client.get("/auth/oidc/login").status_code == 502
        assert client.get("/auth/oidc/login").status_code == 502
    assert idp.hits["discovery"] == 1
    assert any("HTTP 503" in r.getMessage() and "not tried again" in r.getMessage() for r in caplog.records)
    idp.discovery_fails = False
    monkeypatch.setattr(keystead.providers.oidc, "DISCOVERY_RETRY", 0)  # as if the pause had passed
    assert sign_in(client).status_code == 302 and idp.hits["discovery"] == 2


def test_routes_answer_404_when_not_active(client):
    assert client.get("/auth/oidc/login").status_code == 404
    assert client.get("/auth/oidc/callback?code=x&state=y").status_code == 404


def test_the_login_page_offers_a_button_with_the_configured_title(oidc_client, oidc_app):
    page = oidc_client.get("/login").get_data(as_text=True)
    assert 'href="/auth/oidc/login"' in page and "Log in with Example ID" in page
    assert 'name="password"' in page  # the password form stays: both providers are active
    body = oidc_client.get("/api/v1/providers").json
    assert body["oidc"] == {"available": True, "active": True}
    info = oidc_app.extensions["keystead.providers"]["oidc"]
    assert (info.supports_password, info.supports_registration, info.supports_password_change) == (False, False, False)


# ---------------------------------------------------------------- success

def test_sign_in_creates_the_person_with_mapped_claims_and_groups(oidc_client, oidc_app, idp):
    r = sign_in(oidc_client, next_path="/documents")
    assert r.status_code == 302 and r.headers["Location"] == "/documents"
    assert signed_in_as(oidc_client) == "grace.hopper"
    with oidc_app.app_context():
        user = User.get(User.username == "grace.hopper")
        # email from the ID token; names and groups only from UserInfo
        assert (user.email, user.first_name, user.last_name) == ("grace@example.com", "Grace", "Hopper")
        assert user.provider == "oidc" and user.password_hash is None and user.email_verified
        assert groups_of(user) == {"Engineers", "Navy"}
        link = ExternalIdentity.get(ExternalIdentity.user == user)
        assert (link.provider, link.subject) == ("oidc", "248289761001")
    # PKCE S256, a state and a nonce went to the identity provider, which checked the verifier
    sent = idp.authorize_requests[-1]
    assert sent["code_challenge_method"] == "S256" and len(sent["code_challenge"]) == 43
    assert sent["scope"] == "openid email profile" and sent["nonce"] and sent["state"]
    assert sent["redirect_uri"] == "http://keystead.test/auth/oidc/callback"
    assert idp.hits["token"] == 1 and idp.hits["userinfo"] == 1


def test_discovery_and_keys_are_fetched_once_and_cached(oidc_app, idp):
    for _ in range(2):
        client = oidc_app.test_client()
        assert sign_in(client).status_code == 302
    assert idp.hits["discovery"] == 1 and idp.hits["jwks"] == 1 and idp.hits["token"] == 2


def test_later_logins_update_the_person_and_sync_provider_groups(oidc_app, oidc_client, idp):
    sign_in(oidc_client)
    from keystead.groups import add_member, create_group
    with oidc_app.test_request_context():
        user = User.get(User.username == "grace.hopper")
        add_member(create_group("Local club"), user)  # by hand: never taken away by the provider
    idp.person.update(email="admiral@example.com", family_name="Hopper-Murray", groups=["Engineers", "Admirals"],
                      preferred_username="someone.else")
    client = oidc_app.test_client()
    assert sign_in(client).status_code == 302
    with oidc_app.app_context():
        again = User.get(User.username == "grace.hopper")  # the username stays as first chosen
        assert again.id == user.id and User.select().count() == 1
        assert (again.email, again.last_name) == ("admiral@example.com", "Hopper-Murray")
        assert groups_of(again) == {"Engineers", "Admirals", "Local club"}
        assert Group.select().where(Group.name == "Navy").exists()  # the group stays; the membership went


def test_an_outside_username_is_made_valid_and_unique(oidc_app, oidc_client, idp, users):
    users.create("grace")
    idp.person.update(preferred_username="grace@example.org", email="g2@example.com")
    sign_in(oidc_client)
    assert signed_in_as(oidc_client) == "grace_2"


def test_an_email_the_provider_has_not_verified_is_not_taken(oidc_app, oidc_client, idp):
    idp.person.update(email_verified=False)
    sign_in(oidc_client)
    with oidc_app.app_context():
        user = User.get(User.provider == "oidc")
        assert user.email is None and not user.email_verified


def test_an_email_already_used_here_is_not_taken_over(oidc_app, oidc_client, idp, users):
    local, _ = users.create("gracelocal", email="grace@example.com")
    sign_in(oidc_client)
    assert signed_in_as(oidc_client) == "grace.hopper"
    with oidc_app.app_context():
        assert User.get(User.username == "grace.hopper").email is None
        assert User.get_by_id(local.id).email == "grace@example.com"


def test_a_locked_person_is_refused(oidc_app, oidc_client, idp):
    sign_in(oidc_client)
    from keystead.accounts import set_locked
    with oidc_app.test_request_context():
        set_locked(User.get(User.username == "grace.hopper"), True)
    client = oidc_app.test_client()
    r = sign_in(client)
    assert r.status_code == 423 and "locked" in r.get_data(as_text=True)
    assert signed_in_as(client) is None


def test_a_person_with_two_factor_is_asked_for_the_code(oidc_app, idp):
    """The identity provider vouches for the person; the second factor they turned on here
    is still asked before a session starts (the login is recorded once it is right)."""
    from totp_support import assert_code_asked_after_outside_login
    assert_code_asked_after_outside_login(oidc_app, sign_in, signed_in_as, "grace.hopper")


# ---------------------------------------------------------------- refusals

def test_a_forged_state_is_refused(oidc_client, idp, caplog):
    callback = start(oidc_client)
    forged = callback.replace("state=", "state=forged")
    with caplog.at_level(logging.WARNING, logger="keystead"):
        r = oidc_client.get(forged)
    assert_refused(r, 400, caplog, "state does not match", oidc_client)
    assert idp.hits.get("token", 0) == 0  # the code was never even exchanged


def test_a_callback_without_a_sign_in_in_progress_is_refused(oidc_app, oidc_client, idp, caplog):
    callback = start(oidc_client)
    other_browser = oidc_app.test_client()
    with caplog.at_level(logging.WARNING, logger="keystead"):
        r = other_browser.get(callback)
    assert_refused(r, 400, caplog, "no sign-in was in progress", other_browser)


def test_a_callback_is_used_once(oidc_client, idp, caplog):
    callback = start(oidc_client)
    assert oidc_client.get(callback).status_code == 302
    with oidc_client.session_transaction() as s:
        s.clear()  # signed out: the replay below must not sign anyone in
    with caplog.at_level(logging.WARNING, logger="keystead"):
        r = oidc_client.get(callback)
    assert r.status_code == 400 and signed_in_as(oidc_client) is None


def test_a_wrong_nonce_is_refused(oidc_client, idp, caplog):
    idp.tamper = {"nonce": "not-the-nonce-keystead-sent"}
    with caplog.at_level(logging.WARNING, logger="keystead"):
        r = sign_in(oidc_client)
    assert_refused(r, 400, caplog, "nonce", oidc_client)


def test_a_missing_nonce_is_refused(oidc_client, idp, caplog):
    idp.tamper = {"nonce": None}
    with caplog.at_level(logging.WARNING, logger="keystead"):
        r = sign_in(oidc_client)
    assert_refused(r, 400, caplog, "nonce", oidc_client)


def test_an_expired_id_token_is_refused(oidc_client, idp, caplog):
    now = int(time.time())
    idp.tamper = {"iat": now - 7200, "exp": now - 3600}
    with caplog.at_level(logging.WARNING, logger="keystead"):
        r = sign_in(oidc_client)
    assert_refused(r, 400, caplog, "exp", oidc_client)


def test_a_bad_signature_is_refused(oidc_client, idp, caplog):
    idp.signing_key = new_key(kid=idp.key.kid)  # same key id, another key
    with caplog.at_level(logging.WARNING, logger="keystead"):
        r = sign_in(oidc_client)
    assert_refused(r, 400, caplog, "signature", oidc_client)


@pytest.mark.parametrize("tamper, reason", [({"aud": "another-client"}, "aud"),
                                            ({"iss": "http://evil.example"}, "iss")])
def test_an_id_token_for_another_client_or_from_another_issuer_is_refused(oidc_client, idp, caplog,
                                                                            tamper, reason):
    idp.tamper = tamper
    with caplog.at_level(logging.WARNING, logger="keystead"):
        r = sign_in(oidc_client)
    assert_refused(r, 400, caplog, reason, oidc_client)


@pytest.mark.parametrize("tamper, reason", [({"aud": [CLIENT_ID, "another-client"]}, "azp"),
                                            ({"azp": "another-client"}, "azp"),
                                            ({"at_hash": "AAAAAAAAAAAAAAAAAAAAAA"}, "at_hash")])
def test_an_id_token_issued_to_another_party_or_for_another_access_token_is_refused(oidc_client, idp, caplog,
                                                                                   tamper, reason):
    idp.tamper = tamper
    with caplog.at_level(logging.WARNING, logger="keystead"):
        r = sign_in(oidc_client)
    assert_refused(r, 400, caplog, reason, oidc_client)


def test_an_id_token_signed_with_the_client_secret_is_refused(oidc_client, idp, caplog):
    idp.sign_with_client_secret = True
    with caplog.at_level(logging.WARNING, logger="keystead"):
        r = sign_in(oidc_client)
    assert_refused(r, 400, caplog, "cannot be verified", oidc_client)


def test_a_failed_pkce_check_at_the_token_endpoint_is_refused(oidc_client, idp, caplog):
    idp.break_pkce = True
    with caplog.at_level(logging.WARNING, logger="keystead"):
        r = sign_in(oidc_client)
    assert_refused(r, 400, caplog, "PKCE", oidc_client)


def test_an_error_from_the_identity_provider_is_shown_briefly(oidc_client, idp, caplog):
    callback = start(oidc_client)
    state = parse_qs(urlsplit(callback).query)["state"][0]
    with caplog.at_level(logging.WARNING, logger="keystead"):
        r = oidc_client.get(f"/auth/oidc/callback?error=access_denied&error_description=%3Cb%3Eno%3C%2Fb%3E"
                            f"&state={state}")
    assert_refused(r, 400, caplog, "access_denied", oidc_client)
    assert "(access_denied)" in r.get_data(as_text=True) and "<b>no" not in r.get_data(as_text=True)


def test_an_identity_provider_that_goes_down_mid_sign_in_gives_502(oidc_client, idp, caplog):
    callback = start(oidc_client)
    idp.stop()
    with caplog.at_level(logging.WARNING, logger="keystead"):
        r = oidc_client.get(callback)
    assert_refused(r, 502, caplog, "token request failed", oidc_client)
    idp.server = _Stopped()  # the fixture's stop() has nothing left to do


class _Stopped:
    def shutdown(self):
        pass

    def server_close(self):
        pass


def test_refusals_are_recorded_as_failed_logins(oidc_app, oidc_client, idp):
    from keystead.audit.models import AuditEvent
    idp.tamper = {"nonce": "wrong"}
    sign_in(oidc_client)
    with oidc_app.app_context():
        failed = list(AuditEvent.select().where(AuditEvent.event == "login_failed"))
    assert len(failed) == 1 and "nonce" in failed[0].details


# ---------------------------------------------------------------- no passwords here

def test_an_oidc_person_cannot_change_a_password_through_the_api(oidc_app, oidc_client):
    sign_in(oidc_client)
    from keystead.tokens import issue_token_pair
    with oidc_app.test_request_context():
        tokens = issue_token_pair(User.get(User.provider == "oidc"))
    r = oidc_app.test_client().post("/api/v1/users/me/password",
                                    json={"current_password": "", "new_password": STRONG_PASSWORD},
                                    headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert r.status_code == 409
    assert r.json["error"]["code"] == "password_managed_elsewhere"
    assert "sign-in provider" in r.json["error"]["message"]


def test_an_oidc_person_gets_no_password_reset_mail(make_app, idp, smtp, users):
    box, mail_settings = smtp
    app = make_app(idp.settings(**mail_settings))
    sign_in(app.test_client())
    users.app = app
    users.create("localperson", email="local@example.com")
    client = app.test_client()
    assert client.post("/api/v1/auth/request-password-reset", json={"email": "grace@example.com"}).status_code == 202
    assert client.post("/api/v1/auth/request-password-reset", json={"email": "local@example.com"}).status_code == 202
    # Mail goes out in the background: once the local person's has arrived, the one asked
    # for first would have too.
    assert wait_for(lambda: box.to("local@example.com"))
    assert outbox_idle(app) and box.to("grace@example.com") == []
    with app.app_context():
        oidc_user = User.get(User.provider == "oidc")
        assert not OneTimeLink.select().where(OneTimeLink.user == oidc_user).exists()
