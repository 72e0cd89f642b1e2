"""/api/v1/users/me*: the caller's own account (docs/api.md)."""
from __future__ import annotations

from flask import Blueprint, jsonify

from .. import recovery
from ..accounts import change_password, delete_own_account, update_own_info
from ..authorization import permissions_of
from ..userfields.service import check_profile, update_profile
from .auth import current_api_user, current_token, login_required, not_with_api_key, refuse_api_key
from .jsonbody import fields, json_body
from .openapi import obj, operation, ref, string
from .serialize import user_json

bp = Blueprint("api_me", __name__)


@bp.get("/users/me")
@login_required
def me():
    user = current_api_user()
    # groups first: the one query that reads them also reads the roles they carry
    body = user_json(user)
    body["permissions"] = sorted(permissions_of(user))
    return jsonify(body)


@bp.patch("/users/me")
@login_required
def update_me():
    user = current_api_user()
    data = fields(json_body(), optional=("email", "first_name", "last_name", "current_password"),
                  objects=("fields", "metadata"))
    profile = {k: data.pop(k) for k in ("fields", "metadata") if k in data}
    if "email" in data:
        refuse_api_key("change the email address")
    check_profile(user, user, **profile)  # refused before the password is checked or anything changes
    updated = update_own_info(user, **data) if data or not profile else user
    if profile:
        updated = update_profile(user, updated, **profile)
    body = user_json(updated)
    if updated.email_key != user.email_key:
        _, body["verification_email_sent"] = recovery.send_verification_email(updated)
    return jsonify(body)


@bp.post("/users/me/password")
@login_required
@not_with_api_key("change the password")
def change_my_password():
    data = fields(json_body(), required=("current_password", "new_password"), booleans=("revoke_api_keys",))
    token = current_token()
    # Every other session and token ends; the one making the change keeps working.
    change_password(current_api_user(), data["current_password"], data["new_password"],
                    keep_token_family=token.family if token is not None else None,
                    revoke_api_keys=data.get("revoke_api_keys", False))
    return "", 204


@bp.delete("/users/me")
@login_required
@not_with_api_key("delete the account")
def delete_me():
    data = fields(json_body(), required=("password",))
    delete_own_account(current_api_user(), data["password"])
    return "", 204


OPENAPI_PATHS: dict = {
    "/api/v1/users/me": {
        "get": operation("The caller's account", tag="me", operation_id="getMe",
                         description="With `permissions`: every permission the caller holds, "
                                     "from their role, the roles of their groups and plugins.",
                         responses={200: ("The account.", {"allOf": [ref("User"), obj(
                             ("permissions",), permissions={
                                 "type": "array", "items": {"type": "string"},
                                 "description": "Sorted permission names, e.g. documents.read."})]})}),
        "patch": operation(
            "Change the caller's email and names", tag="me", operation_id="updateMe",
            description="Allowed while Authorization.UserInfoEditableBy is AdminAndSelf (403 "
                        "`not_editable` otherwise, except for administrators). Fields left out "
                        "stay as they are. Changing `email` needs `current_password` (422 on "
                        "`current_password` when missing or wrong; wrong passwords count toward "
                        "the lockout, 423) and is refused to a request made with an API key "
                        "(403); an account whose provider keeps no password (OIDC, SAML) gets "
                        "403 `password_required` and changes its address in the browser. The "
                        "new address is unverified until its owner follows the link mailed to "
                        "it (`verification_email_sent` says whether it went out); the old "
                        "address is told, and links sent to it stop working. `fields` changes the "
                        "custom profile fields sent (null clears one): only those editable by "
                        "the person (422 naming `fields.<name>` otherwise; a required one cannot "
                        "be cleared); `metadata` replaces the metadata object (a JSON object of "
                        "at most 16 KB, 422 naming `metadata` otherwise).",
            request=obj((), email=string(format="email"), first_name=string(), last_name=string(),
                        current_password=string("Needed to change `email`."),
                        fields=ref("UserFields"), metadata=ref("Metadata")),
            responses={200: ("The changed account.", {"allOf": [ref("User"), {"properties": {
                "verification_email_sent": {"type": "boolean"}}}]})},
            errors=(403, 409, 423)),
        "delete": operation(
            "Delete the caller's account", tag="me", operation_id="deleteMe",
            description="Needs the password (422 on `password` when wrong; wrong passwords count "
                        "toward the lockout, 423). Every token of the account ends, and the "
                        "person's documents are deleted too, those shared with groups included. The last "
                        "administrator cannot delete themselves (409). Not with an API key (403).",
            request=obj(("password",), password=string()),
            responses={204: ("Deleted.", None)}, errors=(403, 409, 423)),
    },
    "/api/v1/users/me/password": {"post": operation(
        "Change the caller's password", tag="me", operation_id="changePassword",
        description="Every other session and token of the account ends; the token used for "
                    "this request and its refresh token keep working. Personal API keys keep "
                    "working unless `revoke_api_keys` is true. 409 "
                    "`password_managed_elsewhere` for accounts of an outside provider. A wrong "
                    "current password answers 422 and counts toward the lockout (423). Not "
                    "with an API key (403).",
        request=obj(("current_password", "new_password"), current_password=string(),
                    new_password=string(),
                    revoke_api_keys={"type": "boolean", "description": "Also revoke every "
                                     "personal API key (default false)."}),
        responses={204: ("Changed.", None)}, errors=(403, 409, 423))},
}
