"""Issue 16: the SAML 2.0 provider end to end, against pysaml2's own identity provider
(saml2.server.Server, tests/saml_idp.py) served on loopback with its own keys: metadata,
a signed AuthnRequest, the signed response posted to the ACS, attributes and groups mapped,
Keystead's login rules, single logout, and every forged, replayed, expired or misdirected
response refused without a session. The forged responses are real signed ones from the
identity provider, tampered with afterwards (stripped, re-signed with another key, wrapped)."""
from __future__ import annotations

import base64
import datetime
import html
import logging
import os
import re
import shutil
import stat
import sys
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from conftest import TEST_SETTINGS
from keystead.config import ConfigError
from keystead.models import ExternalIdentity, Group, Membership, User
from saml_idp import SAMLIdentityProvider

ACS = "http://keystead.test/auth/saml/acs"


@pytest.fixture(scope="module")
def idp_server():
    server = SAMLIdentityProvider().start()
    yield server
    server.stop()


@pytest.fixture
def idp(idp_server):
    """The module's identity provider, with its default behaviour and people."""
    fresh = SAMLIdentityProvider.__new__(SAMLIdentityProvider)  # only for the defaults below
    del fresh
    idp_server.sign_response, idp_server.sign_assertion, idp_server.encrypt_assertion = False, True, False
    idp_server.people["grace"]["attributes"] = {"uid": ["grace"], "mail": ["grace@example.com"],
                                                "givenName": ["Grace"], "sn": ["Hopper"],
                                                "groups": ["Engineers", "Navy"]}
    idp_server.logout_requests.clear()
    return idp_server


@pytest.fixture(scope="module")
def sp_keys(tmp_path_factory):
    """One generated service provider key pair for the module's apps (generating a 3072-bit
    key per test would be most of the suite's time); test_the_service_provider_keys_are_
    generated_once... covers the generation itself."""
    from keystead.saml.keys import generate_keypair
    folder = tmp_path_factory.mktemp("sp-keys")
    generate_keypair(str(folder / "saml-sp.crt"), str(folder / "saml-sp.key"), "keystead.test")
    return folder


@pytest.fixture
def make_saml_app(make_app, idp, sp_keys, tmp_path):
    def make(**settings):
        instance = tmp_path / "instance"
        instance.mkdir(exist_ok=True)
        for name in ("saml-sp.crt", "saml-sp.key"):
            shutil.copy(sp_keys / name, instance / name)
        app = make_app(idp.settings(**settings))
        idp.trust(app.test_client().get("/auth/saml/metadata").get_data(as_text=True))
        return app
    return make


@pytest.fixture
def saml_app(make_saml_app):
    return make_saml_app(**{"SAML.Title": "Log in with Example SSO"})


@pytest.fixture
def saml_client(saml_app):
    return saml_app.test_client()


# ---------------------------------------------------------------- helpers

def start(client, next_path: str | None = None) -> str:
    """Begin a sign-in at Keystead: the identity provider's URL the browser is sent to."""
    r = client.get("/auth/saml/login" + (f"?next={next_path}" if next_path else ""))
    assert r.status_code == 302, r.get_data(as_text=True)
    return r.headers["Location"]


def log_in_at_idp(location: str, username: str = "grace", password: str = "grace-password-1906") -> dict:
    """What the identity provider's auto-posting page would post to the ACS."""
    query = parse_qs(urlsplit(location).query)
    page = requests.get(location, timeout=10)
    assert page.status_code == 200, page.text
    base = f"{urlsplit(location).scheme}://{urlsplit(location).netloc}"
    answer = requests.post(f"{base}/sso/login", timeout=10, data={
        "SAMLRequest": query["SAMLRequest"][0], "RelayState": query.get("RelayState", [""])[0],
        "username": username, "password": password})
    assert answer.status_code == 200, answer.text
    assert f'action="{ACS}"' in answer.text
    fields = dict(re.findall(r'name="(SAMLResponse|RelayState)" value="([^"]*)"', answer.text))
    return {name: html.unescape(value) for name, value in fields.items()}


def sign_in(client, next_path: str | None = None, **idp_kw):
    form = log_in_at_idp(start(client, next_path), **idp_kw)
    return client.post("/auth/saml/acs", data=form)


def signed_in_as(client) -> str | None:
    r = client.get("/profile")
    if r.status_code != 200:
        return None
    with client.session_transaction() as s:
        user_id = s.get("_user_id")
    return User.get_by_id(int(user_id.split(":")[0])).username if user_id else None


