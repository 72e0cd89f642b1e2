"""Logging in with a username (or email) and password, for the browser and the API alike:
lockout, the active password providers, identity mapping and the post-checks, in one place.

The order of the checks is what keeps answers from revealing anything: a failed-login
lockout answers 423 (with Retry-After) whoever the name belongs to, even to the right
password of an account an administrator locked; a wrong password or unknown user answers
401 (after one bcrypt either way); only the right password learns that an administrator
locked the account (423, without Retry-After: it lifts only when they unlock it), that
it waits for sign-up approval or was rejected (403, app/signup/approval.py), that it is
unverified (403), or that the current terms of service are not accepted yet (403, after
the second factor: app/signup/terms.py). Failures count on the account's counter whichever of its names
was typed (app/throttle.py).
"""
from __future__ import annotations

import contextlib
import logging

from flask import request

from . import throttle
from .accounts import record_login, settings
from .db import database_failure
from .errors import AccountLocked, AuthenticationFailed, EmailNotVerified, ProviderError, ServiceError
from .models import User, database
from .plugins import hook, password_providers
from .signup.approval import check_approved
from .signup.terms import TermsNotAccepted, check_terms_at_login, owes_terms
from .totp import check_second_factor, totp_enabled

log = logging.getLogger("keystead")


def client_address() -> str | None:
    """The client's address (ProxyFix has applied Server.TrustedProxies)."""
    try:
        return request.remote_addr
    except RuntimeError:  # outside a request (CLI)
        return None


def authenticate_identity(login, password):
    """The Identity the first active password provider vouches for, or None. A provider
    that fails unexpectedly stops the login with ProviderError (its traceback is logged)."""
    for name in password_providers():
        with provider_failures(name, "keystead_authenticate"):
            identity = hook().keystead_authenticate(provider=name, username=login, password=password)
        if identity is not None:
            return identity
    return None


@contextlib.contextmanager
def provider_failures(provider: str, hook_name: str):
    """Turn an unexpected exception inside a provider's hook into ProviderError (502): the
    person sees a short message, the log gets the traceback. A ServiceError the provider
    raised on purpose (ProviderError with its own message) passes through unchanged."""
    try:
        yield
    except ServiceError:
        raise
    except Exception as e:
        if database_failure(e):  # a busy or stopped database answers 503 as anywhere else
            raise
        log.exception("provider %s failed in %s", provider, hook_name)
        raise ProviderError("The sign-in provider failed. Try again later, or tell an administrator "
                            "if it keeps happening.") from None


class SecondFactorRequired(ServiceError):
    """The password was right and the person has two-factor authentication on: a code is
    needed (the API's `otp`, or the browser's second step, which catches this)."""
    status = 401
    code = "otp_required"

    def __init__(self, user: User):
        super().__init__("Enter the code from your authenticator app (or a recovery code).",
                         {"otp": "Enter the code from your authenticator app."})
        self.user = user


class WrongSecondFactor(ServiceError):
    status = 401
    code = "invalid_otp"

    def __init__(self):
        super().__init__("The code is not correct.", {"otp": "The code is not correct."})


def log_in_with_password(login, password, otp=None, accept_terms=False) -> User:
    """Check credentials (and the second factor, when the person has one) and return the
    user; raise AccountLocked, AuthenticationFailed, ApprovalPending, ApprovalRejected,
    EmailNotVerified, SecondFactorRequired, WrongSecondFactor or TermsNotAccepted (unless
    `accept_terms` is True, which records the acceptance). Records the login or the
    failure (and a resulting lockout)."""
    key = throttle.login_throttle_key(login)
    name = throttle.submitted_name(login)[:64]  # for the audit log
    _refuse_locked_out(key, name)
    identity = authenticate_identity(login, password) if isinstance(password, str) else None
    if identity is None:
        _record_failure(key, {"username": name})
        raise AuthenticationFailed()
    with provider_failures(identity.provider, "keystead_map_identity"):
        user = hook().keystead_map_identity(identity=identity)
    if user is None:
        raise AuthenticationFailed()
    if user.locked:
        raise AccountLocked()
    check_approved(user)  # only the right password learns of a pending or rejected sign-up
    if (not user.email_ever_verified and user.provider == "password"
            and settings()["Password.RequireEmailVerification"]):
        raise EmailNotVerified()  # the first address is not verified yet
    if totp_enabled(user):
        if otp is None or otp == "":
            raise SecondFactorRequired(user)
        if accept_terms is not True and owes_terms(user):
            # Said before the code is checked, which spends it: the client sends the same
            # code again with accept_terms. The acceptance is recorded only after the code.
            raise TermsNotAccepted(user)
        _check_second_factor(user, key, name, otp)
    user = check_terms_at_login(user, accept_terms)
    return _record_login(user, key, identity.provider)


