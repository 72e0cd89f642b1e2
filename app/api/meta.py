"""Health and the provider list."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from ..db import database_answers
from ..plugins import provider_infos

bp = Blueprint("api_meta", __name__)

# OpenAPI path items for the routes of this module, merged by app/api/openapi.py.
OPENAPI_PATHS: dict = {}


@bp.get("/health")
def health():
    if database_answers(current_app.extensions["keystead.db"]):
        return jsonify(status="ok")
    return jsonify(status="unavailable"), 503


@bp.get("/providers")
def providers():
    """{name: {available, active, title, ...}} for every installed provider."""
    active = current_app.extensions["keystead.settings"].providers
    infos = provider_infos(current_app.extensions["keystead"])
    return jsonify({
        name: {"available": info.available, "active": name in active}
        for name, info in sorted(infos.items())
    })
