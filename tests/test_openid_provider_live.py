"""Issue 15: the OpenID Provider against a live Keystead served by gunicorn: the whole
flow with plain HTTP requests, and the whole flow with panva's `openid-client` on Node.js
(a certified relying-party library nobody here wrote): discovery, code flow with PKCE, ID
token validation (signature checked against the JWKS), UserInfo, refresh and logout."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import KeySet

from conftest import STRONG_PASSWORD, csrf_from
from oidc_provider_support import make_oidc_app, pkce, query_of
from servers import gunicorn_servers  # noqa: F401  (the fixture)

HERE = Path(__file__).resolve().parent
CALLBACK = "http://127.0.0.1:9/callback"  # never contacted: the test reads the redirect
OPENID_CLIENT = "openid-client@6"
NODE_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "keystead-tests" / "openid-client-6"


@pytest.fixture
def live(gunicorn_servers, tmp_path, database_url):  # noqa: F811
    """A gunicorn Keystead, a person "olga" and a confidential app "Grafana" on it."""
    from api_support import users_of
    from keystead import create_app
    server = gunicorn_servers.start(tmp_path / "instance", {"Server.DatabaseURL": database_url,
                                                            "Server.RateLimits": False})
    setup = create_app({"Server.DatabaseURL": database_url, "Server.PublicURL": server.url,
                        "Password.BcryptRounds": 4}, instance_path=str(tmp_path / "instance"))
    users_of(setup).create("olga", first_name="Olga", last_name="Tokarczuk")
    _, client_id, secret = make_oidc_app(setup, "Grafana", redirect_uris=[CALLBACK], launch_url="")
    yield server, client_id, secret
    db = setup.extensions["keystead.db"]
    if hasattr(db, "close_all"):
        db.close_all()


def browser_signs_in(server, authorization_url: str, session: requests.Session) -> str:
    """What a browser does: follow the authorization URL to the login page, log in (with
    the page's CSRF token), come back, and stop at the app's redirect URI (returned)."""
    r = session.get(authorization_url, allow_redirects=False, timeout=30)
    assert r.status_code == 302, r.text[:500]
    login_url = requests.compat.urljoin(server.url, r.headers["Location"])
    assert "/login?next=" in login_url
    page = session.get(login_url, timeout=30)
    r = session.post(login_url, data={"csrf_token": csrf_from(page.text), "username": "olga",
                                      "password": STRONG_PASSWORD}, allow_redirects=False, timeout=30)
    assert r.status_code == 303, r.text[:500]
    r = session.get(requests.compat.urljoin(server.url, r.headers["Location"]), allow_redirects=False, timeout=30)
    assert r.status_code == 302 and r.headers["Location"].startswith(CALLBACK), (r.status_code, r.text[:500])
    return r.headers["Location"]


def test_whole_flow_against_gunicorn_with_plain_requests(live):
    server, client_id, secret = live
    config = requests.get(server.url + "/.well-known/openid-configuration", timeout=30).json()
    assert config["issuer"] == server.url
    verifier, challenge = pkce()
    session = requests.Session()
    url = requests.Request("GET", config["authorization_endpoint"], params={
        "response_type": "code", "client_id": client_id, "redirect_uri": CALLBACK, "state": "s1",
        "scope": "openid profile email groups offline_access", "nonce": "n1",
        "code_challenge": challenge, "code_challenge_method": "S256"}).prepare().url
    callback = query_of(browser_signs_in(server, url, session))
    assert callback["state"] == "s1"
    r = requests.post(config["token_endpoint"], auth=(client_id, secret), timeout=30, data={
        "grant_type": "authorization_code", "code": callback["code"], "redirect_uri": CALLBACK,
        "code_verifier": verifier})
    assert r.status_code == 200, r.text
    tokens = r.json()
    keys = KeySet.import_key_set(requests.get(config["jwks_uri"], timeout=30).json())
    claims = jwt.decode(tokens["id_token"], keys, algorithms=["RS256"]).claims
    assert claims["iss"] == server.url and claims["aud"] == client_id and claims["nonce"] == "n1"
    assert claims["preferred_username"] == "olga"
    info = requests.get(config["userinfo_endpoint"], headers={"Authorization": f"Bearer {tokens['access_token']}"},
                        timeout=30).json()
    assert info["sub"] == claims["sub"] and info["email"] == "olga@example.com"
    # Any worker answers for the same keys and tokens: refresh, reuse refused.
    r = requests.post(config["token_endpoint"], auth=(client_id, secret), timeout=30,
                      data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert r.status_code == 200
    r = requests.post(config["token_endpoint"], auth=(client_id, secret), timeout=30,
                      data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def openid_client_dir() -> Path:
    """A folder with openid-client installed by npm (made once, then reused)."""
    if not shutil.which("node") or not shutil.which("npm"):
        pytest.skip("Node.js and npm are not installed: the openid-client test needs them")
    if not (NODE_CACHE / "node_modules" / "openid-client" / "package.json").exists():
        NODE_CACHE.mkdir(parents=True, exist_ok=True)
        r = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(NODE_CACHE), OPENID_CLIENT],
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, f"npm install {OPENID_CLIENT} failed:\n{r.stdout}\n{r.stderr}"
    return NODE_CACHE


def test_openid_client_on_node_completes_the_whole_flow(live):
    """The "done when" test: openid-client does discovery, builds the authorization URL
    with PKCE, exchanges the code, validates the ID token (claims and signature), reads
    UserInfo, refreshes, and builds the logout URL, which Keystead honours."""
    folder = openid_client_dir()
    server, client_id, secret = live
    env = {**os.environ, "OPENID_CLIENT_DIR": str(folder), "ISSUER": server.url, "CLIENT_ID": client_id,
           "CLIENT_SECRET": secret, "REDIRECT_URI": CALLBACK}
    node = subprocess.Popen(["node", str(HERE / "openid_client_flow.mjs")], env=env, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = node.stdout.readline()
        assert line, f"openid-client said nothing:\n{node.stderr.read()}"
        authorization_url = json.loads(line)["authorization_url"]
        assert "code_challenge_method=S256" in authorization_url
        session = requests.Session()
        callback = browser_signs_in(server, authorization_url, session)
        node.stdin.write(json.dumps({"callback_url": callback}) + "\n")
        node.stdin.flush()
        out, err = node.communicate(timeout=60)
    finally:
        if node.poll() is None:
            node.kill()
            node.wait(timeout=10)
    assert node.returncode == 0, f"openid-client failed:\n{err}"
    result = json.loads(out.strip().splitlines()[-1])
    assert result["claims"]["iss"] == server.url and result["claims"]["aud"] == client_id
    assert result["claims"]["preferred_username"] == "olga"
    assert result["userinfo"]["sub"] == result["claims"]["sub"]
    assert result["userinfo"]["name"] == "Olga Tokarczuk" and result["userinfo"]["groups"] == []
    assert result["refreshed_claims"]["sub"] == result["claims"]["sub"] and result["new_refresh_token"]
    assert result["refreshed_userinfo"]["email"] == "olga@example.com"
    # RP-initiated logout with the URL openid-client built: back to the app, session over.
    r = session.get(result["end_session_url"], allow_redirects=False, timeout=30)
    assert r.status_code == 302 and r.headers["Location"] == CALLBACK + "?state=bye"
    assert session.get(server.url + "/profile", allow_redirects=False, timeout=30).status_code == 302


def test_authlib_client_completes_the_flow(live):
    """Authlib's own OAuth 2 client (requests) with PKCE: code exchange, ID token, UserInfo
    and a refresh."""
    from authlib.integrations.requests_client import OAuth2Session
    from authlib.common.security import generate_token
    server, client_id, secret = live
    config = requests.get(server.url + "/.well-known/openid-configuration", timeout=30).json()
    rp = OAuth2Session(client_id, secret, scope="openid profile email offline_access", redirect_uri=CALLBACK,
                       code_challenge_method="S256", token_endpoint_auth_method="client_secret_basic")
    verifier = generate_token(48)
    url, state = rp.create_authorization_url(config["authorization_endpoint"], code_verifier=verifier, nonce="n2")
    callback = browser_signs_in(server, url, requests.Session())
    token = rp.fetch_token(config["token_endpoint"], authorization_response=callback, code_verifier=verifier)
    keys = KeySet.import_key_set(requests.get(config["jwks_uri"], timeout=30).json())
    claims = jwt.decode(token["id_token"], keys, algorithms=["RS256"]).claims
    assert claims["nonce"] == "n2" and claims["aud"] == client_id
    assert rp.get(config["userinfo_endpoint"]).json()["preferred_username"] == "olga"
    refreshed = rp.refresh_token(config["token_endpoint"])
    assert refreshed["access_token"] != token["access_token"]
    assert rp.get(config["userinfo_endpoint"]).json()["sub"] == claims["sub"]
