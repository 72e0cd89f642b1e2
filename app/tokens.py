"""API tokens (docs/api.md, "Tokens"): signed with itsdangerous, recorded in the database so they can be
revoked at once, rotated on refresh with reuse detection.

The signed string carries only the record's id; the record says whose it is, what kind it
is, when it expires and whether it still holds. Access and refresh tokens use different
salts, so one never passes as the other. The record also keeps its person's uniquifier,
and a token holds only for the person with that uniquifier (one more equality in the same
query): it can never open anyone else's account, whatever became of the user id.
"""
from __future__ import annotations

import secrets
import time
from datetime import datetime

from flask import current_app
from itsdangerous import BadData, Signer, URLSafeSerializer
from itsdangerous.encoding import base64_decode, base64_encode
from peewee import DateTimeField

from .db import CompiledQuery, for_update, write_transaction
from .errors import ServiceError
from .models import Token, User, database

MAX_TOKEN_LENGTH = 512


class InvalidToken(ServiceError):
    """Expired, tampered, revoked or malformed: one answer for all."""
    status = 401
    code = "invalid_token"

    def __init__(self, message: str = "The token is invalid or has expired."):
        super().__init__(message)


class _KeyCachingSigner(Signer):
    """itsdangerous' Signer, deriving each key once instead of on every call: the token
    check runs on every API request. Same derivation, same tokens."""
    _derived: dict = {}

    def derive_key(self, secret_key=None):
        cache_key = (self.secret_keys[-1] if secret_key is None else secret_key, self.salt,
                     self.key_derivation, self.digest_method)
        derived = self._derived.get(cache_key)
        if derived is None:
            if len(self._derived) > 64:  # a few apps per process; tests make many
                self._derived.clear()
            derived = self._derived[cache_key] = super().derive_key(secret_key)
        return derived


def _serializer(kind: str) -> URLSafeSerializer:
    """The app's serializer for `kind` (made once: one per salt)."""
    return _signing(kind)[0]


def _signing(kind: str) -> tuple[URLSafeSerializer, Signer]:
    """The app's serializer for `kind` and its signer, made once per app: itsdangerous
    would make a new signer on every call."""
    cache = current_app.extensions.setdefault("keystead.token_serializers", {})
    if kind not in cache:
        serializer = URLSafeSerializer(current_app.extensions["keystead.secret_key"],
                                       salt=f"keystead.token.{kind}", signer=_KeyCachingSigner)
        cache[kind] = (serializer, serializer.make_signer())
    return cache[kind]


def _canonical(token: str) -> bool:
    """base64 leaves bits unused, so a signature has other spellings that decode to the
    same bytes: only the one spelling we issue is a token. (The payload needs no check:
    the signature covers its exact characters.)"""
    signature = token.rpartition(".")[2]
    try:
        return base64_encode(base64_decode(signature)) == signature.encode("ascii")
    except (BadData, UnicodeError, ValueError):
        return False


def _settings():
    return current_app.extensions["keystead.settings"]


def _record(user: User, kind: str, family: str, lifetime: int) -> str:
    token_id = secrets.token_urlsafe(24)
    Token.create(id=token_id, user=user.id, user_key=user.uniquifier, kind=kind, family=family,
                 expires_at=int(time.time()) + lifetime)
    return _serializer(kind).dumps(token_id)


def issue_token_pair(user: User, family: str | None = None) -> dict:
    """A new access and refresh token for `user`, in `family` (a new one for a login)."""
    family = family or secrets.token_urlsafe(16)
    access_life = _settings()["Authentication.AccessTokenLifetime"]
    with database.atomic():
        access = _record(user, "access", family, access_life)
        refresh = _record(user, "refresh", family, _settings()["Authentication.RefreshTokenLifetime"])
    return {"access_token": access, "refresh_token": refresh, "token_type": "bearer",
            "expires_in": access_life}


def _token_id(token, kind: str) -> str | None:
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    serializer, signer = _signing(kind)
    try:
        token_id = serializer.load_payload(signer.unsign(token))
    except (BadData, UnicodeError, ValueError):
        return None
    if not isinstance(token_id, str) or not _canonical(token):
        return None
    return token_id


