"""/api/v1/auth/*: sign-up, login, token refresh and logout, email verification and
password reset (docs/api.md). Each view parses its body (app/api/jsonbody.py), calls the
service function the browser pages call too, and serialises the result."""
from __future__ import annotations

from flask import Blueprint, jsonify

from .. import recovery
from ..accounts import register_user
from ..login import client_address, log_in_with_password
from ..models import database
from ..plugins import hook
from ..signup import challenge, invitations
from ..tokens import issue_token_pair, refresh_token_pair, revoke_family
from ..userfields.service import create_with_fields
from .auth import current_api_user, current_token, login_required
from .jsonbody import fields, json_body
from .openapi import obj, operation, ref, string
from .serialize import user_json

bp = Blueprint("api_auth_routes", __name__)

# The same answer whether or not the address is known: nothing to learn from it.
RESET_ACCEPTED = {"status": "accepted",
                  "message": "If an account has this address, a reset link is on its way."}
VERIFICATION_ACCEPTED = {"status": "accepted",
                         "message": "If an account with this address waits for verification, "
                                    "a new link is on its way."}


def _token_field(data: dict, name: str) -> str:
    """A body whose one field is the token `name`. A token of any length goes to the
    service, which answers 401/400 for every kind of bad token alike (a 10 KB one
    included); a missing or non-string one, NUL characters and lone surrogates are 422."""
    return fields(data, required=(name,), unbounded=(name,))[name]


@bp.post("/auth/register")
def register():
    body = json_body()
    # With an invitation the address is the invited one: `email` may be left out.
    invited = body.get("invitation") is not None
    data = fields(body, required=("username", "password") + (() if invited else ("email",)),
                  optional=("first_name", "last_name", "invitation", challenge.FIELD) + (("email",) if invited else ()),
                  booleans=("accept_terms",), objects=("fields", "metadata"))
    if invited:
        user = create_with_fields(lambda columns: invitations.accept_invitation(
            data["invitation"], data["username"], data["password"], email=data.get("email"),
            first_name=data.get("first_name", ""), last_name=data.get("last_name", ""),
            accept_terms=data.get("accept_terms", False), columns=columns),
            data.get("fields"), data.get("metadata"), signup=True)
        return jsonify(user_json(user)), 201
    challenge.check(data.get(challenge.FIELD))  # Password.SignupChallenge; an invitation is proof enough
    # Any other key (role, locked, email_verified...) is refused with 422 by fields().
    user = create_with_fields(lambda columns: register_user(data["username"], data["email"], data["password"],
                                                            data.get("first_name", ""), data.get("last_name", ""),
                                                            accept_terms=data.get("accept_terms", False),
                                                            columns=columns),
                              data.get("fields"), data.get("metadata"), signup=True)
    body = user_json(user, groups=[])
    if recovery.verification_required(user):
        # A failure to send is logged and said here; the account stays (a new link can be
        # asked for at /auth/resend-verification).
        _, body["verification_email_sent"] = recovery.send_verification_email(user)
    else:
        recovery.offer_verification(user)
    return jsonify(body), 201


@bp.post("/auth/login")
def login():
    data = json_body()
    # The username, or the email address instead of it: one of them is required.
    by_email = data.get("username") is None and data.get("email") is not None
    picked = fields(data, required=("email" if by_email else "username", "password"),
                    optional=("username", "email", "otp"), booleans=("accept_terms",))
    login_name = picked["email"] if by_email else picked["username"]
    # `otp`: a TOTP or recovery code, for people with two-factor authentication;
    # `accept_terms`: the current terms of service, when the person has yet to accept them.
    user = log_in_with_password(login_name, picked["password"], otp=picked.get("otp"),
                                accept_terms=picked.get("accept_terms", False))
    return jsonify(issue_token_pair(user))


@bp.post("/auth/refresh")
def refresh():
    return jsonify(refresh_token_pair(_token_field(json_body(), "refresh_token")))


