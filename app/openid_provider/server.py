"""Authlib's authorization server, wired to Keystead's apps, people and records: the
client adapter, the authorization code grant (PKCE S256; required for public clients),
the refresh token grant (rotation with reuse detection), the OpenID Connect extension that
signs ID tokens, revocation (RFC 7009), introspection (RFC 7662) and RP-initiated logout."""
from __future__ import annotations

import json
import secrets
import time

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, InvalidRequestError
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant, RefreshTokenGrant
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oidc.core.grants import OpenIDCode, OpenIDToken
from authlib.oidc.rpinitiated import EndSessionEndpoint
from flask import Flask, current_app, session

from ..apps.credentials import check_client_secret
from ..apps.models import App
from ..db import for_update, write_transaction
from . import keys
from .claims import SCOPES, subject, user_claims
from .issued import digest, holder, revoke_grant
from .models import AuthorizationCode, IssuedToken

CONFIDENTIAL_AUTH = ["client_secret_basic", "client_secret_post"]
ALL_AUTH = [*CONFIDENTIAL_AUTH, "none"]


def _settings():
    return current_app.extensions["keystead.settings"]


def issuer() -> str:
    return _settings()["Server.PublicURL"].rstrip("/")


class Client(ClientMixin):
    """An app with an OpenID Connect side, as Authlib asks about it."""

    def __init__(self, app: App):
        self.app = app
        try:
            uris = json.loads(app.redirect_uris or "[]")
        except ValueError:
            uris = []
        self.redirect_uris = [u for u in uris if isinstance(u, str)]

    @property
    def public(self) -> bool:
        return bool(self.app.public)

    @property
    def client_metadata(self) -> dict:
        # Where RP-initiated logout may send the browser back: the app's redirect URIs
        # and its launch URL, matched exactly.
        back = list(self.redirect_uris) + ([self.app.launch_url] if self.app.launch_url else [])
        return {"post_logout_redirect_uris": back}

    def get_client_id(self):
        return self.app.client_id

    def get_default_redirect_uri(self):
        return self.redirect_uris[0] if len(self.redirect_uris) == 1 else None

    def get_allowed_scope(self, scope):
        if not scope:
            return "openid"
        return " ".join(s for s in scope.split() if s in SCOPES)

    def check_redirect_uri(self, redirect_uri):
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret):
        return check_client_secret(self.app, client_secret)

    def check_endpoint_auth_method(self, method, endpoint):
        if self.public:
            return method == "none"
        return method in CONFIDENTIAL_AUTH

    def check_response_type(self, response_type):
        return response_type == "code"

    def check_grant_type(self, grant_type):
        return grant_type in ("authorization_code", "refresh_token")


def query_client(client_id) -> Client | None:
    if not isinstance(client_id, str) or not client_id or len(client_id) > 64:
        return None
    app = App.get_or_none(App.client_id == client_id)
    return Client(app) if app else None


def save_token(token: dict, request) -> None:
    """Store the digests of a new access token (and refresh token) of one sign-in."""
    s = _settings()
    now = int(time.time())
    user = request.user
    grant, auth_time = request.keystead_grant, request.keystead_auth_time
    common = dict(app=request.client.app.id, user=user.id, user_key=user.uniquifier, grant=grant,
                  scope=token.get("scope", ""), auth_time=auth_time)
    IssuedToken.create(token_hash=digest(token["access_token"]), kind="access",
                       expires_at=now + s["OpenIDProvider.AccessTokenLifetime"], **common)
    if token.get("refresh_token"):
        IssuedToken.create(token_hash=digest(token["refresh_token"]), kind="refresh",
                           expires_at=now + s["OpenIDProvider.RefreshTokenLifetime"], **common)


def _random_token(**_) -> str:
    return secrets.token_urlsafe(32)


