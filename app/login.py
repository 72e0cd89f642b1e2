"""Logging in with a username (or email) and password, for the browser and the API alike:
lockout, the active password providers, identity mapping and the post-checks, in one place.

The order of the checks is what keeps answers from revealing anything: a lockout answers
423 whoever the name belongs to; a wrong password or unknown user answers 401 (after one
bcrypt either way); only the right password learns that an account is locked (423) or
unverified (403).
"""
from __future__ import annotations

from flask import current_app, request

from . import throttle
from .accounts import record_login, settings
from .errors import AccountLocked, AuthenticationFailed, EmailNotVerified
from .models import User, database
from .plugins import hook, password_providers


def client_address() -> str | None:
    """The client's address (ProxyFix has applied Server.TrustedProxies)."""
    try:
        return request.remote_addr
    except RuntimeError:  # outside a request (CLI)
        return None


def authenticate_identity(login, password):
    """The Identity the first active password provider vouches for, or None."""
    for name in password_providers():
        identity = hook().keystead_authenticate(provider=name, username=login, password=password)
        if identity is not None:
            return identity
    return None


def log_in_with_password(login, password) -> User:
    """Check credentials and return the user; raise AccountLocked, AuthenticationFailed or
    EmailNotVerified. Records the login or the failure (and a resulting lockout)."""
    key = throttle.throttle_key(login)
    details = {"client": client_address(), "username": key[:64]}
    remaining = throttle.seconds_locked(key)
    if remaining:
        hook().keystead_event(event="login_failed", actor=None, target=None, outcome="failure",
                              details={**details, "reason": "locked_out"})
        raise AccountLocked("Too many failed logins. Try again later.", retry_after=remaining)
    identity = authenticate_identity(login, password) if isinstance(password, str) else None
    if identity is None:
        with database.atomic():
            locked_now = throttle.record_failure(key)
            hook().keystead_event(event="login_failed", actor=None, target=None, outcome="failure",
                                  details=details)
            if locked_now:
                hook().keystead_event(event="lockout", actor=None, target=None, outcome="failure",
                                      details=details)
        raise AuthenticationFailed()
    user = hook().keystead_map_identity(identity=identity)
    if user is None:
        raise AuthenticationFailed()
    if user.locked:
        raise AccountLocked()
    if (not user.email_verified and user.provider == "password"
            and settings()["Password.RequireEmailVerification"]):
        raise EmailNotVerified()
    with database.atomic():
        throttle.record_success(key)
        user = record_login(user)
        hook().keystead_event(event="login", actor=user, target=user, outcome="success",
                              details={"client": client_address(), "provider": identity.provider})
    return user


def log_in_as_identity(identity) -> User:
    """Finish a redirect-based login (OIDC, SAML...) for an identity a provider verified."""
    user = hook().keystead_map_identity(identity=identity)
    if user is None:
        raise AuthenticationFailed("Your sign-in provider did not give a usable identity.")
    if user.locked:
        raise AccountLocked()
    with database.atomic():
        user = record_login(user)
        hook().keystead_event(event="login", actor=user, target=user, outcome="success",
                              details={"client": client_address(), "provider": identity.provider})
    return user


def bcrypt_rounds() -> int:
    return current_app.extensions["keystead.settings"]["Password.BcryptRounds"]