def complete_second_factor(user_id: int, code) -> User:
    """The browser's second step: the password was checked a moment ago (the session
    remembers whose); now the code. A wrong code counts toward the lockout."""
    user = User.get_or_none(User.id == user_id)
    if user is None or user.locked:
        raise AuthenticationFailed()
    key = throttle.account_throttle_key(user)
    name = user.username_key  # at most 64 characters, as the audit log keeps names
    _refuse_locked_out(key, name)
    check_approved(user)
    _check_second_factor(user, key, name, code)
    user = check_terms_at_login(user, False)  # the browser's terms step comes next
    return _record_login(user, key, user.provider)


def complete_terms_acceptance(user_id: int) -> User:
    """The browser's terms step: the password (and second factor) were checked a moment ago
    (the session remembers whose); the person accepted the current terms. Records the
    acceptance and the login."""
    user = User.get_or_none(User.id == user_id)
    if user is None or user.locked:
        raise AuthenticationFailed()
    check_approved(user)
    user = check_terms_at_login(user, True)
    return _record_login(user, throttle.account_throttle_key(user), user.provider)


def _refuse_locked_out(key: str, name: str) -> None:
    remaining = throttle.seconds_locked(key)
    if remaining:
        hook().keystead_event(event="login_failed", actor=None, target=None, outcome="failure",
                              details={"client": client_address(), "username": name, "reason": "locked_out"})
        raise AccountLocked("Too many failed logins. Try again later.", retry_after=remaining)


def _record_failure(key: str, details: dict, target: User | None = None) -> None:
    details = {"client": client_address(), **details}
    with database.atomic():
        locked_now = throttle.record_failure(key)
        hook().keystead_event(event="login_failed", actor=None, target=target, outcome="failure",
                              details=details)
        if locked_now:
            hook().keystead_event(event="lockout", actor=None, target=target, outcome="failure",
                                  details=details)


def _check_second_factor(user: User, key: str, name: str, code) -> None:
    if not check_second_factor(user, code):
        _record_failure(key, {"username": name, "reason": "wrong_second_factor"}, target=user)
        raise WrongSecondFactor()


def _record_login(user: User, key: str, provider: str) -> User:
    with database.atomic():
        throttle.record_success(key)
        user = record_login(user)
        hook().keystead_event(event="login", actor=user, target=user, outcome="success",
                              details={"client": client_address(), "provider": provider})
    return user


def log_in_as_identity(identity, *, ask_second_factor: bool = False) -> User:
    """Finish a redirect-based login (OIDC, SAML...) for an identity a provider verified:
    map it to the local user (created on first login) and record the login. Raises
    AuthenticationFailed, AccountLocked, ApprovalPending, ApprovalRejected, TermsNotAccepted
    (the browser then shows the terms step: app.web.auth.await_terms), SecondFactorRequired
    (with `ask_second_factor`, for a person with two-factor authentication on: the browser
    then asks for the code, app.web.auth.await_second_factor) or ProviderError; the
    caller starts the session (app.web.session.start_session) or issues tokens."""
    with provider_failures(identity.provider, "keystead_map_identity"):
        user = hook().keystead_map_identity(identity=identity)
    if user is None:
        raise AuthenticationFailed("Your sign-in provider did not give a usable identity.")
    if user.locked:
        raise AccountLocked()
    check_approved(user)
    if ask_second_factor and totp_enabled(user):
        # The provider vouched for the person; their own second factor comes next, and the
        # login is recorded once it is right (complete_second_factor).
        raise SecondFactorRequired(user)
    check_terms_at_login(user, False)
    with database.atomic():
        user = record_login(user)
        hook().keystead_event(event="login", actor=user, target=user, outcome="success",
                              details={"client": client_address(), "provider": identity.provider})
    return user
