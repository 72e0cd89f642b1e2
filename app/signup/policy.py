"""The sign-up policy in one call for the sign-up service (app/accounts: register_user),
which the Sign Up page and POST /auth/register share: allowed email domains, the terms of
service, and the approval state a new account starts in."""
from __future__ import annotations

from .approval import ACTIVE, status_for_signup
from .domains import email_domain_problem
from .terms import signup_acceptance, signup_terms_problem


def signup_problems(email, accept_terms) -> dict[str, str]:
    """Why the policy refuses this sign-up, by field (`email`, `accept_terms`); {} if it
    does not."""
    problems = {}
    if p := email_domain_problem(email):
        problems["email"] = p
    if p := signup_terms_problem(accept_terms):
        problems["accept_terms"] = p
    return problems


def signup_columns(*, first_account: bool) -> dict:
    """The policy's columns of a new self-registered account (checked by signup_problems):
    its approval state (the first account of a database never waits) and the terms it
    accepted."""
    return {"status": ACTIVE if first_account else status_for_signup(), **signup_acceptance()}
