"""/api/v1/invitations: invite people by email (`people.invite`, docs/api.md), on the same
service functions as /admin/invitations and `keystead users invite`."""
from __future__ import annotations

from flask import Blueprint, jsonify

from ..signup import invitations
from .auth import current_api_user, permission_required
from .jsonbody import fields, json_body
from .openapi import obj, operation, path_parameter, ref, string

bp = Blueprint("api_invitations", __name__)


@bp.post("/invitations")
@permission_required("people.invite")
def create_invitation():
    data = fields(json_body(), required=("email",), optional=("role",), string_lists=("groups",))
    invitation, url = invitations.create_invitation(current_api_user(), data["email"], data.get("role"),
                                                    data.get("groups"))
    body = invitations.invitation_json(invitation, url)
    body["sent"] = invitations.send_invitation_mail(invitation, url)
    return jsonify(body), 201


@bp.get("/invitations")
@permission_required("people.invite")
def list_invitations():
    rows = invitations.list_open_invitations(current_api_user())
    return jsonify(results=[invitations.invitation_json(i) for i in rows], total=len(rows))


@bp.delete("/invitations/<int:id>")
@permission_required("people.invite")
def revoke_invitation(id):
    invitations.revoke_invitation(current_api_user(), id)
    return "", 204


_DATE = {"type": "string", "format": "date-time"}

OPENAPI_SCHEMAS = {
    "Invitation": obj(("id", "email", "role", "groups", "created_at", "expires_at", "created_by"),
                      id={"type": "integer"}, email=string(format="email"),
                      role=string("The role the new account gets."),
                      groups={"type": "array", "items": {"type": "string"},
                              "description": "Names of the groups the new account joins."},
                      created_at=_DATE, expires_at={**_DATE, "description": "7 days after created_at."},
                      created_by={"type": ["string", "null"],
                                  "description": "The inviter's username; null from the command line."}),
}

OPENAPI_PATHS: dict = {
    "/api/v1/invitations": {
        "post": operation(
            "Invite someone by email", tag="invitations", operation_id="createInvitation",
            description="Needs `people.invite`. The link (`url`, `<PublicURL>/invite/<token>`) is "
                        "shown only here; it works once, within 7 days, even with "
                        "Password.SelfRegistration off, and is mailed to the address when Email "
                        "is configured (`sent`). `role` defaults to Authorization.DefaultUserRole; "
                        "403 `forbidden` for a role carrying a permission the caller lacks, or a "
                        "group the caller does not belong to without `groups.manage`; 422 for an "
                        "unknown role or group; 409 `taken` when the address has an account. "
                        "Earlier open invitations to the address end.",
            request=obj(("email",), email=string(format="email"), role=string(),
                        groups={"type": "array", "items": {"type": "string"},
                                "description": "Names of existing groups."}),
            responses={201: ("The invitation, with its link.", {"allOf": [ref("Invitation"), {
                "required": ["url", "sent"],
                "properties": {"url": string("The link to pass on; never shown again."),
                               "sent": {"type": "boolean",
                                        "description": "Whether it was mailed to the address."}}}]})},
            errors=(403, 409)),
        "get": operation(
            "Open invitations", tag="invitations", operation_id="listInvitations",
            description="Needs `people.invite`. Invitations not yet used, revoked or expired, "
                        "newest first, without their links: everyone's for holders of "
                        "`people.manage`, else the caller's own.",
            responses={200: ("The open invitations.", obj(
                ("results", "total"), results={"type": "array", "items": ref("Invitation")},
                total={"type": "integer"}))},
            errors=(403,)),
    },
    "/api/v1/invitations/{id}": {
        "delete": operation(
            "Revoke an invitation", tag="invitations", operation_id="revokeInvitation",
            parameters=[path_parameter("id", "The invitation's id.")],
            description="Needs `people.invite`; another inviter's invitation needs `people.manage`. "
                        "The link stops working. 404 when no such invitation is open.",
            responses={204: ("Revoked.", None)}, errors=(403, 404)),
    },
}
