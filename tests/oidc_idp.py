"""A small OpenID Connect identity provider for the tests, served on loopback in a thread.

It serves discovery, JWKS, authorize (approving the configured person at once and sending
the browser back with code and state), token (checking the client's credentials, the
redirect URI and the PKCE code_verifier) and userinfo, and signs ID tokens with an RSA
key through joserfc. Tests change `person`, `id_token_claims` and `tamper` to make it
misbehave the ways a real provider (or an attacker) might.
"""
from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from urllib.parse import urlencode

from flask import Flask, abort, jsonify, redirect, request
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey
from werkzeug.serving import make_server

CLIENT_ID = "keystead-test"
CLIENT_SECRET = "test-client-secret-7f3a-long-enough-for-hs256"
REDIRECT_URI = "http://keystead.test/auth/oidc/callback"


def new_key(kid: str = "test-key-1") -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"})


class IdentityProvider:
    """`person`: every claim the provider knows of the person who signs in.
    `id_token_claims`: which of those go into the ID token (the rest only via UserInfo).
    `tamper`: claims written over the next ID tokens (a wrong nonce, an old exp...).
    `signing_key`: sign with this key instead of the published one (a bad signature)."""

    def __init__(self):
        self.key = new_key()
        self.signing_key: RSAKey | None = None
        self.person = {"sub": "248289761001", "preferred_username": "grace.hopper",
                       "email": "grace@example.com", "email_verified": True, "given_name": "Grace",
                       "family_name": "Hopper", "groups": ["Engineers", "Navy"]}
        self.id_token_claims = {"email", "email_verified", "preferred_username"}
        self.tamper: dict = {}
        self.break_pkce = False
        self.sign_with_client_secret = False
        self.discovery_fails = False
        self.codes: dict[str, dict] = {}
        self.access_tokens: dict[str, dict] = {}
        self.hits: dict[str, int] = {}
        self.authorize_requests: list[dict] = []
        self._lock = threading.Lock()
        self.app = self._make_app()
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.issuer = f"http://127.0.0.1:{self.server.server_port}"
        # serve_forever checks for shutdown() every poll_interval seconds
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02},
                                        daemon=True)

    def start(self) -> "IdentityProvider":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join()

    def settings(self, **extra) -> dict:
        """Keystead settings that use this provider (and the password one)."""
        return {"Authentication.Provider": ["password", "oidc"], "OIDC.Issuer": self.issuer,
                "OIDC.ClientId": CLIENT_ID, "OIDC.ClientSecret": CLIENT_SECRET, **extra}

    # ---------------------------------------------------------------- the app

    def _count(self, name: str) -> None:
        with self._lock:
            self.hits[name] = self.hits.get(name, 0) + 1

    def _make_app(self) -> Flask:
        app = Flask("test_idp")

        @app.get("/.well-known/openid-configuration")
        def discovery():
            self._count("discovery")
            if self.discovery_fails:
                return "upstream trouble", 503
            return jsonify(issuer=self.issuer, authorization_endpoint=f"{self.issuer}/authorize",
                           token_endpoint=f"{self.issuer}/token", userinfo_endpoint=f"{self.issuer}/userinfo",
                           jwks_uri=f"{self.issuer}/jwks", response_types_supported=["code"],
                           subject_types_supported=["public"], id_token_signing_alg_values_supported=["RS256"],
                           code_challenge_methods_supported=["S256"],
                           token_endpoint_auth_methods_supported=["client_secret_basic", "client_secret_post"])

        @app.get("/jwks")
        def jwks():
            self._count("jwks")
            return jsonify(keys=[self.key.as_dict(private=False)])

        @app.get("/authorize")
        def authorize():
            self._count("authorize")
            args = request.args.to_dict()
            self.authorize_requests.append(args)
            if args.get("client_id") != CLIENT_ID or args.get("redirect_uri") != REDIRECT_URI:
                return "unknown client or redirect URI", 400
            if args.get("response_type") != "code" or "openid" not in args.get("scope", "").split():
                return "unsupported request", 400
            if args.get("code_challenge_method") != "S256" or not args.get("code_challenge"):
                return "PKCE with S256 is required", 400
            if not args.get("state") or not args.get("nonce"):
                return "state and nonce are required", 400
            code = secrets.token_urlsafe(24)
            with self._lock:
                self.codes[code] = {"challenge": args["code_challenge"], "nonce": args["nonce"],
                                    "redirect_uri": args["redirect_uri"], "person": dict(self.person)}
            return redirect(f"{REDIRECT_URI}?{urlencode({'code': code, 'state': args['state']})}", 302)

        @app.post("/token")
        def token():
            self._count("token")
            auth = request.authorization
            client_id, secret = (auth.username, auth.password) if auth else (
                request.form.get("client_id"), request.form.get("client_secret"))
            if client_id != CLIENT_ID or secret != CLIENT_SECRET:
                return jsonify(error="invalid_client"), 401
            if request.form.get("grant_type") != "authorization_code":
                return jsonify(error="unsupported_grant_type"), 400
            with self._lock:
                grant = self.codes.pop(request.form.get("code", ""), None)  # single use
            if grant is None or request.form.get("redirect_uri") != grant["redirect_uri"]:
                return jsonify(error="invalid_grant", error_description="unknown code"), 400
            verifier = request.form.get("code_verifier", "")
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if self.break_pkce or challenge != grant["challenge"]:
                return jsonify(error="invalid_grant", error_description="PKCE verification failed"), 400
            access_token = secrets.token_urlsafe(24)
            with self._lock:
                self.access_tokens[access_token] = grant["person"]
            return jsonify(access_token=access_token, token_type="Bearer", expires_in=300,
                           id_token=self.id_token(grant["person"], grant["nonce"], access_token))

        @app.get("/userinfo")
        def userinfo():
            self._count("userinfo")
            header = request.headers.get("Authorization", "")
            person = self.access_tokens.get(header[7:]) if header.startswith("Bearer ") else None
            if person is None:
                abort(401)
            return jsonify(person)

        return app

    def id_token(self, person: dict, nonce: str, access_token: str) -> str:
        now = int(time.time())
        digest = hashlib.sha256(access_token.encode()).digest()
        claims = {"iss": self.issuer, "sub": person["sub"], "aud": CLIENT_ID, "iat": now, "exp": now + 300,
                  "nonce": nonce, "at_hash": base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()}
        claims.update({k: v for k, v in person.items() if k in self.id_token_claims})
        claims.update(self.tamper)
        if self.sign_with_client_secret:  # HS256 with the client secret, which Keystead refuses
            return jwt.encode({"alg": "HS256"}, claims, OctKey.import_key(CLIENT_SECRET))
        key = self.signing_key or self.key
        return jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)