@bp.post("/auth/logout")
@login_required
def logout():
    """End this session: the access token used and its refresh token (one family). Other
    sessions of the person go on. No body is read."""
    user, token = current_api_user(), current_token()
    with database.atomic():
        if token is not None:  # None: development mode, no token to end
            revoke_family(token.family)
        hook().keystead_event(event="logout", actor=user, target=user, outcome="success",
                              details={"client": client_address(), "via": "api"})
    return "", 204


@bp.post("/auth/verify-email")
def verify_email():
    user = recovery.verify_email(_token_field(json_body(), "token"))
    return jsonify(status="verified", username=user.username, email=user.email)


@bp.post("/auth/resend-verification")
def resend_verification():
    data = fields(json_body(), required=("email",), optional=(challenge.FIELD,))
    challenge.check(data.get(challenge.FIELD))  # before the address is looked at
    recovery.request_verification_email(data["email"])
    return jsonify(VERIFICATION_ACCEPTED), 202


@bp.post("/auth/request-password-reset")
def request_password_reset():
    data = fields(json_body(), required=("email",), optional=(challenge.FIELD,))
    challenge.check(data.get(challenge.FIELD))  # before the address is looked at
    recovery.request_password_reset(data["email"])
    return jsonify(RESET_ACCEPTED), 202


@bp.post("/auth/reset-password")
def reset_password():
    # The token is unbounded as in _token_field: any bad one gets the link's own answer.
    data = fields(json_body(), required=("token", "new_password"), unbounded=("token",))
    recovery.reset_password(data["token"], data["new_password"])
    return jsonify(status="password_reset",
                   message="The password was changed; every session, token and API key of the account "
                           "ended.")


def _required_strings(*names: str, **described: str) -> dict:
    return obj(names, **{n: string(described.get(n)) for n in names})


_LINK_TOKEN = "The token from the link: the last part of its path."
_CHALLENGE = string("Required while Password.SignupChallenge is true: a solved challenge from "
                    "`GET /auth/challenge` (the ALTCHA payload, base64). Each works once; a "
                    "missing, wrong, expired or reused one answers 422 naming `challenge`.")