def groups_of(user) -> set[str]:
    return {g.name for g in Group.select().join(Membership).where(Membership.user == user)}


def assert_refused(response, caplog, reason: str, client, status: int = 400):
    page = response.get_data(as_text=True)
    assert response.status_code == status, page[:500]
    assert "Sign-in failed" in page and "Traceback" not in page
    logged = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert any(reason in m for m in logged), logged
    assert signed_in_as(client) is None
    assert User.select().where(User.provider == "saml").count() == 0


def encoded(xml: str) -> str:
    return base64.b64encode(xml.encode()).decode()


def decoded(form: dict) -> str:
    return base64.b64decode(form["SAMLResponse"]).decode()


def resign(xml: str, key_file: str, cert_file: str, edit=None) -> str:
    """The response `xml`, edited by `edit(response)` (pysaml2 objects), its signatures
    removed and its assertion signed again with `key_file` (as pysaml2's IdP signs)."""
    from saml2 import class_name, samlp
    from saml2.config import Config
    from saml2.sigver import pre_signature_part, security_context
    config = Config()
    config.load({"xmlsec_binary": "/usr/bin/xmlsec1", "key_file": key_file, "cert_file": cert_file})
    security = security_context(config)
    response = samlp.response_from_string(xml)
    response.signature = None
    if edit:
        edit(response)
    assertion = response.assertion[0]
    assertion.signature = pre_signature_part(assertion.id, security.my_cert, 1)
    return security.sign_statement(str(response), class_name(assertion), node_id=assertion.id)


def in_seconds(seconds: int) -> str:
    moment = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------- configuration

def test_listed_as_not_available_until_configured(client):
    assert client.get("/api/v1/providers").json["saml"] == {"available": False, "active": False}


def test_naming_it_without_metadata_refuses_startup_in_one_line(make_app):
    with pytest.raises(ConfigError) as e:
        make_app({"Authentication.Provider": ["password", "saml"]})
    message = str(e.value)
    assert "\n" not in message and "Authentication.Provider" in message
    assert "SAML.IdPMetadataURL or SAML.IdPMetadataFile" in message
    assert "http://keystead.test/auth/saml/metadata" in message


def test_without_pysaml2_it_is_not_available_and_says_how_to_install_it(make_app, monkeypatch, idp):
    monkeypatch.setitem(sys.modules, "saml2", None)  # as if pysaml2 were not installed
    with pytest.raises(ConfigError) as e:
        make_app(idp.settings())
    assert "pip install 'keystead[saml]'" in str(e.value)
    assert make_app().test_client().get("/api/v1/providers").json["saml"]["available"] is False


@pytest.mark.parametrize("settings, expected", [
    ({"SAML.IdPMetadataURL": "http://idp.example.com/metadata"}, "must be an https:// URL"),
    ({"SAML.IdPMetadataURL": "https://idp.example.com/m", "SAML.IdPMetadataFile": "idp.xml"}, "not both"),
    ({"SAML.IdPMetadataFile": "missing.xml"}, "cannot read it"),
    ({"SAML.IdPMetadataFile": "not-metadata.xml"}, "describes 0 identity providers"),
    ({"SAML.IdPMetadataURL": "http://127.0.0.1:9/m", "SAML.CertFile": "sp.crt"}, "set both SAML.CertFile and SAML.KeyFile"),
    ({"SAML.IdPMetadataURL": "http://127.0.0.1:9/m", "SAML.CertFile": "sp.crt", "SAML.KeyFile": "sp.key"},
     "cannot read the certificate"),
    ({"SAML.ClockSkew": "soon"}, "SAML.ClockSkew"),
    ({"SAML.WantAssertionsSigned": "yes"}, "SAML.WantAssertionsSigned"),
], ids=["http-elsewhere", "both", "missing-file", "bad-file", "half-pair", "unreadable-pair", "skew", "boolean"])
def test_bad_settings_refuse_startup_with_one_line(make_app, tmp_path, settings, expected):
    instance = tmp_path / "instance"
    instance.mkdir(exist_ok=True)
    (instance / "not-metadata.xml").write_text("<html>no</html>")
    with pytest.raises(ConfigError) as e:
        make_app({"Authentication.Provider": ["password", "saml"], **settings})
    assert expected in str(e.value) and "\n" not in str(e.value)


