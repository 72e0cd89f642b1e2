"""Terms of service (Password.TermsURL and Password.TermsVersion, both set): a sign-up needs
them accepted, and a person who accepted an older version (or none) is asked again at
their next login, before any session or token is issued. Sessions and tokens issued
before a new version keep working until they end; the next login asks."""
from __future__ import annotations

from flask import current_app

from ..errors import ServiceError
from ..models import User, database, utcnow
from ..plugins import hook

MUST_ACCEPT = "Accept the terms of service to continue."


class TermsNotAccepted(ServiceError):
    """The password (and second factor) were right, but the person has not accepted the
    current terms: the API asks for `"accept_terms": true`, the browser shows the terms
    page. Only the right password gets here."""
    status = 403
    code = "terms_not_accepted"

    def __init__(self, user: User | None = None):
        url, version = current_terms() or ("", "")
        super().__init__(f"Accept the terms of service (version {version}, {url}) to log in: send "
                         "\"accept_terms\": true with the login.",
                         {"accept_terms": MUST_ACCEPT})
        self.user = user


def current_terms() -> tuple[str, str] | None:
    """(TermsURL, TermsVersion) when both are set; None when there are no terms."""
    s = current_app.extensions["keystead.settings"]
    if s["Password.TermsURL"] and s["Password.TermsVersion"]:
        return s["Password.TermsURL"], str(s["Password.TermsVersion"])
    return None


def owes_terms(user: User) -> bool:
    """Whether `user` has yet to accept the current version."""
    terms = current_terms()
    return terms is not None and user.terms_accepted_version != terms[1]


def signup_terms_problem(accept_terms) -> str | None:
    """Why a sign-up cannot go ahead on terms grounds (the box not ticked), or None."""
    if current_terms() is not None and accept_terms is not True:
        return MUST_ACCEPT
    return None


def signup_acceptance() -> dict:
    """The columns a new account gets for terms it accepted at sign-up ({} without terms)."""
    terms = current_terms()
    if terms is None:
        return {}
    return {"terms_accepted_version": terms[1], "terms_accepted_at": utcnow()}


def record_acceptance(user: User) -> User:
    """Record that `user` accepted the current terms now (a `terms_accept` event)."""
    columns = signup_acceptance()
    if not columns:
        return user
    with database.atomic():
        User.update(**columns).where(User.id == user.id).execute()
        hook().keystead_event(event="terms_accept", actor=user, target=user, outcome="success",
                              details={"version": columns["terms_accepted_version"]})
    return User.get_by_id(user.id)


def check_terms_at_login(user: User, accept_terms) -> User:
    """At login, after the password (and second factor): raise TermsNotAccepted when the
    person owes the current terms and did not accept them now; record the acceptance when
    they did."""
    if not owes_terms(user):
        return user
    if accept_terms is not True:
        raise TermsNotAccepted(user)
    return record_acceptance(user)
