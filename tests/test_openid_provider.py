"""Issue 15: Keystead as an OpenID Provider, through the Flask test client: discovery,
JWKS, the code flow with PKCE, ID tokens verified against the JWKS, UserInfo, refresh
rotation with reuse detection, revocation, introspection, consent, logout, and each
refusal the specifications ask for."""
from __future__ import annotations

import time

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from conftest import csrf_from
from oidc_provider_support import (REDIRECT, authorize_path, basic, exchange, get_code, login, make_oidc_app,
                                   pkce, query_of)

ISSUER = "http://keystead.test"


@pytest.fixture
def grafana(app):
    return make_oidc_app(app)


@pytest.fixture
def person(users):
    user, _ = users.create("olga", first_name="Olga", last_name="Tokarczuk")
    return user


def verify_id_token(client, id_token: str) -> dict:
    """The claims of an ID token whose signature verifies with the published JWKS."""
    key_set = KeySet.import_key_set(client.get("/oidc/jwks").get_json())
    token = jwt.decode(id_token, key_set, algorithms=["RS256", "ES256"])
    return token.claims


def db(app):
    return app.extensions["keystead.db"].connection_context()


def test_discovery_names_every_endpoint_under_the_issuer(client):
    doc = client.get("/.well-known/openid-configuration").get_json()
    assert doc["issuer"] == ISSUER
    for name, path in [("authorization_endpoint", "/oidc/authorize"), ("token_endpoint", "/oidc/token"),
                       ("userinfo_endpoint", "/oidc/userinfo"), ("jwks_uri", "/oidc/jwks"),
                       ("revocation_endpoint", "/oidc/revoke"), ("introspection_endpoint", "/oidc/introspect"),
                       ("end_session_endpoint", "/oidc/logout")]:
        assert doc[name] == ISSUER + path
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert set(doc["scopes_supported"]) == {"openid", "profile", "email", "groups", "offline_access"}
    assert {"RS256", "ES256"} <= set(doc["id_token_signing_alg_values_supported"])


def test_jwks_publishes_an_rs256_and_an_es256_key_without_private_parts(client):
    keys = client.get("/oidc/jwks").get_json()["keys"]
    assert sorted(k["alg"] for k in keys) == ["ES256", "RS256"]
    for k in keys:
        assert "d" not in k and "p" not in k and k["kid"]


def test_signing_keys_are_stored_sealed_and_every_host_serves_the_same_jwks(make_app, tmp_path):
    first = make_app()
    jwks = first.test_client().get("/oidc/jwks").get_json()
    second = make_app()  # another host: same database and secret key
    assert second.test_client().get("/oidc/jwks").get_json() == jwks
    from keystead.openid_provider.models import SigningKey
    with first.app_context(), db(first):
        for row in SigningKey.select():
            assert row.private_sealed.startswith("v1:") and "PRIVATE KEY" not in row.private_sealed


def test_whole_code_flow_confidential_client(client, app, grafana, person):
    _, client_id, secret = grafana
    login(client, "olga")
    code = get_code(client, client_id, scope="openid profile email groups offline_access")
    r = exchange(client, client_id, secret, code)
    assert r.status_code == 200, r.get_data(as_text=True)
    tokens = r.get_json()
    assert tokens["token_type"] == "Bearer" and tokens["refresh_token"] and tokens["expires_in"] == 600
    claims = verify_id_token(client, tokens["id_token"])
    assert claims["iss"] == ISSUER and claims["aud"] == client_id and claims["nonce"] == "n0nce"
    assert claims["preferred_username"] == "olga" and claims["name"] == "Olga Tokarczuk"
    assert claims["email"] == "olga@example.com" and claims["email_verified"] is True
    assert claims["groups"] == [] and claims["exp"] > time.time()
    info = client.get("/oidc/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}).get_json()
    assert info["sub"] == claims["sub"] and info["preferred_username"] == "olga"


def test_client_secret_post_works_too(client, grafana, person):
    _, client_id, secret = grafana
    login(client, "olga")
    code = get_code(client, client_id)
    r = client.post("/oidc/token", data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                                         "client_id": client_id, "client_secret": secret})
    assert r.status_code == 200 and "id_token" in r.get_json()