def user_for_access_token(token: str) -> tuple[User, "TokenRef"] | None:
    """The (user, token reference) an access token stands for, or None when it does not
    hold: unknown, revoked, expired, of another kind, or its user locked."""
    token_id = _token_id(token, "access")
    if token_id is None:
        return None
    return _lookup_access(token_id, int(time.time()))


class TokenRef:
    """What a request needs of the access token it came with."""
    __slots__ = ("id", "family")

    def __init__(self, token_id: str, family: str):
        self.id, self.family = token_id, family


_ACCESS_LOOKUP = CompiledQuery(
    "access_lookup",
    lambda token_id, now: (
        User.select(User, Token.id.alias("token_id"), Token.family.alias("token_family"))
        .join(Token, on=((Token.user == User.id) & (Token.user_key == User.uniquifier)))
        .where((Token.id == token_id) & (Token.kind == "access") & (Token.revoked == False)  # noqa: E712
               & (Token.expires_at > now) & (User.locked == False))),  # noqa: E712
    markers=("\0token", -424242))


def _fast_datetime(value):
    """DateTimeField.python_value tries strptime formats one by one; stored values are ISO."""
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    return User.created_at.python_value(value)


_USER_COLUMNS = [(f.name, _fast_datetime if isinstance(f, DateTimeField) else f.python_value)
                 for f in User._meta.sorted_fields]


def _lookup_access(token_id: str, now: int):
    row = _ACCESS_LOOKUP.run(token_id, now).fetchone()
    if row is None:
        return None
    user = User(__no_default__=True)  # as loaded: nothing marked dirty
    user.__data__.update({name: convert(v) for (name, convert), v in zip(_USER_COLUMNS, row)})
    n = len(_USER_COLUMNS)
    return user, TokenRef(row[n], row[n + 1])


def refresh_token_pair(refresh_token: str) -> dict:
    """Exchange a refresh token for a new pair. A refresh token works once: presenting a
    spent one again means it was stolen or replayed, and its whole family is revoked."""
    token_id = _token_id(refresh_token, "refresh")
    if token_id is None:
        raise InvalidToken()
    with write_transaction():  # racing exchanges queue: exactly one wins, none fails
        row = for_update(Token.select().where((Token.id == token_id) & (Token.kind == "refresh"))).first()
        if row is None or row.revoked and not row.used or row.expires_at <= time.time():
            raise InvalidToken()
        spent = (Token.update(used=True, revoked=True)
                 .where((Token.id == token_id) & (Token.used == False)).execute())  # noqa: E712
        if not spent:
            # A replay: the family is revoked in this block, committed before the refusal.
            revoke_family(row.family)
            pair = None
        else:
            user = User.get_or_none((User.id == row.user_id) & (User.uniquifier == row.user_key))
            if user is None or user.locked:
                raise InvalidToken()
            # The family's earlier access tokens end with the refresh token they came with.
            Token.update(revoked=True).where((Token.family == row.family) & (Token.kind == "access")).execute()
            pair = issue_token_pair(user, family=row.family)
    if pair is None:
        raise InvalidToken()
    return pair


def revoke_family(family: str) -> None:
    Token.update(revoked=True).where(Token.family == family).execute()


def revoke_user_tokens(user: User, except_family: str | None = None) -> None:
    """Revoke every token of `user` (but those of `except_family`, the caller's own), and
    every token apps hold for them through the OpenID Provider."""
    from .openid_provider.issued import revoke_person
    revoke_person(user.id)
    q = Token.update(revoked=True).where((Token.user == user.id) & (Token.revoked == False))  # noqa: E712
    if except_family:
        q = q.where(Token.family != except_family)
    q.execute()


def prune_expired_tokens() -> int:
    """Delete records of tokens that expired over a day ago (they can never hold again),
    those given to apps through the OpenID Provider too."""
    from .openid_provider.issued import prune
    prune()
    return Token.delete().where(Token.expires_at < int(time.time()) - 86400).execute()
