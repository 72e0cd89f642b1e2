"""The JSON API under /api/v1 (SPEC 6)."""
from __future__ import annotations

from flask import Blueprint, Flask

from ..errors import ServiceError
from .errors import service_error_response


def init_app(app: Flask) -> None:
    from ..web import csrf
    from . import meta

    api = Blueprint("api", __name__, url_prefix="/api/v1")
    api.register_blueprint(meta.bp)
    for module in _route_modules():
        api.register_blueprint(module.bp)
    csrf.exempt(api)  # bearer tokens, never cookies: nothing for a forged form to ride on
    api.register_error_handler(ServiceError, service_error_response)
    app.register_blueprint(api)


def _route_modules():
    import importlib
    found = []
    for name in ("auth_routes", "me", "users", "groups"):
        try:
            found.append(importlib.import_module(f"{__name__}.{name}"))
        except ModuleNotFoundError as e:
            if e.name != f"{__name__}.{name}":
                raise
    return found
