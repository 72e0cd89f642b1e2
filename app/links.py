"""Single-use links: email verification (24 hours), confirmation of an account
made without a password (7 days) and password reset (1 hour).

The URL carries a signed id; the OneTimeLink row makes it single-use (an atomic consume)
and binds it to the password hash it was made under, so a password change spends it, and
to its person's uniquifier, so it never opens anyone else's account, and to the address
it was sent to, so a link stops working once the person's address is another: following
it can only ever prove the address it went to.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

from . import passwords
from .errors import ServiceError
from .models import OneTimeLink, User, database, utcnow

LIFETIMES = {"verify": 24 * 3600, "confirm": 7 * 24 * 3600, "reset": 3600}
PATHS = {"verify": "/verify-email/", "confirm": "/confirm/", "reset": "/reset-password/"}
# A link path followed by its token, wherever it appears in a line of text (invitation
# links, app/signup/invitations.py, are secrets too).
_TOKEN_IN_PATH = re.compile("(" + "|".join(re.escape(p) for p in (*PATHS.values(), "/invite/"))
                            + r")[^/?#\s\"']+")
REDACTED = "[redacted]"


class InvalidLink(ServiceError):
    status = 400
    code = "invalid_link"

    def __init__(self, message: str = "This link is invalid, has expired or was already used.",
                 fields: dict | None = None):
        super().__init__(message, fields or {"token": message})


def redact_link_tokens(text: str) -> str:
    """`text` with the token of every link path in it replaced by [redacted]: whoever
    reads a log must not be able to use a link from it (access logs, error messages)."""
    return _TOKEN_IN_PATH.sub(r"\1" + REDACTED, text)


def _serializer(purpose: str) -> URLSafeSerializer:
    return URLSafeSerializer(current_app.extensions["keystead.secret_key"], salt=f"keystead.link.{purpose}")


def address_fingerprint(email_key: str | None) -> str:
    """A short digest of a normalised address (or of none), to bind a link to it."""
    return hashlib.sha256(("address:" + (email_key or "-")).encode()).hexdigest()[:32]


def make_link_token(user: User, purpose: str) -> str:
    """A new single-use token for `purpose`; earlier unused links of the same purpose end."""
    link_id = secrets.token_urlsafe(24)
    with database.atomic():
        OneTimeLink.update(used_at=utcnow()).where(
            (OneTimeLink.user == user.id) & (OneTimeLink.purpose == purpose)
            & OneTimeLink.used_at.is_null()).execute()
        OneTimeLink.create(id=link_id, user=user.id, user_key=user.uniquifier, purpose=purpose,
                           expires_at=int(time.time()) + LIFETIMES[purpose],
                           password_fingerprint=passwords.fingerprint(user.password_hash),
                           email_fingerprint=address_fingerprint(user.email_key))
    return _serializer(purpose).dumps(link_id)


def link_url(token: str, purpose: str) -> str:
    """The full address of a link, built from Server.PublicURL."""
    base = current_app.extensions["keystead.settings"]["Server.PublicURL"]
    return base + PATHS[purpose] + token


def make_link(user: User, purpose: str) -> str:
    return link_url(make_link_token(user, purpose), purpose)


def pending_link(user: User, purpose: str) -> tuple[str, int] | None:
    """(url, expires_at) of the person's newest unused, unexpired link of `purpose`, for an
    administrator to copy from the person's page; None when there is none."""
    row = (OneTimeLink.select()
           .where((OneTimeLink.user == user.id) & (OneTimeLink.user_key == user.uniquifier)
                  & (OneTimeLink.purpose == purpose) & OneTimeLink.used_at.is_null()
                  & (OneTimeLink.expires_at > int(time.time()))
                  & (OneTimeLink.password_fingerprint == passwords.fingerprint(user.password_hash))
                  & (OneTimeLink.email_fingerprint == address_fingerprint(user.email_key)))
           .order_by(OneTimeLink.created_at.desc()).first())
    if row is None:
        return None
    return link_url(_serializer(purpose).dumps(row.id), purpose), row.expires_at


def _valid_row(token, purpose: str) -> tuple[OneTimeLink, User]:
    if not isinstance(token, str) or not token or len(token) > 512:
        raise InvalidLink()
    serializer = _serializer(purpose)
    try:
        link_id = serializer.loads(token)
    except (BadSignature, UnicodeError, ValueError):
        raise InvalidLink() from None
    if not hmac.compare_digest(serializer.dumps(link_id), token):
        raise InvalidLink()  # another spelling of a signed string (see tokens._token_id)
    row = OneTimeLink.get_or_none((OneTimeLink.id == str(link_id)) & (OneTimeLink.purpose == purpose))
    if row is None or row.used_at is not None or row.expires_at <= time.time():
        raise InvalidLink()
    user = User.get_or_none((User.id == row.user_id) & (User.uniquifier == row.user_key))
    if (user is None or row.password_fingerprint != passwords.fingerprint(user.password_hash)
            or not hmac.compare_digest(row.email_fingerprint or "", address_fingerprint(user.email_key))):
        raise InvalidLink()
    return row, user


def peek_link(token, purpose: str) -> User:
    """The user of a valid, unused link, without spending it (to show the page)."""
    return _valid_row(token, purpose)[1]


def end_links(user: User) -> None:
    """Spend every unused link of the person (their address changed: links sent to the old
    one must not come back to life should the address ever be the old one again)."""
    OneTimeLink.update(used_at=utcnow()).where(
        (OneTimeLink.user == user.id) & OneTimeLink.used_at.is_null()).execute()


def consume_link(token, purpose: str) -> User:
    """Spend a link once; a second use (even a racing one) raises InvalidLink.
    Call inside the transaction of the change the link allows."""
    row, user = _valid_row(token, purpose)
    spent = (OneTimeLink.update(used_at=utcnow())
             .where((OneTimeLink.id == row.id) & OneTimeLink.used_at.is_null()).execute())
    if not spent:
        raise InvalidLink()
    return user