def test_a_metadata_file_is_read_at_startup_and_works(make_app, idp, tmp_path):
    path = tmp_path / "idp-metadata.xml"
    path.write_text(idp.metadata())
    app = make_app({"Authentication.Provider": ["password", "saml"], "SAML.IdPMetadataFile": str(path)})
    idp.trust(app.test_client().get("/auth/saml/metadata").get_data(as_text=True))
    client = app.test_client()
    assert sign_in(client).status_code == 303 and signed_in_as(client) == "grace"


def test_the_service_provider_keys_are_generated_once_with_a_private_key_file_0600(make_app, idp, tmp_path):
    app = make_app(idp.settings())
    key, cert = tmp_path / "instance" / "saml-sp.key", tmp_path / "instance" / "saml-sp.crt"
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    before = cert.read_text()
    metadata = app.test_client().get("/auth/saml/metadata")
    assert metadata.status_code == 200 and metadata.mimetype == "application/samlmetadata+xml"
    body = metadata.get_data(as_text=True)
    assert 'entityID="http://keystead.test/auth/saml/metadata"' in body
    assert f'Location="{ACS}"' in body and "HTTP-POST" in body
    assert 'Location="http://keystead.test/auth/saml/sls"' in body
    assert "".join(before.strip().splitlines()[1:-1]) in body.replace("\n", "")
    assert "PRIVATE" not in body
    make_app(idp.settings())  # started again: the same pair
    assert cert.read_text() == before


def test_configured_key_files_and_entity_id_are_used(make_app, idp, tmp_path):
    from keystead.saml.keys import generate_keypair
    generate_keypair(str(tmp_path / "sp.crt"), str(tmp_path / "sp.key"), "sp.example.com")
    app = make_app(idp.settings(**{"SAML.CertFile": str(tmp_path / "sp.crt"), "SAML.KeyFile": str(tmp_path / "sp.key"),
                                   "SAML.EntityID": "urn:example:keystead"}))
    body = app.test_client().get("/auth/saml/metadata").get_data(as_text=True)
    assert 'entityID="urn:example:keystead"' in body
    assert "".join(open(tmp_path / "sp.crt").read().strip().splitlines()[1:-1]) in body.replace("\n", "")
    assert not os.path.exists(os.path.join(app.extensions["keystead.settings"].instance_path, "saml-sp.key"))


def test_routes_answer_404_when_not_active(client):
    for path in ("/auth/saml/login", "/auth/saml/metadata", "/auth/saml/sls?SAMLRequest=x"):
        assert client.get(path).status_code == 404
    assert client.post("/auth/saml/acs", data={"SAMLResponse": "x"}).status_code == 404


def test_the_login_page_offers_a_button_with_the_configured_title(saml_client):
    page = saml_client.get("/login").get_data(as_text=True)
    assert 'href="/auth/saml/login"' in page and "Log in with Example SSO" in page
    assert 'name="password"' in page
    assert saml_client.get("/api/v1/providers").json["saml"] == {"available": True, "active": True}


# ---------------------------------------------------------------- success

def test_the_authn_request_is_signed_and_carries_next_in_relay_state(saml_client, idp):
    location = start(saml_client, "/documents")
    query = parse_qs(urlsplit(location).query)
    assert location.startswith(f"{idp.base}/sso/redirect?")
    assert query["RelayState"] == ["/documents"]
    assert query["SigAlg"] == ["http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"] and query["Signature"][0]


def test_an_unsafe_next_is_not_carried(saml_client):
    query = parse_qs(urlsplit(start(saml_client, "https://evil.example/")).query)
    assert query["RelayState"] == ["/profile"]


def test_sign_in_creates_the_person_with_mapped_attributes_and_groups(saml_client, saml_app):
    r = sign_in(saml_client, "/documents")
    assert r.status_code == 303 and r.headers["Location"] == "/documents"
    assert signed_in_as(saml_client) == "grace"
    with saml_app.app_context():
        user = User.get(User.username == "grace")
        assert (user.email, user.first_name, user.last_name) == ("grace@example.com", "Grace", "Hopper")
        assert user.provider == "saml" and user.password_hash is None
        assert groups_of(user) == {"Engineers", "Navy"}
        link = ExternalIdentity.get(ExternalIdentity.user == user)
        assert (link.provider, link.subject) == ("saml", "id-grace-7f3a")


