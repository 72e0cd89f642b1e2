"""Email verification, password reset and account confirmation: the flows behind the
single-use links (app/links.py), shared by the browser pages, the API and the CLI."""
from __future__ import annotations

import logging

from flask import current_app

from .accounts import normalise, require_password_provider, set_password, settings
from .errors import Conflict
from .links import consume_link, make_link, peek_link
from .mail import mail_configured, send_link_mail
from .models import User, database
from .outbox import outbox

log = logging.getLogger("keystead")


def send_verification_email(user: User) -> tuple[str | None, bool]:
    """Make a fresh verification link and mail it; (url, whether the mail went out).

    For the stand-in of a sign-up with an address already in use (accounts.register_user)
    no link is made: the address's owner is told someone tried to sign up with it."""
    owner = getattr(user, "stand_in_for", None)
    if owner is not None:
        url = current_app.extensions["keystead.settings"]["Server.PublicURL"] + "/reset-password"
        return None, send_link_mail(owner, "signup_attempt", url)
    url = make_link(user, "verify")
    return url, send_link_mail(user, "verify", url)


def make_verification_link(user: User) -> tuple[str, bool]:
    """For an administrator to pass on (when no mail is configured, say): a fresh
    verification link (24 hours; earlier unused ones end), mailed too when Email is set.
    Conflict `no_email` without an address, `already_verified` when it is verified."""
    if not user.email:
        raise Conflict(f"{user.username} has no email address to verify.", code="no_email")
    if user.email_verified:
        raise Conflict(f"The address of {user.username} is already verified.", code="already_verified")
    url = make_link(user, "verify")
    return url, send_link_mail(user, "verify", url)  # False when Email is not set: nothing is sent


def send_confirmation_email(user: User) -> tuple[str, bool]:
    """A fresh confirmation link (set a first password, 7 days); mailed when Email is set."""
    url = make_link(user, "confirm")
    return url, send_link_mail(user, "confirm", url)


def send_reset_email(user: User) -> tuple[str, bool]:
    """A fresh reset link (1 hour); mailed when Email is set."""
    url = make_link(user, "reset")
    return url, send_link_mail(user, "reset", url)


def create_person(username, email, password=None, *, first_name="", last_name="", role="viewer",
                  actor: User | None = None, columns: dict | None = None,
                  groups=()) -> tuple[User, str | None, bool]:
    """An administrator creates a person (admin pages, API and CLI alike): with a password
    they can log in at once; without one, a confirmation link (7 days) is made in the same
    transaction, then mailed when Email is set. `groups` (Group rows) are joined in the same
    transaction, each as `add_member` would (its roles must be the actor's to grant).
    Returns (user, link or None, mailed)."""
    from .accounts import create_user
    from .groups import add_member
    with database.atomic():
        # The administrator vouches for the address; a confirmation link proves it anyway.
        user = create_user(username, email, password, first_name=first_name, last_name=last_name,
                           role=role, email_verified=True, actor=actor, columns=columns)
        for group in groups:
            add_member(group, user, actor=actor)
        url = make_link(user, "confirm") if password is None else None
    sent = url is not None and send_link_mail(user, "confirm", url)
    return user, url, sent


def request_password_reset(email) -> None:
    """Mail a reset link if `email` belongs to a person who can reset here; say nothing
    either way. Only the shape of `email` is checked before answering: the look-up, the
    link and the mail happen after the answer (app/outbox.py), so the answer takes the
    same time whether or not the address is known."""
    if _plausible_address(email):
        outbox().put(_mail_reset_link, email.strip())


def _mail_reset_link(email: str) -> None:
    user = User.get_or_none(User.email_key == normalise(email))
    if user is None or user.locked:
        return
    try:
        require_password_provider(user)
    except Conflict:
        return
    send_link_mail(user, "reset", make_link(user, "reset"))


def request_verification_email(email) -> None:
    """Mail a fresh verification link if `email` belongs to a person whose address is not
    verified yet; say nothing either way (the work happens after the answer, as above)."""
    if _plausible_address(email):
        outbox().put(_mail_verification_link, email.strip())


def _mail_verification_link(email: str) -> None:
    user = User.get_or_none(User.email_key == normalise(email))
    if user is None or user.locked or user.email_verified:
        return
    send_link_mail(user, "verify", make_link(user, "verify"))


def offer_verification(user: User) -> None:
    """After a sign-up that needs no verification to log in: mail a verification link to the
    new, still unverified address (after the answer, when mail is configured). The address
    counts as verified only once its owner opens it."""
    if user.email and not user.email_verified and mail_configured():
        outbox().put(_mail_verification_link, user.email)


def _plausible_address(email) -> bool:
    return isinstance(email, str) and bool(email.strip()) and len(email) <= 320


def _mark_verified(user: User) -> None:
    User.update(email_verified=True, email_ever_verified=True).where(User.id == user.id).execute()


def verify_email(token) -> User:
    """Spend a verification link and mark the address verified."""
    with database.atomic():
        user = consume_link(token, "verify")  # only while the address is the one it went to
        _mark_verified(user)
    return User.get_by_id(user.id)


def reset_password(token, new_password) -> User:
    """Spend a reset link and set the new password; every session, token and API key of the
    person ends (a reset may follow a takeover, and what the intruder made must not outlive
    it). A refused password leaves the link unspent."""
    with database.atomic():
        user = consume_link(token, "reset")
        user = set_password(user, new_password, event="password_reset", revoke_api_keys=True)
        # Following a link proves the address it was sent to, which is still the person's
        # (a link sent to another address no longer works).
        _mark_verified(user)
    return User.get_by_id(user.id)


def confirm_account(token, new_password) -> User:
    """Spend a confirmation link: the person sets their first password."""
    with database.atomic():
        user = consume_link(token, "confirm")
        user = set_password(user, new_password, event="password_reset", details={"via": "confirmation"})
        _mark_verified(user)
    return User.get_by_id(user.id)


def link_user(token, purpose: str) -> User:
    """The person a still-valid link belongs to (for showing its page); InvalidLink else."""
    return peek_link(token, purpose)


def status_of(user: User) -> str:
    """The person's status as the admin pages show it: locked, pending, rejected,
    unconfirmed, active, or
    "email not verified" when RequireEmailVerification keeps them from logging in until
    their address answers ("active, email not verified" when it does not)."""
    if user.account_state != "active" or not user.email or user.email_verified:
        return user.account_state
    return "email not verified" if verification_required(user) else "active, email not verified"


def verification_required(user: User) -> bool:
    """Whether the person must verify an address before they can log in: with
    RequireEmailVerification, a self-registered account until its first address answers
    (a later address not yet verified never blocks a login)."""
    return (settings()["Password.RequireEmailVerification"] and not user.email_ever_verified
            and user.provider == "password")
