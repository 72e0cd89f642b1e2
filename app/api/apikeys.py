"""Personal API keys: the caller's own at /api/v1/users/me/api-keys, and anyone's for
administrators at /api/v1/users/{id}/api-keys."""
from __future__ import annotations

from flask import Blueprint, jsonify

from ..accounts import get_user
from ..apikeys import create_api_key_with_password, list_api_keys, revoke_api_key
from ..models import iso
from .auth import current_api_user, login_required, not_with_api_key, permission_required
from .jsonbody import fields, json_body
from .openapi import obj, operation, path_parameter, string

bp = Blueprint("api_apikeys", __name__)


def key_json(record) -> dict:
    return {"id": record.id, "name": record.name, "created_at": iso(record.created_at),
            "last_used_at": iso(record.last_used_at)}


@bp.post("/users/me/api-keys")
@login_required
@not_with_api_key("create API keys")
def create_key():
    # Both are checked by the service, so every problem is named at once, and people without
    # a password here learn that (403) rather than that a field is missing.
    data = fields(json_body(), optional=("name", "current_password"))
    record, key = create_api_key_with_password(current_api_user(), data.get("name"),
                                               data.get("current_password"))
    return jsonify({**key_json(record), "key": key}), 201


@bp.get("/users/me/api-keys")
@login_required
def list_keys():
    return jsonify(results=[key_json(k) for k in list_api_keys(current_api_user())])


@bp.delete("/users/me/api-keys/<key_id>")
@login_required
def revoke_key(key_id):
    user = current_api_user()
    revoke_api_key(user, key_id, actor=user)
    return "", 204


@bp.get("/users/<int:id>/api-keys")
@permission_required("keys.manage_all")
def list_person_keys(id):
    return jsonify(results=[key_json(k) for k in list_api_keys(get_user(id))])


@bp.delete("/users/<int:id>/api-keys/<key_id>")
@permission_required("keys.manage_all")
def revoke_person_key(id, key_id):
    revoke_api_key(get_user(id), key_id, actor=current_api_user())
    return "", 204


_KEY = obj(("id", "name", "created_at", "last_used_at"), id={"type": "integer"}, name=string(),
           created_at=string(format="date-time"), last_used_at={"type": ["string", "null"], "format": "date-time"})
_KEYS = obj(("results",), results={"type": "array", "items": _KEY})
_USER_ID = path_parameter("id", "The person's id.")
_KEY_ID = path_parameter("key_id", "The key's id")

OPENAPI_PATHS: dict = {
    "/api/v1/users/me/api-keys": {
        "post": operation(
            "Create a personal API key (the key is shown only in this answer)", tag="api-keys",
            operation_id="createApiKey",
            description="Needs `current_password`: a wrong one answers 422 and counts toward the "
                        "lockout (423). People without a password here (an outside provider's) "
                        "get 403 `password_required` and create keys in the browser. A request "
                        "made with an API key can never create one (403 `forbidden`).",
            request=obj(("name", "current_password"), name=string(maxLength=100), current_password=string()),
            responses={201: ("The new key", obj(("id", "name", "key", "created_at"),
                                                id={"type": "integer"}, name=string(), key=string(),
                                                created_at=string(format="date-time"),
                                                last_used_at={"type": ["string", "null"]}))},
            errors=(403, 423)),
        "get": operation("List your API keys (without the keys)", tag="api-keys",
                         responses={200: ("Your keys", _KEYS)}),
    },
    "/api/v1/users/me/api-keys/{key_id}": {
        "delete": operation("Revoke one of your API keys", tag="api-keys", errors=(404,),
                            parameters=[_KEY_ID], responses={204: ("Revoked", None)}),
    },
    "/api/v1/users/{id}/api-keys": {
        "get": operation("List a person's API keys (without the keys)", tag="api-keys",
                         operation_id="listPersonApiKeys", parameters=[_USER_ID],
                         description="Needs `keys.manage_all`.",
                         responses={200: ("Their keys", _KEYS)}, errors=(403, 404)),
    },
    "/api/v1/users/{id}/api-keys/{key_id}": {
        "delete": operation("Revoke a person's API key", tag="api-keys", operation_id="revokePersonApiKey",
                            parameters=[_USER_ID, _KEY_ID],
                            description="Needs `keys.manage_all`. Programs using the key can no longer "
                                        "call the API.",
                            responses={204: ("Revoked", None)}, errors=(403, 404)),
    },
}
