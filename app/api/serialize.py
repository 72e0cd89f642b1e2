"""A person as the API shows them: the one place a User becomes JSON (the User schema of openapi.json), used by
/users/me and the administrators' /users endpoints alike. Never the password hash,
the session epoch or anything else internal."""
from __future__ import annotations

from flask import g

from ..accounts import groups_of
from ..models import User, iso
from ..userfields.values import visible_fields


def _caller(user: User) -> User:
    """Who is looking: the request's authenticated caller, or the person themselves (a
    sign-up, which reads no credentials: a stale token sent with it must not matter)."""
    return g.get("api_user") or user


def user_json(user: User, groups: list[str] | None = None) -> dict:
    """The OpenAPI `User` schema. `groups` (names) saves a query when the caller has them.
    `fields` holds the custom fields the caller may see; `metadata` is shown to the person
    and to those who may read people (app/userfields/values.py)."""
    caller = _caller(user)
    body = {
        "id": user.id,
        "username": user.username,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "role": user.role,
        "locked": user.locked,
        "email_verified": user.email_verified,
        "created_at": iso(user.created_at),
        "last_login_at": iso(user.last_login_at),
        "groups": groups_of(user) if groups is None else list(groups),
        "provider": user.provider,
        "status": user.status,
        "terms_accepted_version": user.terms_accepted_version,
        "terms_accepted_at": iso(user.terms_accepted_at),
    }
    body["fields"] = visible_fields(caller, user)
    if caller.id == user.id or _reads_people(caller):
        body["metadata"] = user.metadata or {}
    return body


def _reads_people(caller: User) -> bool:
    from ..authorization import has_permission
    return has_permission(caller, "people.read")