def test_sub_is_stable_and_differs_between_people(client, app, grafana, users, person):
    _, client_id, secret = grafana
    login(client, "olga")
    subs = set()
    for _ in range(2):
        subs.add(verify_id_token(client, exchange(client, client_id, secret, get_code(client, client_id))
                                 .get_json()["id_token"])["sub"])
    assert len(subs) == 1
    users.create("piotr")
    other = app.test_client()
    login(other, "piotr")
    sub2 = verify_id_token(other, exchange(other, client_id, secret, get_code(other, client_id)).get_json()["id_token"])["sub"]
    assert sub2 not in subs


def test_groups_claim_lists_the_persons_groups(client, app, grafana, person):
    from keystead.models import Group, Membership
    with app.app_context(), db(app):
        g = Group.create(name="Ops", name_key="ops")
        Membership.create(user=person.id, group=g.id)
    _, client_id, secret = grafana
    login(client, "olga")
    tokens = exchange(client, client_id, secret, get_code(client, client_id)).get_json()
    assert verify_id_token(client, tokens["id_token"])["groups"] == ["Ops"]


def test_public_client_needs_pkce_and_no_secret(client, app, person):
    _, client_id, _ = make_oidc_app(app, "Cli", public=True)
    login(client, "olga")
    r = client.get(authorize_path(client_id))  # no code_challenge
    assert r.status_code == 302 and query_of(r.headers["Location"])["error"] == "invalid_request"
    verifier, challenge = pkce()
    code = get_code(client, client_id, challenge=challenge)
    r = exchange(client, client_id, None, code, verifier)
    assert r.status_code == 200 and r.get_json()["id_token"]


def test_plain_pkce_is_refused(client, app, person):
    _, client_id, _ = make_oidc_app(app, "Cli", public=True)
    login(client, "olga")
    verifier, _ = pkce()
    r = client.get(authorize_path(client_id, code_challenge=verifier + "x" * 0, code_challenge_method="plain"))
    assert query_of(r.headers["Location"])["error"] == "invalid_request"


def test_missing_or_wrong_pkce_verifier_is_refused(client, grafana, person):
    _, client_id, secret = grafana
    login(client, "olga")
    verifier, challenge = pkce()
    code = get_code(client, client_id, challenge=challenge)
    r = exchange(client, client_id, secret, code)  # no verifier
    assert r.status_code == 400 and r.get_json()["error"] == "invalid_request"
    code = get_code(client, client_id, challenge=challenge)
    r = exchange(client, client_id, secret, code, pkce()[0])  # another verifier
    assert r.status_code == 400 and r.get_json()["error"] == "invalid_grant"


def test_wrong_redirect_uri_is_shown_here_never_redirected(client, grafana, person):
    _, client_id, _ = grafana
    login(client, "olga")
    r = client.get(authorize_path(client_id, redirect_uri="https://evil.example.com/cb"))
    assert r.status_code == 400 and "Location" not in r.headers
    # Matched exactly: a longer path or another case is another URI.
    r = client.get(authorize_path(client_id, redirect_uri=REDIRECT + "/x"))
    assert r.status_code == 400 and "Location" not in r.headers


def test_token_request_with_another_redirect_uri_is_refused(client, grafana, person):
    _, client_id, secret = grafana
    login(client, "olga")
    code = get_code(client, client_id)
    r = exchange(client, client_id, secret, code, redirect_uri="https://grafana.example.com/other")
    assert r.status_code == 400 and r.get_json()["error"] == "invalid_grant"


def test_unknown_client_is_refused_on_the_page(client, person):
    login(client, "olga")
    r = client.get(authorize_path("ksc_nobody"))
    assert r.status_code == 400 and "Location" not in r.headers


def test_unknown_scope_is_refused(client, grafana, person):
    _, client_id, _ = grafana
    login(client, "olga")
    r = client.get(authorize_path(client_id, scope="openid admin"))
    assert query_of(r.headers["Location"])["error"] == "invalid_scope"


def test_wrong_client_secret_is_refused(client, grafana, person):
    _, client_id, secret = grafana
    login(client, "olga")
    code = get_code(client, client_id)
    r = exchange(client, client_id, secret + "x", code)
    assert r.status_code == 401 and r.get_json()["error"] == "invalid_client"
    # A confidential client cannot pass as a public one (no secret at all).
    r = client.post("/oidc/token", data={"grant_type": "authorization_code", "code": code,
                                         "redirect_uri": REDIRECT, "client_id": client_id})
    assert r.status_code == 401


