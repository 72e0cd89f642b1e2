"""The OpenID Provider's records: signing keys, authorization codes, the tokens issued to
apps, and the consents people gave.

Codes and tokens are random strings handed out once; only their SHA-256 is stored (a
256-bit random value needs no slow hash), so a copy of the database holds nothing that
opens an account. Each code and token keeps its person's uniquifier (`user_key`), as the
API's tokens do: it holds only for the person with that uniquifier.
"""
from __future__ import annotations

import time

from peewee import BooleanField, CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from ..apps.models import App
from ..models import BaseModel, User, utcnow


class SigningKey(BaseModel):
    """A key that signs ID tokens. The private part is sealed with a key derived from
    Server.SecretKey (app/encryption.py), so every host with that key serves the same JWKS.
    A retired key signs nothing more and stays in the JWKS until `retired_at` plus the ID
    token lifetime, so tokens it signed can still be verified."""
    kid = CharField(max_length=64, primary_key=True)
    alg = CharField(max_length=10)  # RS256 | ES256
    public_jwk = TextField()  # JSON
    private_sealed = TextField()  # the private key as PEM, sealed
    created_at = IntegerField()  # epoch seconds
    retired_at = IntegerField(null=True)


class AuthorizationCode(BaseModel):
    """An authorization code: single use, short-lived, bound to its app, redirect URI and
    PKCE challenge. A used code is kept (not deleted) until it expires, so that presenting
    it again is recognised and the tokens it gave are revoked."""
    code_hash = CharField(max_length=64, primary_key=True)
    app = ForeignKeyField(App, on_delete="CASCADE", backref="+")
    user = ForeignKeyField(User, on_delete="CASCADE", backref="+")
    user_key = CharField(max_length=64)
    redirect_uri = TextField()
    scope = TextField()
    nonce = TextField(null=True)
    code_challenge = CharField(max_length=128, null=True)
    code_challenge_method = CharField(max_length=10, null=True)
    auth_time = IntegerField()
    expires_at = IntegerField()
    used = BooleanField(default=False)
    created_at = DateTimeField(default=utcnow)

    # What Authlib asks of a code.
    def get_redirect_uri(self):
        return self.redirect_uri

    def get_scope(self):
        return self.scope

    def get_nonce(self):
        return self.nonce

    def get_auth_time(self):
        return self.auth_time

    def get_acr(self):
        return None

    def get_amr(self):
        return None


class IssuedToken(BaseModel):
    """An access or refresh token given to an app. Tokens of one sign-in share a `grant`
    (the code they came from): a reused code or refresh token revokes the whole grant."""
    token_hash = CharField(max_length=64, primary_key=True)
    app = ForeignKeyField(App, on_delete="CASCADE", backref="+")
    user = ForeignKeyField(User, on_delete="CASCADE", backref="+")
    user_key = CharField(max_length=64)
    kind = CharField(max_length=10)  # access | refresh
    grant = CharField(max_length=64, index=True)
    scope = TextField()
    auth_time = IntegerField()
    expires_at = IntegerField()  # epoch seconds
    revoked = BooleanField(default=False)
    used = BooleanField(default=False)  # a refresh token already exchanged
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("user", "app"), False),)

    # What Authlib asks of a token.
    def check_client(self, client):
        return self.app_id == client.app.id

    def get_scope(self):
        return self.scope

    def get_expires_in(self):
        return max(0, self.expires_at - int(time.time()))

    def get_expires_at(self):
        return self.expires_at

    def is_expired(self):
        return self.expires_at <= time.time()

    def is_revoked(self):
        return bool(self.revoked)


class Consent(BaseModel):
    """A person's permission for an app to learn who they are (the scopes they allowed)."""
    user = ForeignKeyField(User, on_delete="CASCADE", backref="+")
    app = ForeignKeyField(App, on_delete="CASCADE", backref="+")
    scope = TextField()
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("user", "app"), True),)


MODELS = [SigningKey, AuthorizationCode, IssuedToken, Consent]
