"""Issued codes and tokens: stored as SHA-256 digests, looked up, spent once, revoked.

Every check of a token also checks its person: the row's user must still have the
uniquifier the token was issued to, and must not be locked (a locked person's tokens are
revoked too, but the check holds even for a row missed by a revocation)."""
from __future__ import annotations

import hashlib
import time

from ..apps.service import may_use
from ..models import User
from .models import AuthorizationCode, Consent, IssuedToken


def digest(value) -> str | None:
    if not isinstance(value, str) or not value or len(value) > 512:
        return None
    return hashlib.sha256(("oidc:" + value).encode()).hexdigest()


def holder(row) -> User | None:
    """The person a code or token row stands for, when it still holds for them and they
    may still use its app."""
    user = User.get_or_none((User.id == row.user_id) & (User.uniquifier == row.user_key))
    if user is None or user.locked or user.status != "active" or not may_use(user, row.app):
        return None
    return user


def find_token(value, kind: str | None = None) -> IssuedToken | None:
    """The token row of `value` (any state), or None."""
    h = digest(value)
    if h is None:
        return None
    q = IssuedToken.select().where(IssuedToken.token_hash == h)
    if kind:
        q = q.where(IssuedToken.kind == kind)
    return q.first()


def live_access_token(value) -> tuple[IssuedToken, User] | None:
    """(token, person) for an access token that holds now, else None."""
    row = find_token(value, "access")
    if row is None or row.revoked or row.expires_at <= time.time():
        return None
    user = holder(row)
    return (row, user) if user else None


def revoke_grant(grant: str) -> None:
    """Revoke every token of one sign-in (a reused code or refresh token)."""
    IssuedToken.update(revoked=True).where(IssuedToken.grant == grant).execute()


def revoke_person(user_id: int, app_id: int | None = None) -> None:
    """Revoke every token given to apps for this person (of one app when `app_id`)."""
    q = IssuedToken.update(revoked=True).where((IssuedToken.user == user_id) & (IssuedToken.revoked == False))  # noqa: E712
    if app_id is not None:
        q = q.where(IssuedToken.app == app_id)
    q.execute()


def prune() -> None:
    """Delete codes and tokens that can never hold again."""
    cutoff = int(time.time()) - 86400
    AuthorizationCode.delete().where(AuthorizationCode.expires_at < cutoff).execute()
    IssuedToken.delete().where(IssuedToken.expires_at < cutoff).execute()


def remembered_scope(user: User, app) -> set[str]:
    row = Consent.get_or_none((Consent.user == user.id) & (Consent.app == app.id))
    return set(row.scope.split()) if row else set()