def test_reused_code_is_refused_and_revokes_the_tokens_it_gave(client, app, grafana, person):
    _, client_id, secret = grafana
    login(client, "olga")
    code = get_code(client, client_id)
    tokens = exchange(client, client_id, secret, code).get_json()
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert client.get("/oidc/userinfo", headers=bearer).status_code == 200
    r = exchange(client, client_id, secret, code)
    assert r.status_code == 400 and r.get_json()["error"] == "invalid_grant"
    assert client.get("/oidc/userinfo", headers=bearer).status_code == 401
    from keystead.audit.models import AuditEvent
    with app.app_context(), db(app):
        e = AuditEvent.get(AuditEvent.event == "app_token_reuse")
    assert e.outcome == "failure" and "Grafana" in str(e.details)


def test_expired_code_is_refused(make_app, users):
    app = make_app({"OpenIDProvider.CodeLifetime": 1})
    users = type(users)(app)
    users.create("olga")
    _, client_id, secret = make_oidc_app(app)
    client = app.test_client()
    login(client, "olga")
    code = get_code(client, client_id)
    from keystead.openid_provider.models import AuthorizationCode
    with app.app_context(), db(app):  # as if the lifetime had passed
        AuthorizationCode.update(expires_at=int(time.time()) - 1).execute()
    r = exchange(client, client_id, secret, code)
    assert r.status_code == 400 and r.get_json()["error"] == "invalid_grant"


def test_code_of_another_client_is_refused(client, app, grafana, person):
    _, client_id, secret = grafana
    _, other_id, other_secret = make_oidc_app(app, "Gitea")
    login(client, "olga")
    code = get_code(client, client_id)
    r = exchange(client, other_id, other_secret, code)
    assert r.status_code == 400 and r.get_json()["error"] == "invalid_grant"


def test_refresh_rotates_and_a_reused_refresh_token_revokes_the_sign_in(client, grafana, person):
    _, client_id, secret = grafana
    login(client, "olga")
    first = exchange(client, client_id, secret, get_code(client, client_id, scope="openid offline_access")).get_json()
    r = client.post("/oidc/token", data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
                    headers=basic(client_id, secret))
    assert r.status_code == 200, r.get_data(as_text=True)
    second = r.get_json()
    assert second["refresh_token"] != first["refresh_token"]
    assert verify_id_token(client, second["id_token"])["sub"]
    # The first access token ended with its refresh token.
    assert client.get("/oidc/userinfo", headers={"Authorization": f"Bearer {first['access_token']}"}).status_code == 401
    # Presenting the spent refresh token again: refused, and the new tokens end too.
    r = client.post("/oidc/token", data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
                    headers=basic(client_id, secret))
    assert r.status_code == 400 and r.get_json()["error"] == "invalid_grant"
    assert client.get("/oidc/userinfo", headers={"Authorization": f"Bearer {second['access_token']}"}).status_code == 401
    r = client.post("/oidc/token", data={"grant_type": "refresh_token", "refresh_token": second["refresh_token"]},
                    headers=basic(client_id, secret))
    assert r.status_code == 400


def test_no_refresh_token_without_offline_access(client, grafana, person):
    _, client_id, secret = grafana
    login(client, "olga")
    tokens = exchange(client, client_id, secret, get_code(client, client_id)).get_json()
    assert "refresh_token" not in tokens


def test_prompt_none_without_a_session_answers_login_required(client, grafana):
    _, client_id, _ = grafana
    r = client.get(authorize_path(client_id, prompt="none"))
    q = query_of(r.headers["Location"])
    assert r.headers["Location"].startswith(REDIRECT) and q["error"] == "login_required" and q["state"] == "st4te"


def test_without_a_session_the_authorization_endpoint_sends_to_login_and_back(client, grafana, person):
    _, client_id, secret = grafana
    path = authorize_path(client_id)
    r = client.get(path)
    assert r.status_code == 302 and "/login?next=" in r.headers["Location"]
    r = login(client, "olga", next_path=path)
    assert r.status_code == 303 and r.headers["Location"].startswith("/oidc/authorize?")
    r = client.get(r.headers["Location"])
    code = query_of(r.headers["Location"])["code"]
    assert exchange(client, client_id, secret, code).status_code == 200


def test_prompt_login_asks_to_log_in_again(client, grafana, person):
    _, client_id, _ = grafana
    login(client, "olga")
    r = client.get(authorize_path(client_id, prompt="login"))
    assert r.status_code == 302 and "/login?next=" in r.headers["Location"]
    assert "prompt" not in r.headers["Location"].split("next=", 1)[1].replace("%3F", "?")
    assert client.get("/profile").status_code == 302  # the old session ended