def test_later_logins_update_the_person_and_sync_provider_groups(saml_app, idp):
    assert sign_in(saml_app.test_client()).status_code == 303
    from keystead.groups import add_member, create_group
    with saml_app.test_request_context():
        user = User.get(User.username == "grace")
        add_member(create_group("Local club"), user)  # by hand: never taken away by the provider
    idp.people["grace"]["attributes"].update(sn=["Hopper-Murray"], groups=["Engineers", "Admirals"])
    client = saml_app.test_client()
    assert sign_in(client).status_code == 303
    with saml_app.app_context():
        again = User.get(User.username == "grace")
        assert again.id == user.id and again.last_name == "Hopper-Murray"
        assert groups_of(again) == {"Engineers", "Admirals", "Local club"}


def test_attribute_names_come_from_the_settings(make_saml_app, idp):
    idp.people["grace"]["attributes"].update(displayName=["admiral.grace"], memberOf=["Fleet"])
    app = make_saml_app(**{"SAML.UsernameAttribute": "displayName", "SAML.GroupsAttribute": "memberOf"})
    client = app.test_client()
    assert sign_in(client).status_code == 303
    assert signed_in_as(client) == "admiral.grace"
    with app.app_context():
        assert groups_of(User.get(User.username == "admiral.grace")) == {"Fleet"}


def test_a_locked_person_is_refused(saml_app):
    sign_in(saml_app.test_client())
    from keystead.accounts import set_locked
    with saml_app.test_request_context():
        set_locked(User.get(User.username == "grace"), True)
    client = saml_app.test_client()
    r = sign_in(client)
    assert r.status_code == 423 and "locked" in r.get_data(as_text=True)
    assert signed_in_as(client) is None


def test_a_person_with_two_factor_is_asked_for_the_code(saml_app):
    from totp_support import assert_code_asked_after_outside_login
    assert_code_asked_after_outside_login(saml_app, sign_in, signed_in_as, "grace")


def test_logins_and_refusals_are_audited(saml_app, idp):
    from keystead.audit.models import AuditEvent
    sign_in(saml_app.test_client())
    client = saml_app.test_client()
    form = log_in_at_idp(start(client))
    client.post("/auth/saml/acs", data={**form, "SAMLResponse": encoded(decoded(form).replace(ACS, ACS + "x"))})
    with saml_app.app_context():
        login = AuditEvent.get(AuditEvent.event == "login")
        failed = AuditEvent.get(AuditEvent.event == "login_failed")
    assert "saml" in login.details and "destination" in failed.details


# ---------------------------------------------------------------- the cross-site POST

def test_a_post_without_the_session_cookie_is_posted_again_from_keystead(saml_app):
    """The identity provider's page is another site: a browser keeps the Lax session cookie
    back, so the ACS answers with a page that posts the same response from Keystead."""
    client = saml_app.test_client()
    form = log_in_at_idp(start(client))
    cookieless = saml_app.test_client()
    page = cookieless.post("/auth/saml/acs", data=form)
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and 'action="/auth/saml/acs"' in body and 'name="continued" value="1"' in body
    assert "saml-continue.js" in body and "<script>" not in body
    again = dict(re.findall(r'name="(SAMLResponse|RelayState|continued)" value="([^"]*)"', body))
    r = client.post("/auth/saml/acs", data={k: html.unescape(v) for k, v in again.items()})
    assert r.status_code == 303 and signed_in_as(client) == "grace"


def test_a_continued_post_without_a_sign_in_in_progress_is_refused(saml_app, caplog):
    form = log_in_at_idp(start(saml_app.test_client()))
    other = saml_app.test_client()
    with caplog.at_level(logging.WARNING, logger="keystead"):
        r = other.post("/auth/saml/acs", data={**form, "continued": "1"})
    assert_refused(r, caplog, "no sign-in was in progress", other)


def test_the_acs_needs_no_form_token_but_other_posts_still_do(saml_app):
    client = saml_app.test_client()
    assert client.post("/logout").status_code == 400  # the CSRF check is still there


# ---------------------------------------------------------------- refusals

def test_an_unsigned_response_and_assertion_is_refused(saml_client, caplog):
    form = log_in_at_idp(start(saml_client))
    from saml2 import samlp
    response = samlp.response_from_string(decoded(form))
    response.signature = None
    response.assertion[0].signature = None
    with caplog.at_level(logging.WARNING, logger="keystead"):
        r = saml_client.post("/auth/saml/acs", data={**form, "SAMLResponse": encoded(str(response))})
    assert_refused(r, caplog, "Signature missing", saml_client)