OPENAPI_PATHS: dict = {
    "/api/v1/auth/register": {"post": operation(
        "Sign up", tag="auth", operation_id="register", secured=False,
        description="Open while Password.SelfRegistration is true, and always for the very first "
                    "account (which becomes an administrator). New accounts get "
                    "Authorization.DefaultUserRole; role, locked, email_verified or any other "
                    "field not listed here answers 422 naming it. With Password.RequireEmailVerification a verification link is "
                    "mailed and `verification_email_sent` says whether the mail went out; an "
                    "address already in use then answers like a new sign-up (nothing is "
                    "stored and the address's owner is mailed a notice), so 409 names only a "
                    "taken username. Without it, 409 names a taken username or address. "
                    "With `invitation` (the token of an invitation link) sign-up works even with "
                    "SelfRegistration off: the account gets the invitation's address (verified), "
                    "role and groups; `email` may be left out, or must be the invited address "
                    "(422); an invalid, expired, revoked or used invitation answers 400 "
                    "`invalid_link` (`fields.invitation`). "
                    "With Password.SignupApproval the new account has `status: pending` and "
                    "cannot log in until an approver approves it. With "
                    "Password.AllowedEmailDomains an address at another domain answers 422 on "
                    "`email`; with terms of service (Password.TermsURL and TermsVersion) "
                    "`accept_terms` must be true, else 422 on `accept_terms`. "
                    "`fields` carries the custom profile fields asked at sign-up (the required "
                    "ones must be sent; others answer 422 naming `fields.<name>`).",
        request=obj(("username", "password"),
                    username=string("3–64 characters: letters, digits, _ and ., starting with a letter."),
                    email=string("Required unless `invitation` is sent.", format="email"), password=string(),
                    first_name=string(), last_name=string(),
                    invitation=string("The token of an invitation link: the last part of its path."),
                    challenge=_CHALLENGE,
                    accept_terms={"type": "boolean", "description": "Accepts the terms of service "
                                  "at Password.TermsURL (required when they are set)."},
                    fields=ref("UserFields"), metadata=ref("Metadata")),
        responses={201: ("The new account.", {"allOf": [ref("User"), {"properties": {
            "verification_email_sent": {"type": "boolean", "description": "Present when the "
                                        "address must be verified before logging in."}}}]})},
        errors=(400, 403, 409, 422))},
    "/api/v1/auth/login": {"post": operation(
        "Log in with a username (or email) and password", tag="auth", operation_id="login",
        secured=False,
        description="401 `invalid_credentials` is the same for an unknown user and a wrong "
                    "password. 403 `email_not_verified` and 423 for an account locked by an "
                    "administrator answer only the right password (423 without Retry-After); "
                    "423 during a lockout (after Password.LockoutThreshold failures, counted per "
                    "account whether its username or email address was sent, wrong codes "
                    "included) answers every password, with Retry-After. With two-factor authentication on, the right password without "
                    "`otp` answers 401 `otp_required`, a wrong code 401 `invalid_otp`. Only the "
                    "right password learns 403 `approval_pending` (a sign-up waiting for "
                    "approval) or 403 `approval_rejected`, and 403 `terms_not_accepted` when the "
                    "person has yet to accept the current terms of service: send the login "
                    "again with `accept_terms: true`. With two-factor authentication on, "
                    "`terms_not_accepted` comes once `otp` is sent, before the code is checked "
                    "(so the same code can be sent again); the acceptance is recorded only "
                    "with a right code.",
        request=obj(("password",), username=string("The username or the email address."),
                    email=string("Instead of username."), password=string(),
                    otp=string("The authenticator app's current code, or a recovery code."),
                    accept_terms={"type": "boolean", "description": "Accepts the current terms of "
                                  "service (Password.TermsVersion at Password.TermsURL)."}),
        responses={200: ("A new token pair (a new session).", ref("TokenPair"))},
        errors=(401, 403, 423))},
    "/api/v1/auth/refresh": {"post": operation(
        "Exchange a refresh token for a new pair", tag="auth", operation_id="refresh",
        secured=False,
        description="A refresh token works once. Presenting a spent one again revokes its whole "
                    "family, the newest pair included.",
        request=_required_strings("refresh_token"),
        responses={200: ("A new token pair in the same session.", ref("TokenPair"))},
        errors=(401,))},
    "/api/v1/auth/logout": {"post": operation(
        "Log out this session", tag="auth", operation_id="logout",
        description="Revokes the access token used and its refresh token. No body.",
        responses={204: ("Logged out.", None)})},
    "/api/v1/auth/verify-email": {"post": operation(
        "Verify an email address with the mailed link's token", tag="auth",
        operation_id="verifyEmail", secured=False,
        request=_required_strings("token", token=_LINK_TOKEN),
        responses={200: ("Verified.", obj(("status", "username", "email"), status=string(const="verified"),
                                          username=string(), email=string()))},
        errors=(400,))},
    "/api/v1/auth/resend-verification": {"post": operation(
        "Mail a new verification link", tag="auth", operation_id="resendVerification",
        secured=False,
        description="Always 202 with the same body, whether or not the address is known. "
                    "With Password.SignupChallenge, 422 on `challenge` without a solved one.",
        request=obj(("email",), email=string(), challenge=_CHALLENGE),
        responses={202: ("Accepted.", ref("Status"))})},
    "/api/v1/auth/request-password-reset": {"post": operation(
        "Mail a password reset link", tag="auth", operation_id="requestPasswordReset",
        secured=False,
        description="Always 202 with the same body, whether or not the address is known. The "
                    "link works once, within 1 hour. With Password.SignupChallenge, 422 on "
                    "`challenge` without a solved one (checked before the address is looked at).",
        request=obj(("email",), email=string(), challenge=_CHALLENGE),
        responses={202: ("Accepted.", ref("Status"))})},
    "/api/v1/auth/reset-password": {"post": operation(
        "Set a new password with a reset link's token", tag="auth", operation_id="resetPassword",
        secured=False,
        description="Every session, token and personal API key of the account ends.",
        request=obj(("token", "new_password"), token=string(_LINK_TOKEN), new_password=string()),
        responses={200: ("The password was changed.", ref("Status"))},
        errors=(400,))},
}
