"""/api/v1/users/{id}/approve and /reject: deciding on sign-ups waiting for approval
(Password.SignupApproval; permission `people.approve`), on the same service functions as
the admin pages and the CLI (app/signup/approval.py)."""
from __future__ import annotations

from flask import Blueprint, jsonify

from .. import accounts
from ..signup import approval
from .auth import current_api_user, permission_required
from .openapi import operation, path_parameter, ref
from .serialize import user_json

bp = Blueprint("api_approvals", __name__)


@bp.post("/users/<int:id>/approve")
@permission_required(approval.APPROVE)
def approve(id):
    return jsonify(user_json(approval.approve(current_api_user(), accounts.get_user(id))))


@bp.post("/users/<int:id>/reject")
@permission_required(approval.APPROVE)
def reject(id):
    return jsonify(user_json(approval.reject(current_api_user(), accounts.get_user(id))))


_USER_ID = path_parameter("id", "The person's id.")

OPENAPI_PATHS: dict = {
    "/api/v1/users/{id}/approve": {"post": operation(
        "Approve a sign-up waiting for approval", tag="users", operation_id="approveUser",
        parameters=[_USER_ID],
        description="Needs `people.approve`. The person becomes `active`, can log in, and is "
                    "mailed. No body. 409 `not_pending` when they are not pending.",
        responses={200: ("The person, now active.", ref("User"))}, errors=(403, 404, 409))},
    "/api/v1/users/{id}/reject": {"post": operation(
        "Reject a sign-up waiting for approval", tag="users", operation_id="rejectUser",
        parameters=[_USER_ID],
        description="Needs `people.approve`. The person becomes `rejected`, cannot log in, and "
                    "is mailed; the account stays (delete it to free the username and address). "
                    "No body. 409 `not_pending` when they are not pending.",
        responses={200: ("The person, now rejected.", ref("User"))}, errors=(403, 404, 409))},
}
