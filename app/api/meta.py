"""Health, the provider list and the OpenAPI document."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from ..db import database_answers
from ..plugins import provider_infos
from ..ratelimits import rate_limit_storage_answers
from .openapi import document, obj, operation, string

bp = Blueprint("api_meta", __name__)


@bp.get("/health")
def health():
    """ok while the database answers; "rate_limits": "degraded" added while the rate-limit
    storage does not (requests are then counted per process)."""
    if not database_answers(current_app.extensions["keystead.db"]):
        return jsonify(status="unavailable"), 503
    if not rate_limit_storage_answers(current_app):
        return jsonify(status="ok", rate_limits="degraded")
    return jsonify(status="ok")


@bp.get("/providers")
def providers():
    """{name: {available, active, title, ...}} for every installed provider."""
    active = current_app.extensions["keystead.settings"].providers
    infos = provider_infos(current_app.extensions["keystead"])
    return jsonify({
        name: {"available": info.available, "active": name in active}
        for name, info in sorted(infos.items())
    })


@bp.get("/openapi.json")
def openapi_json():
    return jsonify(document())


# OpenAPI path items for the routes of this module, merged by app/api/openapi.py.
OPENAPI_PATHS: dict = {
    "/api/v1/health": {"get": operation(
        "Whether the server and its database answer", tag="meta", operation_id="health",
        secured=False,
        responses={200: ("The database answers. `rate_limits` is there only while the rate-limit "
                         "storage does not answer: requests are then counted per process.",
                         obj(("status",), status=string(const="ok"),
                             rate_limits=string(const="degraded"))),
                   503: ("The database does not answer.",
                         obj(("status",), status=string(const="unavailable")))})},
    "/api/v1/providers": {"get": operation(
        "The installed authentication providers", tag="meta", operation_id="providers",
        secured=False,
        responses={200: ("Each installed provider by name.", {
            "type": "object",
            "additionalProperties": obj(("available", "active"), available={"type": "boolean"},
                                        active={"type": "boolean"})})})},
    "/api/v1/openapi.json": {"get": operation(
        "This description of the API (OpenAPI 3.1)", tag="meta", operation_id="openapi",
        secured=False, responses={200: ("The OpenAPI document.", {"type": "object"})})},
}