def _audit_replay(row, what: str) -> None:
    """A code or refresh token presented a second time: stolen or replayed. Its sign-in's
    tokens were revoked; the audit log says so, with the app's name."""
    from ..login import client_address
    from ..models import User
    from ..plugins import hook
    user = User.get_or_none(User.id == row.user_id)
    hook().keystead_event(event="app_token_reuse", actor=None, target=user, outcome="failure",
                          details={"app": row.app.name, "app_id": row.app_id, "reused": what,
                                   "client": client_address()})


class S256Challenge(CodeChallenge):
    """PKCE with S256 only; a public client must send a challenge."""
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"

    def validate_code_challenge(self, grant, redirect_uri):
        data = grant.request.payload.data
        if data.get("code_challenge") and data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("'code_challenge_method' must be S256.")
        if grant.request.client.public and not data.get("code_challenge"):
            raise InvalidRequestError("A public client must send a PKCE 'code_challenge' (S256).")
        return super().validate_code_challenge(grant, redirect_uri)


class CodeGrant(AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ALL_AUTH

    def save_authorization_code(self, code, request):
        data = request.payload.data
        AuthorizationCode.create(
            code_hash=digest(code), app=request.client.app.id, user=request.user.id,
            user_key=request.user.uniquifier, redirect_uri=request.payload.redirect_uri,
            scope=request.scope, nonce=data.get("nonce"), code_challenge=data.get("code_challenge"),
            code_challenge_method=data.get("code_challenge_method"),
            auth_time=int(session.get("login_at") or time.time()),
            expires_at=int(time.time()) + _settings()["OpenIDProvider.CodeLifetime"])

    def query_authorization_code(self, code, client):
        """The code's row, spent now. A code presented a second time is refused and the
        tokens it gave are revoked (it was stolen or replayed)."""
        h = digest(code)
        if h is None:
            return None
        with write_transaction():
            row = AuthorizationCode.get_or_none((AuthorizationCode.code_hash == h)
                                                & (AuthorizationCode.app == client.app.id))
            if row is None:
                return None
            spent = (AuthorizationCode.update(used=True)
                     .where((AuthorizationCode.code_hash == h) & (AuthorizationCode.used == False))  # noqa: E712
                     .execute())
            if not spent:
                revoke_grant(h)
                _audit_replay(row, "code")
                return None
        if row.expires_at <= time.time():
            return None
        self.request.keystead_grant = h
        self.request.keystead_auth_time = row.auth_time
        return row

    def delete_authorization_code(self, authorization_code):
        pass  # kept, marked used, until it expires: a replay must be recognised

    def authenticate_user(self, authorization_code):
        return holder(authorization_code)

    def generate_token(self, user=None, scope=None, grant_type=None, expires_in=None,
                       include_refresh_token=True):
        # A refresh token only when the app asked for offline_access.
        include = include_refresh_token and "offline_access" in (scope or "").split()
        return super().generate_token(user=user, scope=scope, grant_type=grant_type,
                                      expires_in=expires_in, include_refresh_token=include)


class RefreshGrant(RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ALL_AUTH
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token):
        """The refresh token's row, spent now (each works once). A spent one presented
        again revokes every token of its sign-in; the sign-in's earlier access tokens end
        with the refresh token they came with."""
        h = digest(refresh_token)
        if h is None:
            return None
        client = self.request.client
        with write_transaction():
            row = for_update(IssuedToken.select().where((IssuedToken.token_hash == h)
                                                        & (IssuedToken.kind == "refresh"))).first()
            if row is None or (client is not None and row.app_id != client.app.id):
                return None
            spent = (IssuedToken.update(used=True, revoked=True)
                     .where((IssuedToken.token_hash == h) & (IssuedToken.used == False)  # noqa: E712
                            & (IssuedToken.revoked == False)).execute())  # noqa: E712
            if not spent:
                if row.used:
                    revoke_grant(row.grant)
                    _audit_replay(row, "refresh_token")
                return None
            IssuedToken.update(revoked=True).where((IssuedToken.grant == row.grant)
                                                   & (IssuedToken.kind == "access")).execute()
        if row.expires_at <= time.time():
            return None
        self.request.keystead_grant = row.grant
        self.request.keystead_auth_time = row.auth_time
        return row

    def authenticate_user(self, refresh_token):
        user = holder(refresh_token)
        self.request.user = user
        return user

    def revoke_old_credential(self, refresh_token):
        pass  # spent in authenticate_refresh_token, before the new tokens were made


class IDToken(OpenIDToken):
    """Signs ID tokens with the current key of OpenIDProvider.SigningAlgorithm."""

    def _key(self):
        return keys.current_key(_settings()["OpenIDProvider.SigningAlgorithm"])

    def resolve_client_private_key(self, client):
        return keys.private_key(self._key())

    def get_client_algorithm(self, client):
        return _settings()["OpenIDProvider.SigningAlgorithm"]

    def get_encode_header(self, client):
        return {"alg": self.get_client_algorithm(client), "kid": self._key().kid, "typ": "JWT"}

    def get_client_claims(self, client):
        now = int(time.time())
        return {"iss": issuer(), "aud": client.get_client_id(), "iat": now,
                "exp": now + _settings()["OpenIDProvider.IDTokenLifetime"]}

    def get_compatible_claims(self, request):
        claims = self.get_client_claims(request.client)
        claims["auth_time"] = getattr(request, "keystead_auth_time", claims["iat"])
        return claims

    def generate_user_info(self, user, scope):
        return user_claims(user, scope)


class IDTokenForCode(IDToken, OpenIDCode):
    def __init__(self):
        OpenIDCode.__init__(self, require_nonce=False)

    def exists_nonce(self, nonce, request):
        return False  # each code is single use; a nonce is the app's own check


class TokenEndpointMixin:
    CLIENT_AUTH_METHODS = ALL_AUTH

    def query_token(self, token_string, token_type_hint):
        h = digest(token_string)
        return IssuedToken.get_or_none(IssuedToken.token_hash == h) if h else None


class Revocation(TokenEndpointMixin, RevocationEndpoint):
    def revoke_token(self, token, request):
        if token.kind == "refresh":
            revoke_grant(token.grant)  # a refresh token ends its whole sign-in
        else:
            IssuedToken.update(revoked=True).where(IssuedToken.token_hash == token.token_hash).execute()


class Introspection(TokenEndpointMixin, IntrospectionEndpoint):
    """For resource servers: confidential clients only (a public client cannot prove who
    it is)."""
    CLIENT_AUTH_METHODS = CONFIDENTIAL_AUTH

    def check_permission(self, token, client, request):
        return not client.public

    def introspect_token(self, token):
        user = holder(token)
        if user is None:
            return {"active": False}
        return {"active": True, "client_id": token.app.client_id, "scope": token.scope,
                "sub": subject(user), "username": user.username,
                "token_type": "Bearer" if token.kind == "access" else "refresh_token",
                "exp": token.expires_at, "iat": int(token.created_at.timestamp()) if token.created_at else None,
                "iss": issuer(), "aud": token.app.client_id}


class EndSession(EndSessionEndpoint):
    def get_server_jwks(self):
        return keys.jwks()

    def end_session(self, end_session_request):
        from .views_support import end_browser_session
        end_browser_session(end_session_request)


def make_server(app: Flask) -> AuthorizationServer:
    server = AuthorizationServer(app, query_client=query_client, save_token=save_token)
    server.scopes_supported = list(SCOPES)
    server.register_token_generator("default", BearerTokenGenerator(
        _random_token, _random_token,
        lambda client, grant_type: app.extensions["keystead.settings"]["OpenIDProvider.AccessTokenLifetime"]))
    server.register_grant(CodeGrant, [S256Challenge(required=True), IDTokenForCode()])
    server.register_grant(RefreshGrant, [IDToken()])
    server.register_endpoint(Revocation)
    server.register_endpoint(Introspection)
    server.register_endpoint(EndSession)
    return server