def test_a_signed_response_around_an_unsigned_assertion_is_refused_when_assertions_must_be_signed(saml_client, idp,
                                                                                                    caplog):
    idp.sign_response, idp.sign_assertion = True, False
    with caplog.at_level(logging.WARNING, logger="keystead"):
        r = sign_in(saml_client)
    assert_refused(r, caplog, "Signature missing for assertion", saml_client)


def test_a_signed_response_is_enough_when_assertions_need_not_be_signed(make_saml_app, idp):
    idp.sign_response, idp.sign_assertion = True, False
    client = make_saml_app(**{"SAML.WantAssertionsSigned": False}).test_client()
    assert sign_in(client).status_code == 303 and signed_in_as(client) == "grace"


def test_an_assertion_signed_with_another_key_is_refused(saml_client, caplog, tmp_path):
    from keystead.saml.keys import generate_keypair
    generate_keypair(str(tmp_path / "evil.crt"), str(tmp_path / "evil.key"), "evil")
    form = log_in_at_idp(start(saml_client))

    def become_admin(response):
        response.assertion[0].subject.name_id.text = "id-admin"
    forged = resign(decoded(form), str(tmp_path / "evil.key"), str(tmp_path / "evil.crt"), become_admin)
    with caplog.at_level(logging.WARNING, logger="keystead"):
        r = saml_client.post("/auth/saml/acs", data={**form, "SAMLResponse": encoded(forged)})
    assert_refused(r, caplog, "pysaml2 refused the response: SignatureError", saml_client)


def test_the_resign_helper_makes_responses_keystead_accepts_with_the_right_key(saml_client, idp):
    """The tampering tests below re-sign with the identity provider's own key: this proves
    such a response is accepted when nothing is wrong with it, so each refusal is the
    tampered field's."""
    form = log_in_at_idp(start(saml_client))
    again = resign(decoded(form), idp.key_file, idp.cert_file)
    r = saml_client.post("/auth/saml/acs", data={**form, "SAMLResponse": encoded(again)})
    assert r.status_code == 303 and signed_in_as(saml_client) == "grace"


def test_an_assertion_for_another_audience_is_refused(saml_client, idp, caplog):
    form = log_in_at_idp(start(saml_client))

    def other_audience(response):
        response.assertion[0].conditions.audience_restriction[0].audience[0].text = "https://other-sp.example"
    forged = resign(decoded(form), idp.key_file, idp.cert_file, other_audience)
    with caplog.at_level(logging.WARNING, logger="keystead"):
        r = saml_client.post("/auth/saml/acs", data={**form, "SAMLResponse": encoded(forged)})
    assert_refused(r, caplog, "AudienceRestrictions", saml_client)


def test_a_response_for_another_destination_is_refused(saml_client, idp, caplog):
    form = log_in_at_idp(start(saml_client))

    def elsewhere(response):
        response.destination = "https://other-sp.example/acs"
    forged = resign(decoded(form), idp.key_file, idp.cert_file, elsewhere)
    with caplog.at_level(logging.WARNING, logger="keystead"):
        r = saml_client.post("/auth/saml/acs", data={**form, "SAMLResponse": encoded(forged)})
    assert_refused(r, caplog, "is addressed to 'https://other-sp.example/acs'", saml_client)


def test_an_assertion_for_another_recipient_is_refused(saml_client, idp, caplog):
    form = log_in_at_idp(start(saml_client))

    def elsewhere(response):
        response.assertion[0].subject.subject_confirmation[0].subject_confirmation_data.recipient = \
            "https://other-sp.example/acs"
    forged = resign(decoded(form), idp.key_file, idp.cert_file, elsewhere)
    with caplog.at_level(logging.WARNING, logger="keystead"):
        r = saml_client.post("/auth/saml/acs", data={**form, "SAMLResponse": encoded(forged)})
    assert_refused(r, caplog, "is for the recipient 'https://other-sp.example/acs'", saml_client)


def test_an_expired_assertion_is_refused(saml_client, idp, caplog):
    form = log_in_at_idp(start(saml_client))

    def expired(response):
        assertion = response.assertion[0]
        assertion.conditions.not_before = in_seconds(-600)
        assertion.conditions.not_on_or_after = in_seconds(-120)  # beyond the 60s ClockSkew
        assertion.subject.subject_confirmation[0].subject_confirmation_data.not_on_or_after = in_seconds(-120)
    forged = resign(decoded(form), idp.key_file, idp.cert_file, expired)
    with caplog.at_level(logging.WARNING, logger="keystead"):
        r = saml_client.post("/auth/saml/acs", data={**form, "SAMLResponse": encoded(forged)})
    assert_refused(r, caplog, "pysaml2 refused the response: ResponseLifetimeExceed", saml_client)


