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
    return {k: v for k, v in claims.items() if v is not None}