def test_max_age_older_than_the_login_asks_to_log_in_again(client, grafana, person):
    _, client_id, _ = grafana
    login(client, "olga")
    with client.session_transaction() as s:
        s["login_at"] = int(time.time()) - 120
    r = client.get(authorize_path(client_id, max_age="0"))
    assert "/login?next=" in r.headers["Location"]
    # After the new login, back without max_age (the login just made answers it): a code.
    r = login(client, "olga", next_path=query_of(r.headers["Location"])["next"])
    assert "max_age" not in r.headers["Location"]
    assert "code" in query_of(client.get(r.headers["Location"]).headers["Location"])


def test_id_token_hint_of_someone_else_with_prompt_none_is_login_required(client, app, grafana, users, person):
    _, client_id, secret = grafana
    login(client, "olga")
    olga_id_token = exchange(client, client_id, secret, get_code(client, client_id)).get_json()["id_token"]
    assert get_code(client, client_id, id_token_hint=olga_id_token, prompt="none")
    users.create("piotr")
    other = app.test_client()
    login(other, "piotr")
    r = other.get(authorize_path(client_id, id_token_hint=olga_id_token, prompt="none"))
    assert query_of(r.headers["Location"])["error"] == "login_required"


def test_person_outside_the_apps_groups_gets_a_refusal_page_and_an_audit_event(client, app, users, person):
    _, client_id, _ = make_oidc_app(app, "Finance", groups=["Accounts"])
    login(client, "olga")
    r = client.get(authorize_path(client_id))
    assert r.status_code == 403 and "You cannot use Finance" in r.get_data(as_text=True)
    assert "olga" in r.get_data(as_text=True)
    from keystead.audit.models import AuditEvent
    with app.app_context(), db(app):
        events = [(e.event, e.outcome) for e in AuditEvent.select()]
    assert ("app_refused", "failure") in events


def test_person_listed_or_in_a_listed_group_may_use_the_app(client, app, users, person):
    from keystead.models import Group, Membership
    _, client_id, secret = make_oidc_app(app, "Finance", groups=["Accounts"])
    with app.app_context(), db(app):
        Membership.create(user=person.id, group=Group.get(Group.name_key == "accounts").id)
    login(client, "olga")
    assert exchange(client, client_id, secret, get_code(client, client_id)).status_code == 200
    users.create("piotr")
    _, cid2, _ = make_oidc_app(app, "Wiki", people=["piotr"])
    other = app.test_client()
    login(other, "piotr")
    assert get_code(other, cid2)
    r = client.get(authorize_path(cid2))
    assert r.status_code == 403


def test_sign_in_to_an_app_is_audited_with_its_name(client, app, grafana, person):
    _, client_id, _ = grafana
    login(client, "olga")
    get_code(client, client_id)
    from keystead.audit.models import AuditEvent
    with app.app_context(), db(app):
        e = AuditEvent.select().where(AuditEvent.event == "app_sign_in").get()
    assert "Grafana" in str(e.details)