def test_an_assertion_just_expired_within_the_clock_skew_is_accepted(saml_client, idp):
    form = log_in_at_idp(start(saml_client))

    def just_expired(response):
        assertion = response.assertion[0]
        assertion.conditions.not_before = in_seconds(-600)
        assertion.conditions.not_on_or_after = in_seconds(-20)
        assertion.subject.subject_confirmation[0].subject_confirmation_data.not_on_or_after = in_seconds(-20)
    forged = resign(decoded(form), idp.key_file, idp.cert_file, just_expired)
    r = saml_client.post("/auth/saml/acs", data={**form, "SAMLResponse": encoded(forged)})
    assert r.status_code == 303 and signed_in_as(saml_client) == "grace"


def test_a_replayed_assertion_is_refused(saml_app, caplog):
    client = saml_app.test_client()
    form = log_in_at_idp(start(client))
    assert client.post("/auth/saml/acs", data=form).status_code == 303
    with client.session_transaction() as s:
        s.clear()  # signed out
    start(client)  # a new sign-in is in progress; the captured response is posted instead
    with caplog.at_level(logging.WARNING, logger="keystead"):
        r = client.post("/auth/saml/acs", data=form)
    assert r.status_code == 400 and signed_in_as(client) is None
    assert any("already used" in rec.getMessage() for rec in caplog.records)


def test_a_replay_is_refused_by_another_host_sharing_the_database(saml_app, idp, caplog):
    from keystead.saml.models import SamlSeenAssertion
    client = saml_app.test_client()
    form = log_in_at_idp(start(client))
    assert client.post("/auth/saml/acs", data=form).status_code == 303
    with saml_app.app_context():
        assert SamlSeenAssertion.select().count() == 1  # in the database, not in the process
    sp = saml_app.extensions["keystead.saml"]
    sp._client = None  # as a second host would: nothing cached in memory
    with client.session_transaction() as s:
        s.clear()
    start(client)
    with caplog.at_level(logging.WARNING, logger="keystead"):
        r = client.post("/auth/saml/acs", data=form)
    assert r.status_code == 400 and any("already used" in rec.getMessage() for rec in caplog.records)


def test_an_unsolicited_response_is_refused(saml_app, idp, caplog):
    """A real response to a sign-in started in another browser (an attacker's own) posted
    into this browser, which started its own sign-in: its InResponseTo is not this one's."""
    attacker = saml_app.test_client()
    form = log_in_at_idp(start(attacker))
    victim = saml_app.test_client()
    start(victim)
    with caplog.at_level(logging.WARNING, logger="keystead"):
        r = victim.post("/auth/saml/acs", data=form)
    assert_refused(r, caplog, "not the one this browser sent", victim)


def test_a_response_without_in_response_to_is_refused(saml_client, idp, caplog):
    form = log_in_at_idp(start(saml_client))

    def unsolicited(response):
        response.in_response_to = None
        response.assertion[0].subject.subject_confirmation[0].subject_confirmation_data.in_response_to = None
    forged = resign(decoded(form), idp.key_file, idp.cert_file, unsolicited)
    with caplog.at_level(logging.WARNING, logger="keystead"):
        r = saml_client.post("/auth/saml/acs", data={**form, "SAMLResponse": encoded(forged)})
    assert_refused(r, caplog, "not the one this browser sent", saml_client)


def test_xml_signature_wrapping_with_an_injected_unsigned_assertion_is_refused(saml_client, idp, caplog):
    """The signed assertion stays as it was; a copy naming someone else, without a
    signature, is put in front of it."""
    import copy
    from saml2 import samlp
    form = log_in_at_idp(start(saml_client))
    response = samlp.response_from_string(decoded(form))
    evil = copy.deepcopy(response.assertion[0])
    evil.signature = None
    evil.id = "_evil" + evil.id
    evil.subject.name_id.text = "id-admin"
    response.assertion.insert(0, evil)
    with caplog.at_level(logging.WARNING, logger="keystead"):
        r = saml_client.post("/auth/saml/acs", data={**form, "SAMLResponse": encoded(str(response))})
    assert_refused(r, caplog, "holds 2 assertions", saml_client)


