"""Personal API keys of the caller: /api/v1/users/me/api-keys."""
from __future__ import annotations

from flask import Blueprint, jsonify

from ..apikeys import create_api_key, list_api_keys, revoke_api_key
from ..models import iso
from .auth import current_api_user, login_required
from .jsonbody import fields, json_body
from .openapi import obj, operation, path_parameter, string

bp = Blueprint("api_apikeys", __name__)


def key_json(record) -> dict:
    return {"id": record.id, "name": record.name, "created_at": iso(record.created_at),
            "last_used_at": iso(record.last_used_at)}


@bp.post("/users/me/api-keys")
@login_required
def create_key():
    data = fields(json_body(), required=("name",))
    record, key = create_api_key(current_api_user(), data["name"])
    return jsonify({**key_json(record), "key": key}), 201


@bp.get("/users/me/api-keys")
@login_required
def list_keys():
    return jsonify(results=[key_json(k) for k in list_api_keys(current_api_user())])


@bp.delete("/users/me/api-keys/<key_id>")
@login_required
def revoke_key(key_id):
    revoke_api_key(current_api_user(), key_id)
    return "", 204


_KEY = obj(("id", "name", "created_at", "last_used_at"), id={"type": "integer"}, name=string(),
           created_at=string(format="date-time"), last_used_at={"type": ["string", "null"], "format": "date-time"})

OPENAPI_PATHS: dict = {
    "/api/v1/users/me/api-keys": {
        "post": operation("Create a personal API key (the key is shown only in this answer)", tag="api-keys",
                          request=obj(("name",), name=string(maxLength=100)),
                          responses={201: ("The new key", obj(("id", "name", "key", "created_at"),
                                                              id={"type": "integer"}, name=string(), key=string(),
                                                              created_at=string(format="date-time"),
                                                              last_used_at={"type": ["string", "null"]}))}),
        "get": operation("List your API keys (without the keys)", tag="api-keys",
                         responses={200: ("Your keys", obj(("results",), results={"type": "array", "items": _KEY}))}),
    },
    "/api/v1/users/me/api-keys/{key_id}": {
        "delete": operation("Revoke one of your API keys", tag="api-keys", errors=(404,),
                            parameters=[path_parameter("key_id", "The key's id")],
                            responses={204: ("Revoked", None)}),
    },
}
