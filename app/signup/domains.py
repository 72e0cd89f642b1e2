"""Password.AllowedEmailDomains: which addresses people may sign up with or change their
own address to. An empty list allows any. A domain matches exactly: `example.com` does not
allow `mail.example.com` (list each subdomain). Administrators creating or changing people
are not bound by it."""
from __future__ import annotations

from flask import current_app


def allowed_domains() -> list[str]:
    """The allowed domains, lower-case and in ASCII (IDNA) form; [] allows any."""
    return list(current_app.extensions["keystead.settings"]["Password.AllowedEmailDomains"])


def _domain_of(address: str) -> str:
    domain = address.rsplit("@", 1)[-1].strip().rstrip(".").lower()
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            pass
    return domain


def email_domain_problem(email) -> str | None:
    """Why `email` is outside the allowed domains (naming them), or None. An address that is
    not one at all is left to the address rules, which say what is wrong with it."""
    domains = allowed_domains()
    if not domains or not isinstance(email, str) or "@" not in email:
        return None
    if _domain_of(email) in domains:
        return None
    if len(domains) == 1:
        return f"Use an email address at {domains[0]}: only that domain is allowed here."
    return f"Use an email address at one of these domains: {', '.join(domains)}."