def test_xml_signature_wrapping_inside_the_signature_is_refused(saml_client, idp, caplog):
    """The signed assertion is moved into the Object of its own signature, which an
    unsigned forged assertion now carries: the signature still verifies, over the hidden one."""
    form = log_in_at_idp(start(saml_client))
    xml = decoded(form)
    original = re.search(r"<(ns\d+:)?Assertion .*</(ns\d+:)?Assertion>", xml, re.S).group(0)
    signature = re.search(r"<(ns\d+:)?Signature[ >].*</(ns\d+:)?Signature>", original, re.S).group(0)
    prefix = re.match(r"<((?:\w+:)?)Signature", signature).group(1)
    wrapped_signature = signature.replace(f"</{prefix}Signature>", f"<{prefix}Object>{original}</{prefix}Object></{prefix}Signature>")
    forged = original.replace(signature, wrapped_signature).replace("id-grace-7f3a", "id-admin")
    forged = re.sub(r'ID="([^"]+)"', r'ID="_evil\1"', forged, count=1)
    with caplog.at_level(logging.WARNING, logger="keystead"):
        r = saml_client.post("/auth/saml/acs", data={**form, "SAMLResponse": encoded(xml.replace(original, forged))})
    assert_refused(r, caplog, "holds 2 assertions", saml_client)


def test_a_plain_assertion_is_refused_when_assertions_must_be_encrypted(make_saml_app, caplog):
    client = make_saml_app(**{"SAML.WantAssertionsEncrypted": True}).test_client()
    with caplog.at_level(logging.WARNING, logger="keystead"):
        r = sign_in(client)
    assert_refused(r, caplog, "not encrypted", client)


def test_an_encrypted_assertion_is_decrypted_and_accepted(make_saml_app, idp):
    client = make_saml_app(**{"SAML.WantAssertionsEncrypted": True}).test_client()
    idp.encrypt_assertion = True
    r = sign_in(client)
    assert "EncryptedAssertion" in idp.last_response
    assert r.status_code == 303 and signed_in_as(client) == "grace"


@pytest.mark.parametrize("value", ["", "not base64!", base64.b64encode(b"<a>\x00</a>").decode(),
                                   base64.b64encode(b'<!DOCTYPE x [<!ENTITY e "e">]><x>&e;</x>').decode(),
                                   "a\x00b"], ids=["empty", "not-base64", "nul", "dtd", "nul-raw"])
def test_garbage_in_the_acs_is_a_clean_refusal(saml_client, value, caplog):
    start(saml_client)
    with caplog.at_level(logging.WARNING, logger="keystead"):
        r = saml_client.post("/auth/saml/acs", data={"SAMLResponse": value})
    assert r.status_code == 400 and "Traceback" not in r.get_data(as_text=True)
    assert signed_in_as(saml_client) is None


# ---------------------------------------------------------------- single logout

