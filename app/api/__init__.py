"""The JSON API under /api/v1 (docs/api.md; the full description is openapi.json)."""
from __future__ import annotations

from flask import Blueprint, Flask

from ..errors import ServiceError
from . import (apikeys, approvals, apps, audit, auth_routes, challenge, docs_page, documents, groups, invitations,
               authz, me, meta, settings, totp, users)
from .errors import service_error_response

# Each module has a blueprint `bp` and its OpenAPI path items `OPENAPI_PATHS`.
ROUTE_MODULES = (meta, docs_page, auth_routes, challenge, me, apikeys, totp, users, approvals, groups, documents,
                 audit, settings, invitations, apps, authz)


def init_app(app: Flask) -> None:
    api = Blueprint("api", __name__, url_prefix="/api/v1")
    for module in ROUTE_MODULES:
        api.register_blueprint(module.bp)
    api.register_error_handler(ServiceError, service_error_response)
    app.register_blueprint(api)
    app.register_blueprint(docs_page.assets)  # Swagger UI's files, under /static/
    # Outermost: a cached forward-auth decision is answered before anything else runs.
    from ..apps.forward_auth import FastPath
    app.wsgi_app = FastPath(app.wsgi_app, app)
