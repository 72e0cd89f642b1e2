"""Helpers for the OpenID Provider tests: an app with a client made through the models
(the apps API lands separately), PKCE pairs, and the code flow through a test client."""
from __future__ import annotations

import base64
import hashlib
import json
import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

from conftest import STRONG_PASSWORD, csrf_from

REDIRECT = "https://grafana.example.com/login/generic_oauth"


def make_oidc_app(flask_app, name="Grafana", *, public=False, consent=False, redirect_uris=(REDIRECT,),
                  groups=(), people=(), launch_url=""):
    """(App, client_id, client_secret or None), made directly through the models."""
    from keystead.apps.credentials import new_client_credentials
    from keystead.apps.models import App, AppAccess
    from keystead.models import Group, User
    with flask_app.app_context():
        with flask_app.extensions["keystead.db"].connection_context():
            client_id, secret, secret_hash = new_client_credentials(public)
            app = App.create(name=name, name_key=name.casefold(), client_id=client_id,
                             client_secret_hash=secret_hash, redirect_uris=json.dumps(list(redirect_uris)),
                             public=public, consent=consent, launch_url=launch_url)
            for g in groups:
                group = Group.get_or_none(Group.name_key == g.casefold()) or Group.create(name=g, name_key=g.casefold())
                AppAccess.create(app=app.id, group=group.id)
            for username in people:
                AppAccess.create(app=app.id, user=User.get(User.username_key == username.casefold()).id)
    return app, client_id, secret


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize_path(client_id, *, redirect_uri=REDIRECT, scope="openid profile email groups", state="st4te",
                   nonce="n0nce", challenge=None, **extra) -> str:
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri, "scope": scope,
              "state": state, "nonce": nonce}
    if challenge:
        params.update(code_challenge=challenge, code_challenge_method="S256")
    params.update({k: v for k, v in extra.items() if v is not None})
    return "/oidc/authorize?" + urlencode(params)


def query_of(location: str) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def login(client, username, password=STRONG_PASSWORD, next_path=None):
    path = "/login" + ("?" + urlencode({"next": next_path}) if next_path else "")
    html = client.get(path).get_data(as_text=True)
    return client.post(path, data={"csrf_token": csrf_from(html), "username": username, "password": password})


def basic(client_id, secret) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def get_code(client, client_id, **kw) -> str:
    r = client.get(authorize_path(client_id, **kw))
    assert r.status_code == 302, (r.status_code, r.get_data(as_text=True)[:2000])
    q = query_of(r.headers["Location"])
    assert "code" in q, r.headers["Location"]
    return q["code"]


def exchange(client, client_id, secret, code, verifier=None, redirect_uri=REDIRECT, **extra):
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri, **extra}
    if verifier:
        form["code_verifier"] = verifier
    headers = basic(client_id, secret) if secret else {}
    if not secret:
        form["client_id"] = client_id
    return client.post("/oidc/token", data=form, headers=headers)
