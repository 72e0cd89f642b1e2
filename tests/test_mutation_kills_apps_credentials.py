"""Issue 18: an app's OpenID Connect client id and secret carry their documented prefixes
and strength (a 256-bit secret), the secret is kept as the SHA-256 of "client-secret:" and
the secret (so secrets stored by an earlier release keep working), and a public client
never authenticates with a secret, whatever it sends. Written to kill the mutants mutmut
found surviving in app/apps/credentials.py (docs/testing.md)."""
from __future__ import annotations

import hashlib
import re

from api_support import in_db
from oidc_provider_support import basic, make_oidc_app

from keystead.apps.models import App

API = "/api/v1"
URL_SAFE = "[A-Za-z0-9_-]"


def test_a_client_id_is_ksc_and_24_characters_and_a_secret_kss_and_256_bits(client, admin_h):
    r = client.post(f"{API}/apps", headers=admin_h,
                    json={"name": "Grafana", "redirect_uris": ["https://grafana.example.com/cb"]})
    assert r.status_code == 201, r.get_data(as_text=True)
    body = r.get_json()
    assert re.fullmatch(f"ksc_{URL_SAFE}{{24}}", body["client_id"]), body["client_id"]
    assert re.fullmatch(f"kss_{URL_SAFE}{{43}}", body["client_secret"]), body["client_secret"]  # 32 bytes


def test_a_secret_stored_by_an_earlier_release_still_authenticates_its_client(app, client):
    """The stored form is a format: SHA-256 of "client-secret:" and the secret, in hex."""
    _, client_id, _ = make_oidc_app(app)
    secret = "kss_stored-by-an-earlier-release"

    def store():
        from keystead.apps.models import App
        stored = hashlib.sha256(("client-secret:" + secret).encode()).hexdigest()
        App.update(client_secret_hash=stored).where(App.client_id == client_id).execute()
    in_db(app, store)
    r = client.post("/oidc/introspect", data={"token": "nonsense"}, headers=basic(client_id, secret))
    assert r.status_code == 200 and r.get_json() == {"active": False}
    r = client.post("/oidc/introspect", data={"token": "nonsense"}, headers=basic(client_id, secret + "x"))
    assert r.status_code == 401


def test_a_public_client_sending_a_secret_is_refused_as_an_unknown_client(app, client):
    _, public_id, _ = make_oidc_app(app, "Cli", public=True)
    for secret in ("kss_made-up", "x"):
        r = client.post("/oidc/introspect", data={"token": "nonsense"}, headers=basic(public_id, secret))
        assert r.status_code == 401 and r.get_json()["error"] == "invalid_client", r.get_data(as_text=True)
        r = client.post("/oidc/revoke", data={"token": "nonsense"}, headers=basic(public_id, secret))
        assert r.status_code == 401 and r.get_json()["error"] == "invalid_client", r.get_data(as_text=True)


def test_a_public_client_and_an_app_without_a_client_match_no_secret(app):
    """authlib also refuses a public client's secret (its auth method is "none"); this is the
    check's own answer, which must not depend on that."""
    from keystead.apps.credentials import check_client_secret
    public, _, _ = make_oidc_app(app, "Cli", public=True)
    plain = in_db(app, lambda: App.create(name="Plain", name_key="plain"))
    confidential, _, secret = make_oidc_app(app)
    for record in (public, plain):
        for given in ("kss_made-up", "x", secret):
            assert check_client_secret(record, given) is False
    assert check_client_secret(confidential, secret) is True
    assert not check_client_secret(confidential, None) and not check_client_secret(confidential, "")
