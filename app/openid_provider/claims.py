"""What an app learns about a person, by scope.

`sub` is a SHA-256 of the person's uniquifier (random, made with the account, never
changed, never given to anyone else): stable for the life of the account, never reused,
the same for every app, and it reveals neither the uniquifier nor the row id.
"""
from __future__ import annotations

import hashlib

from ..models import Group, Membership, User

SCOPES = ("openid", "profile", "email", "groups", "offline_access")


def subject(user: User) -> str:
    return hashlib.sha256(("keystead-oidc-sub:" + user.uniquifier).encode()).hexdigest()[:32]


def group_names(user: User) -> list[str]:
    return sorted(g.name for g in Group.select(Group.name).join(Membership)
                  .where(Membership.user == user.id))


def user_claims(user: User, scope: str) -> dict:
    """The claims for `scope` (space-separated): sub always; profile: preferred_username,
    name, given_name, family_name; email: email, email_verified; groups: groups."""
    scopes = set((scope or "").split())
    claims = {"sub": subject(user)}
    if "profile" in scopes:
        claims.update(preferred_username=user.username, name=user.full_name or user.username,
                      given_name=user.first_name or None, family_name=user.last_name or None)
    if "email" in scopes and user.email:
        claims.update(email=user.email, email_verified=bool(user.email_verified))
    if "groups" in scopes:
        claims["groups"] = group_names(user)
    if "profile" in scopes:
        claims.update(_public_fields(user, claims))
    return {k: v for k, v in claims.items() if v is not None}


# Claims a custom field may never stand in for (the ID token's own, and the standard ones).
RESERVED = frozenset(("iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp", "at_hash",
                      "c_hash", "sid", "name", "given_name", "family_name", "preferred_username", "email",
                      "email_verified", "groups", "picture", "updated_at"))


def _public_fields(user: User, taken: dict) -> dict:
    """The custom profile fields everyone may see (visible_to = "everyone"), set ones only,
    under their own names; never one that would replace a standard claim."""
    from ..userfields.declarations import declared_fields
    stored = user.fields or {}
    return {f.name: stored[f.name] for f in declared_fields()
            if f.visible_to == "everyone" and stored.get(f.name) is not None
            and f.name not in RESERVED and f.name not in taken}
