"""Re-entering the current password in the API before a sensitive change (an address
change, a new API key): checked by the person's own provider (the password table here, or
a directory such as LDAP or PAM), under the person's lockout like a login."""
from __future__ import annotations

from flask import current_app

from ..errors import Forbidden, ValidationFailed
from ..models import ExternalIdentity, User
from .rules import check_user_password


class PasswordRequired(Forbidden):
    code = "password_required"

    def __init__(self):
        super().__init__("Your account has no password here: do this in the browser, after "
                         "logging in again through your sign-in provider.")


def verify_current_password(user: User, password, field: str = "current_password") -> None:
    """The API's proof that the person is there: raise unless `password` is their current
    password. 403 `password_required` for an account with no password to give (an OIDC or
    SAML account: the browser's web sudo accepts a fresh login there instead), 422 on
    `field` when it is missing or wrong; a wrong one counts toward the lockout (423 once
    locked out)."""
    from ..throttle import guarded
    if not has_password_to_give(user):
        raise PasswordRequired()
    if not isinstance(password, str) or not password:
        raise ValidationFailed({field: "Enter your current password."})

    def check():
        if not _provider_accepts(user, password):
            raise ValidationFailed({field: "The current password is not correct."})
    guarded(user, check)


def has_password_to_give(user: User) -> bool:
    """Whether the person can prove themselves with a password: their own here, or one
    their provider checks (a directory such as LDAP or PAM); not an OIDC or SAML person."""
    info = current_app.extensions["keystead.providers"].get(user.provider)
    if info is None or not info.supports_password:
        return False
    return user.provider != "password" or user.password_hash is not None


def password_accepted(user: User, password: str) -> bool:
    """Whether `password` is the person's current password, as their provider says (not
    guarded by the lockout: callers wrap it in throttle.guarded)."""
    return _provider_accepts(user, password)


def _provider_accepts(user: User, password: str) -> bool:
    if user.provider == "password":
        return check_user_password(user, password)
    from ..login import provider_failures
    from ..plugins import hook
    for login in dict.fromkeys(name for name in (user.username, user.email) if name):
        with provider_failures(user.provider, "keystead_authenticate"):
            identity = hook().keystead_authenticate(provider=user.provider, username=login, password=password)
        if identity is not None and _is_theirs(identity, user):
            return True
    return False


def _is_theirs(identity, user: User) -> bool:
    """Whether the identity a provider vouched for is `user`'s own (not someone else's
    whose name happens to match)."""
    if identity.user_id is not None:
        return identity.user_id == user.id
    link = ExternalIdentity.get_or_none((ExternalIdentity.provider == identity.provider)
                                        & (ExternalIdentity.subject == identity.subject))
    return link is not None and link.user_id == user.id
