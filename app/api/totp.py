"""The caller's two-factor authentication (docs/api.md): /api/v1/users/me/totp.

Setting it up and turning it off prove the password (a token alone is not enough: it may
have leaked); turning it off proves a current code too. Wrong passwords and codes here
count toward the person's lockout, as at login, so neither can be guessed through these
endpoints."""
from __future__ import annotations

from flask import Blueprint, jsonify

from .. import throttle, totp
from ..accounts import check_user_password
from ..errors import ValidationFailed
from ..models import User
from .auth import current_api_user, login_required, not_with_api_key
from .jsonbody import fields, json_body
from .openapi import obj, operation, string

bp = Blueprint("api_totp", __name__)


def _check_password(user: User, password: str) -> None:
    if not check_user_password(user, password):
        raise ValidationFailed({"password": "The password is not correct."})


@bp.post("/users/me/totp")
@login_required
@not_with_api_key("change two-factor authentication")
def begin():
    user = current_api_user()
    data = fields(json_body(), required=("password",))
    throttle.guarded(user, lambda: _check_password(user, data["password"]))
    secret, url = totp.begin_setup(user)
    return jsonify(secret=secret, otpauth_url=url)


@bp.post("/users/me/totp/confirm")
@login_required
@not_with_api_key("change two-factor authentication")
def confirm():
    data = fields(json_body(), required=("code",))
    return jsonify(recovery_codes=totp.confirm_setup(current_api_user(), data["code"]))


@bp.delete("/users/me/totp")
@login_required
@not_with_api_key("change two-factor authentication")
def disable():
    user = current_api_user()
    data = fields(json_body(), required=("password", "code"))
    throttle.guarded(user, lambda: _check_password(user, data["password"]))
    # 409 totp_not_enabled when it is off: that is not a wrong code, and does not count.
    throttle.guarded(user, lambda: totp.disable(user, data["code"]))
    return "", 204


OPENAPI_PATHS: dict = {
    "/api/v1/users/me/totp": {
        "post": operation(
            "Begin setting up two-factor authentication", tag="two-factor", operation_id="beginTotp",
            description="Proves the password (422 on `password` when wrong; wrong passwords count "
                        "toward the lockout, 423). Returns a new secret, not active until confirmed "
                        "at /users/me/totp/confirm; 409 `totp_enabled` when it is already on. Not "
                        "with an API key (403).",
            request=obj(("password",), password=string("The caller's password.")),
            errors=(403, 409, 423),
            responses={200: ("The secret, and the same as an otpauth:// URL for a QR code",
                             obj(("secret", "otpauth_url"), secret=string("Base32."),
                                 otpauth_url=string(format="uri")))}),
        "delete": operation(
            "Turn two-factor authentication off", tag="two-factor", operation_id="disableTotp",
            description="Needs the password and a current code (or an unused recovery code); "
                        "wrong ones answer 422 and count toward the lockout (423). 409 "
                        "`totp_not_enabled` when it is off. Not with an API key (403).",
            request=obj(("password", "code"), password=string("The caller's password."),
                        code=string("A current code from the authenticator app, or a recovery code.")),
            errors=(403, 409, 423),
            responses={204: ("Off; the recovery codes no longer work", None)}),
    },
    "/api/v1/users/me/totp/confirm": {
        "post": operation(
            "Confirm the set-up with one code and turn two-factor authentication on", tag="two-factor",
            operation_id="confirmTotp",
            description="A wrong code answers 422 on `code`; 409 `totp_not_started` without a set-up "
                        "in progress. The ten recovery codes are shown only in this answer. Not with "
                        "an API key (403).",
            request=obj(("code",), code=string("The authenticator app's current code.")),
            errors=(403, 409),
            responses={200: ("On", obj(("recovery_codes",), recovery_codes={
                "type": "array", "items": string(), "minItems": 10, "maxItems": 10,
                "description": "Single-use codes for when the device is lost."}))}),
    },
}
