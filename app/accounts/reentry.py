"""Re-entering the current password before a sensitive change made through the API (an
address change): checked by the person's own provider (the password table here, or a
directory such as LDAP or PAM), under the person's lockout like a login."""
from __future__ import annotations

from flask import current_app

from ..errors import Forbidden, ValidationFailed
from ..models import ExternalIdentity, User
from .rules import check_user_password


def check_current_password(user: User, password, field: str = "current_password") -> None:
    """Raise unless `password` is the person's current password: 403 `password_required`
    for an account whose provider keeps no password (OIDC, SAML: they use the browser
    after a fresh login there), 422 on `field` when it is missing or wrong. A wrong one
    counts toward the lockout (423 once locked out)."""
    from ..throttle import guarded
    info = current_app.extensions["keystead.providers"].get(user.provider)
    if info is None or not info.supports_password:
        raise Forbidden("Your account has no password here. Make this change in the browser after "
                        "logging in again through your sign-in provider.", code="password_required")
    if not isinstance(password, str) or not password:
        raise ValidationFailed({field: "Enter your current password to make this change."})

    def check():
        if not _provider_accepts(user, password):
            raise ValidationFailed({field: "The current password is not correct."})
    guarded(user.username, check)


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