def test_consent_is_asked_once_remembered_and_revocable_on_the_profile(client, app, person):
    _, client_id, secret = make_oidc_app(app, "Nextcloud", consent=True)
    login(client, "olga")
    path = authorize_path(client_id)
    r = client.get(path)
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "Allow Nextcloud?" in page and "your email address" in page
    # Browsers apply form-action to the redirect that answers the form: the app's origin is allowed.
    assert "form-action 'self' https://grafana.example.com;" in r.headers["Content-Security-Policy"]
    assert "Connected apps" in client.get("/profile").get_data(as_text=True)
    # Without the form's token nothing is granted.
    r = client.post(path, data={"allow": "Allow"})
    assert r.status_code == 400 and "Location" not in r.headers
    r = client.post(path, data={"csrf_token": csrf_from(page), "allow": "Allow"})
    code = query_of(r.headers["Location"])["code"]
    tokens = exchange(client, client_id, secret, code).get_json()
    # Remembered: no page the second time.
    assert get_code(client, client_id)
    # prompt=consent asks again; prompt=none is answered without a page now.
    assert client.get(authorize_path(client_id, prompt="consent")).status_code == 200
    profile = client.get("/profile/connected-apps").get_data(as_text=True)
    assert "Nextcloud" in profile
    from keystead.apps.models import App
    with app.app_context(), db(app):
        app_id = App.get(App.client_id == client_id).id
    r = client.post(f"/profile/connected-apps/{app_id}/revoke", data={"csrf_token": csrf_from(profile)})
    assert r.status_code == 303
    assert "Nextcloud" not in client.get("/profile/connected-apps").get_data(as_text=True)
    assert client.get("/oidc/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}).status_code == 401
    r = client.get(authorize_path(client_id, prompt="none"))
    assert query_of(r.headers["Location"])["error"] == "consent_required"


def test_denying_consent_sends_access_denied(client, app, person):
    _, client_id, _ = make_oidc_app(app, "Nextcloud", consent=True)
    login(client, "olga")
    path = authorize_path(client_id)
    page = client.get(path).get_data(as_text=True)
    r = client.post(path, data={"csrf_token": csrf_from(page), "deny": "Deny"})
    assert query_of(r.headers["Location"])["error"] == "access_denied"


@pytest.mark.parametrize("how", ["lock", "password_reset", "delete_person", "delete_app", "delete_app_row"])
def test_tokens_end_when_the_person_is_locked_reset_or_deleted_or_the_app_deleted(client, app, grafana, person, how):
    from keystead import accounts
    from keystead.apps.models import App
    from keystead.models import User
    _, client_id, secret = grafana
    login(client, "olga")
    tokens = exchange(client, client_id, secret, get_code(client, client_id, scope="openid offline_access")).get_json()
    with app.app_context(), db(app):
        target = User.get(User.username == "olga")
        if how == "lock":
            accounts.set_locked(target, True)
        elif how == "password_reset":
            accounts.set_password(target, "another-horse-battery-staple-43", event="password_reset")
        elif how == "delete_person":
            accounts.delete_user(target)
        elif how == "delete_app":
            App.get(App.client_id == client_id).delete_instance(recursive=True)
        else:  # a plain DELETE: the database's ON DELETE CASCADE takes the tokens with it
            App.delete().where(App.client_id == client_id).execute()
    assert client.get("/oidc/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}).status_code == 401
    r = client.post("/oidc/token", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
                    headers=basic(client_id, secret))
    assert r.status_code in (400, 401)


def test_revocation_of_a_refresh_token_ends_the_sign_in(client, grafana, person):
    _, client_id, secret = grafana
    login(client, "olga")
    tokens = exchange(client, client_id, secret, get_code(client, client_id, scope="openid offline_access")).get_json()
    r = client.post("/oidc/revoke", data={"token": tokens["refresh_token"]}, headers=basic(client_id, secret))
    assert r.status_code == 200
    assert client.get("/oidc/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}).status_code == 401


def test_revocation_needs_the_tokens_own_client(client, app, grafana, person):
    _, client_id, secret = grafana
    _, other_id, other_secret = make_oidc_app(app, "Gitea")
    login(client, "olga")
    tokens = exchange(client, client_id, secret, get_code(client, client_id)).get_json()
    r = client.post("/oidc/revoke", data={"token": tokens["access_token"]}, headers=basic(other_id, other_secret))
    assert r.status_code == 400
    assert client.get("/oidc/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}).status_code == 200
    r = client.post("/oidc/revoke", data={"token": tokens["access_token"]}, headers=basic(client_id, secret + "x"))
    assert r.status_code == 401


def test_introspection_for_confidential_clients_only(client, app, grafana, person):
    _, client_id, secret = grafana
    _, public_id, _ = make_oidc_app(app, "Cli", public=True)
    login(client, "olga")
    tokens = exchange(client, client_id, secret, get_code(client, client_id)).get_json()
    r = client.post("/oidc/introspect", data={"token": tokens["access_token"]}, headers=basic(client_id, secret))
    body = r.get_json()
    assert r.status_code == 200 and body["active"] is True and body["username"] == "olga"
    assert body["client_id"] == client_id
    r = client.post("/oidc/introspect", data={"token": tokens["access_token"], "client_id": public_id})
    assert r.status_code == 401
    r = client.post("/oidc/introspect", data={"token": "nonsense"}, headers=basic(client_id, secret))
    assert r.get_json() == {"active": False}


def test_userinfo_refuses_a_missing_or_made_up_token(client):
    r = client.get("/oidc/userinfo")
    assert r.status_code == 401 and "invalid_token" in r.headers["WWW-Authenticate"]
    assert client.get("/oidc/userinfo", headers={"Authorization": "Bearer made-up"}).status_code == 401


def test_rp_initiated_logout_with_id_token_hint_ends_the_session_and_returns(client, grafana, person):
    _, client_id, secret = grafana
    login(client, "olga")
    id_token = exchange(client, client_id, secret, get_code(client, client_id)).get_json()["id_token"]
    r = client.get("/oidc/logout?" + __import__("urllib.parse").parse.urlencode(
        {"id_token_hint": id_token, "post_logout_redirect_uri": REDIRECT, "state": "bye"}))
    assert r.status_code == 302 and r.headers["Location"] == REDIRECT + "?state=bye"
    assert client.get("/profile").status_code == 302


def test_rp_initiated_logout_without_a_hint_asks_first(client, grafana, person):
    login(client, "olga")
    r = client.get("/oidc/logout")
    assert r.status_code == 200 and "Log out?" in r.get_data(as_text=True)
    assert client.get("/profile").status_code == 200  # a bare link logs nobody out
    r = client.post("/oidc/logout", data={"csrf_token": csrf_from(r.get_data(as_text=True)), "confirm": "Log out"})
    assert r.status_code == 303
    assert client.get("/profile").status_code == 302


def test_key_rotation_keeps_the_old_key_for_verification(client, app, runner, grafana, person):
    _, client_id, secret = grafana
    login(client, "olga")
    old = exchange(client, client_id, secret, get_code(client, client_id)).get_json()["id_token"]
    old_kid = jwt.decode(old, KeySet.import_key_set(client.get("/oidc/jwks").get_json())).header["kid"]
    r = runner.invoke(args=["keys", "rotate"])
    assert r.exit_code == 0 and "New RS256 signing key" in r.output
    kids = [k["kid"] for k in client.get("/oidc/jwks").get_json()["keys"]]
    assert len(kids) == 4 and old_kid in kids
    verify_id_token(client, old)  # still verifies
    new = exchange(client, client_id, secret, get_code(client, client_id)).get_json()["id_token"]
    new_kid = jwt.decode(new, KeySet.import_key_set(client.get("/oidc/jwks").get_json())).header["kid"]
    assert new_kid != old_kid
    listing = runner.invoke(args=["keys", "list"]).output
    assert "retired" in listing and "current" in listing and old_kid in listing
    # Once the ID tokens it signed have expired, the old key leaves the JWKS.
    from keystead.openid_provider.models import SigningKey
    with app.app_context(), db(app):
        SigningKey.update(retired_at=int(time.time()) - 7200).where(SigningKey.retired_at.is_null(False)).execute()
    assert old_kid not in [k["kid"] for k in client.get("/oidc/jwks").get_json()["keys"]]


def test_es256_signing_when_configured(make_app, users):
    app = make_app({"OpenIDProvider.SigningAlgorithm": "ES256"})
    type(users)(app).create("olga")
    _, client_id, secret = make_oidc_app(app)
    client = app.test_client()
    login(client, "olga")
    id_token = exchange(client, client_id, secret, get_code(client, client_id)).get_json()["id_token"]
    claims = verify_id_token(client, id_token)
    assert claims["sub"]
    assert jwt.decode(id_token, KeySet.import_key_set(client.get("/oidc/jwks").get_json())).header["alg"] == "ES256"


def test_profile_scope_sends_custom_fields_everyone_may_see_and_no_others(make_app, users):
    app = make_app({"Profile.Fields": [
        {"name": "team", "label": "Team", "type": "text", "visible_to": "everyone"},
        {"name": "salary", "label": "Salary", "type": "text", "visible_to": "admin"}]})
    person = type(users)(app).create("olga")[0]
    from keystead.models import User
    with app.app_context(), db(app):
        User.update(fields={"team": "Ops", "salary": "a lot"}).where(User.id == person.id).execute()
    _, client_id, secret = make_oidc_app(app)
    client = app.test_client()
    login(client, "olga")
    claims = verify_id_token(client, exchange(client, client_id, secret, get_code(client, client_id)).get_json()["id_token"])
    assert claims["team"] == "Ops" and "salary" not in claims


def test_a_person_locked_mid_session_is_sent_to_login_and_gets_no_code(client, app, grafana, person):
    from keystead import accounts
    from keystead.models import User
    _, client_id, _ = grafana
    login(client, "olga")
    assert get_code(client, client_id)
    with app.app_context(), db(app):
        accounts.set_locked(User.get(User.username == "olga"), True)
    r = client.get(authorize_path(client_id))
    assert r.status_code == 302 and "/login?next=" in r.headers["Location"]
    r = client.get(authorize_path(client_id, prompt="none"))
    assert query_of(r.headers["Location"])["error"] == "login_required"
