"""Who is calling the API: `Authorization: Bearer <access token>` or `Authorization: Key
<personal API key>`. Session cookies are never read here, so a browser session cannot act
on the API (nor a token in a page)."""
from __future__ import annotations

import functools

from flask import current_app, g, request

from ..errors import Forbidden, ServiceError
from ..models import User
from ..apikeys import user_for_api_key
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
    user = token = None
    if header:
        scheme, _, credential = header.partition(" ")
        scheme, credential = scheme.lower(), credential.strip()
        if scheme == "bearer" and credential:
            found = user_for_access_token(credential)
            if found is None:
                raise InvalidToken()
            user, token = found
        elif scheme == "key" and credential:
            user = user_for_api_key(credential)
            if user is None:
                raise InvalidToken("The API key is invalid or was revoked.")
        else:
            raise InvalidToken()
    elif not current_app.extensions["keystead.settings"]["Server.RequireAuthentication"]:
        user = development_admin()[0]
    g.api_user, g.api_token = user, token
    return user


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


def admin_required(view):
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        user = current_api_user()
        if user is None:
            raise AuthenticationRequired()
        if not user.is_admin:
            raise Forbidden("This needs an administrator.")
        return view(*args, **kwargs)
    return wrapped
