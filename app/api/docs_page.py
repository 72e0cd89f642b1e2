"""GET /api/v1/docs: the interactive API page (Swagger UI) over /api/v1/openapi.json.

Swagger UI's files come from the pinned flask-swagger-ui package (its `dist` folder; only
the files the page loads are served, under /static/api-docs/), so the page needs no outside
network, and it starts from a script file of Keystead's own (app/static/api-docs.js):
the Content-Security-Policy (script-src 'self', no inline script) holds on it as on every
other page. The validator badge, which would call an outside service, is off.
"""
from __future__ import annotations

import os

import flask_swagger_ui
from flask import Blueprint, abort, render_template, send_from_directory

bp = Blueprint("api_docs", __name__)
assets = Blueprint("api_docs_assets", __name__, url_prefix="/static/api-docs")

SWAGGER_UI_DIST = os.path.join(os.path.dirname(flask_swagger_ui.__file__), "dist")
SWAGGER_UI_FILES = frozenset({"swagger-ui-bundle.js", "swagger-ui.css", "LICENSE", "VERSION"})


@bp.get("/docs")
def api_docs():
    return render_template("api_docs.html")


@assets.get("/<name>")
def asset(name):
    if name not in SWAGGER_UI_FILES:
        abort(404)
    return send_from_directory(SWAGGER_UI_DIST, name)


OPENAPI_PATHS: dict = {
    "/api/v1/docs": {"get": {
        "summary": "This API's interactive documentation (an HTML page, Swagger UI)",
        "tags": ["meta"], "operationId": "docs", "security": [],
        "responses": {"200": {"description": "The page.",
                              "content": {"text/html": {"schema": {"type": "string"}}}}},
    }},
}
