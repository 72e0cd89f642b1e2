"""Who is calling the API: `Authorization: Bearer <access token>` or `Authorization: Key
<personal API key>`. Session cookies are never read here, so a browser session cannot act
on the API (nor a token in a page).

A key acts as its person on the API, with one exception: it cannot manage the person's
credentials (@not_with_api_key: create keys, change the password or the email address,
turn two-factor authentication on or off, delete the account). A key is a program's
credential; a stolen one must not be able to lock its person out or breed keys that
outlive its revocation."""
from __future__ import annotations

import functools

from flask import current_app, g, request

from ..authorization import require_permission
from ..errors import Forbidden, ServiceError
from ..models import User
from ..apikeys import find_api_key
from ..devmode import development_admin
from ..tokens import InvalidToken, user_for_access_token


class AuthenticationRequired(ServiceError):
    status = 401
    code = "authentication_required"

    def __init__(self):
        message = ("Send an access token (Authorization: Bearer <token>) or an API key "
                   "(Authorization: Key <key>).")
        problem = development_admin()[1]
        if problem:
            message = f"Development mode: {problem}. {message}"
        super().__init__(message)


def current_api_user() -> User | None:
    """The caller of this request (cached on g), or None when no credentials were sent.
    Raises InvalidToken for credentials that do not hold."""
    if "api_user" in g:
        return g.api_user
    header = request.headers.get("Authorization", "")
    user = token = key = None
    if header:
        scheme, _, credential = header.partition(" ")
        scheme, credential = scheme.lower(), credential.strip()
        if scheme == "bearer" and credential:
            found = user_for_access_token(credential)
            if found is None:
                raise InvalidToken()
            user, token = found
        elif scheme == "key" and credential:
            key = find_api_key(credential)
            if key is None:
                raise InvalidToken("The API key is invalid or was revoked.")
            user = key.user
        else:
            raise InvalidToken()
    elif not current_app.extensions["keystead.settings"]["Server.RequireAuthentication"]:
        user = development_admin()[0]
    # api_key_id also tells the audit trail that a key acted (app/audit/plugin.py).
    g.api_user, g.api_token, g.api_key_id = user, token, key.id if key is not None else None
    return user


def authenticated_by_api_key() -> bool:
    """Whether this request was made with a personal API key."""
    current_api_user()
    return g.api_key_id is not None


class ApiKeyRefused(Forbidden):
    def __init__(self, action: str):
        super().__init__(f"An API key cannot {action}. Log in (Authorization: Bearer <token>) "
                         "to do it.")


def refuse_api_key(action: str) -> None:
    """403 `forbidden` when this request was made with an API key (see the module doc)."""
    if authenticated_by_api_key():
        raise ApiKeyRefused(action)


def not_with_api_key(action: str):
    """A route a request made with an API key may not use: 403 `forbidden`."""
    def decorate(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            refuse_api_key(action)
            return view(*args, **kwargs)
        return wrapped
    return decorate


def current_token():
    """The Token record the caller authenticated with (None in development mode)."""
    current_api_user()
    return g.api_token


def login_required(view):
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if current_api_user() is None:
            raise AuthenticationRequired()
        return view(*args, **kwargs)
    return wrapped


def permission_required(permission: str):
    """A route for callers holding `permission`: 401 without credentials, 403 `forbidden`
    naming the permission otherwise (app/authorization)."""
    def decorate(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            user = current_api_user()
            if user is None:
                raise AuthenticationRequired()
            require_permission(user, permission)
            return view(*args, **kwargs)
        return wrapped
    return decorate
