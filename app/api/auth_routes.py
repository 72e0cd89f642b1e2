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
from ..tokens import issue_token_pair, refresh_token_pair, revoke_family
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
    data = fields(json_body(), required=("username", "email", "password"),
                  optional=("first_name", "last_name"))
    # Any other key (role, locked, email_verified...) is refused with 422 by fields().
    user = register_user(data["username"], data["email"], data["password"],
                         data.get("first_name", ""), data.get("last_name", ""))
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
                    optional=("username", "email", "otp"))
    login_name = picked["email"] if by_email else picked["username"]
    # `otp`: a TOTP or recovery code, for people with two-factor authentication.
    user = log_in_with_password(login_name, picked["password"], otp=picked.get("otp"))
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
    recovery.request_verification_email(fields(json_body(), required=("email",))["email"])
    return jsonify(VERIFICATION_ACCEPTED), 202


@bp.post("/auth/request-password-reset")
def request_password_reset():
    recovery.request_password_reset(fields(json_body(), required=("email",))["email"])
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
                    "taken username. Without it, 409 names a taken username or address.",
        request=obj(("username", "email", "password"),
                    username=string("3–64 characters: letters, digits, _ and ., starting with a letter."),
                    email=string(format="email"), password=string(),
                    first_name=string(), last_name=string()),
        responses={201: ("The new account.", {"allOf": [ref("User"), {"properties": {
            "verification_email_sent": {"type": "boolean", "description": "Present when the "
                                        "address must be verified before logging in."}}}]})},
        errors=(403, 409))},
    "/api/v1/auth/login": {"post": operation(
        "Log in with a username (or email) and password", tag="auth", operation_id="login",
        secured=False,
        description="401 `invalid_credentials` is the same for an unknown user and a wrong "
                    "password. 403 `email_not_verified` and 423 for an account locked by an "
                    "administrator answer only the right password (423 without Retry-After); "
                    "423 during a lockout (after Password.LockoutThreshold failures, counted per "
                    "account whether its username or email address was sent, wrong codes "
                    "included) answers every password, with Retry-After. With two-factor authentication on, the right password without "
                    "`otp` answers 401 `otp_required`, a wrong code 401 `invalid_otp`.",
        request=obj(("password",), username=string("The username or the email address."),
                    email=string("Instead of username."), password=string(),
                    otp=string("The authenticator app's current code, or a recovery code.")),
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
        description="Always 202 with the same body, whether or not the address is known.",
        request=_required_strings("email"),
        responses={202: ("Accepted.", ref("Status"))})},
    "/api/v1/auth/request-password-reset": {"post": operation(
        "Mail a password reset link", tag="auth", operation_id="requestPasswordReset",
        secured=False,
        description="Always 202 with the same body, whether or not the address is known. The "
                    "link works once, within 1 hour.",
        request=_required_strings("email"),
        responses={202: ("Accepted.", ref("Status"))})},
    "/api/v1/auth/reset-password": {"post": operation(
        "Set a new password with a reset link's token", tag="auth", operation_id="resetPassword",
        secured=False,
        description="Every session, token and personal API key of the account ends.",
        request=obj(("token", "new_password"), token=string(_LINK_TOKEN), new_password=string()),
        responses={200: ("The password was changed.", ref("Status"))},
        errors=(400,))},
}