def test_logging_out_here_logs_out_at_the_identity_provider(saml_client, idp):
    from conftest import csrf_from
    sign_in(saml_client)
    token = csrf_from(saml_client.get("/profile").get_data(as_text=True))
    r = saml_client.post("/logout", data={"csrf_token": token})
    assert r.status_code == 303 and r.headers["Location"].startswith(f"{idp.base}/slo/redirect?SAMLRequest=")
    assert signed_in_as(saml_client) is None
    answer = requests.get(r.headers["Location"], allow_redirects=False, timeout=10)
    assert answer.status_code == 302 and idp.logout_requests[-1].name_id.text == "id-grace-7f3a"
    back = urlsplit(answer.headers["Location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == "http://keystead.test/auth/saml/sls"
    done = saml_client.get(f"{back.path}?{back.query}")
    assert done.status_code == 303 and done.headers["Location"] == "/login"


def test_a_logout_response_nobody_asked_for_is_refused(saml_client, idp):
    from conftest import csrf_from
    sign_in(saml_client)
    token = csrf_from(saml_client.get("/profile").get_data(as_text=True))
    location = saml_client.post("/logout", data={"csrf_token": token}).headers["Location"]
    back = urlsplit(requests.get(location, allow_redirects=False, timeout=10).headers["Location"])
    other = saml_client.application.test_client()
    assert other.get(f"{back.path}?{back.query}").status_code == 400


# ---------------------------------------------------------------- docs, linking

def test_the_configuration_example_in_the_docs_loads_as_printed(make_app, tmp_path):
    docs = (os.path.dirname(__file__) + "/../docs/providers.md")
    text = open(docs).read()
    section = text[text.index("### SAML 2.0 (`saml`)"):]
    example = re.search(r"```toml\n(.*?)```", section, re.S).group(1)
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "keystead.toml").write_text(example)
    app = make_app()
    settings = app.extensions["keystead.settings"]
    assert settings.providers == ["password", "saml"]
    assert settings["SAML.IdPMetadataURL"] == "https://idp.example.com/saml/metadata"
    assert settings["SAML.Title"] == "Log in with Example SSO" and settings["SAML.ClockSkew"] == 60
    assert app.test_client().get("/auth/saml/metadata").status_code == 200


def test_a_saml_identity_linked_to_an_existing_person_signs_in_as_them(saml_app, users):
    from keystead.identities import link_identity
    users.app = saml_app
    local, _ = users.create("gracelocal", email="g.local@example.com")
    with saml_app.app_context():
        link_identity(User.get_by_id(local.id), "saml", "id-grace-7f3a")
    client = saml_app.test_client()
    assert sign_in(client).status_code == 303
    assert signed_in_as(client) == "gracelocal"
    with saml_app.app_context():
        assert User.select().where(User.provider == "saml").count() == 0  # nobody new


def test_a_logout_request_from_the_identity_provider_ends_the_session(saml_client, saml_app, idp):
    from saml2 import BINDING_HTTP_REDIRECT
    from saml2.saml import NAMEID_FORMAT_PERSISTENT, NameID
    from saml2.xmldsig import SIG_RSA_SHA256
    sign_in(saml_client)
    assert signed_in_as(saml_client) == "grace"
    server = idp.idp
    _, message = server.create_logout_request(
        "http://keystead.test/auth/saml/sls", server.config.entityid,
        name_id=NameID(format=NAMEID_FORMAT_PERSISTENT, text="id-grace-7f3a"), sign=False)
    http_args = server.apply_binding(BINDING_HTTP_REDIRECT, str(message), "http://keystead.test/auth/saml/sls",
                                     relay_state="", sign=True, sigalg=SIG_RSA_SHA256)
    location = urlsplit(dict(http_args["headers"])["Location"])
    r = saml_client.get(f"{location.path}?{location.query}")
    assert r.status_code == 302 and r.headers["Location"].startswith(f"{idp.base}/slo/redirect?SAMLResponse=")
    assert signed_in_as(saml_client) is None


def test_a_logout_request_for_someone_else_leaves_the_session(saml_client, idp):
    from saml2 import BINDING_HTTP_REDIRECT
    from saml2.saml import NAMEID_FORMAT_PERSISTENT, NameID
    from saml2.xmldsig import SIG_RSA_SHA256
    sign_in(saml_client)
    server = idp.idp
    _, message = server.create_logout_request(
        "http://keystead.test/auth/saml/sls", server.config.entityid,
        name_id=NameID(format=NAMEID_FORMAT_PERSISTENT, text="id-someone-else"), sign=False)
    http_args = server.apply_binding(BINDING_HTTP_REDIRECT, str(message), "http://keystead.test/auth/saml/sls",
                                     relay_state="", sign=True, sigalg=SIG_RSA_SHA256)
    location = urlsplit(dict(http_args["headers"])["Location"])
    assert saml_client.get(f"{location.path}?{location.query}").status_code == 400
    assert signed_in_as(saml_client) == "grace"


def test_startup_does_not_need_the_metadata_url_and_a_dead_one_gives_a_clean_page(make_app, caplog):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    app = make_app({"Authentication.Provider": ["password", "saml"],
                    "SAML.IdPMetadataURL": f"http://127.0.0.1:{port}/metadata"})
    client = app.test_client()
    assert client.get("/api/v1/providers").json["saml"] == {"available": True, "active": True}
    with caplog.at_level(logging.WARNING, logger="keystead"):
        first = client.get("/auth/saml/login")
        second = client.get("/auth/saml/login")
    assert first.status_code == second.status_code == 502
    page = first.get_data(as_text=True)
    assert "cannot be reached" in page and "Traceback" not in page and str(port) not in page
    messages = [r.getMessage() for r in caplog.records]
    assert any("cannot fetch the identity provider's metadata" in m for m in messages)
    assert any("not tried again" in m for m in messages)
