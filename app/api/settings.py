"""GET /api/v1/settings: the effective settings, secrets hidden (app/settings_report.py)."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from ..config import SOURCES
from ..settings_report import settings_report
from .auth import permission_required
from .openapi import obj, operation, string

bp = Blueprint("api_settings", __name__)


@bp.get("/settings")
@permission_required("settings.read")
def settings():
    return jsonify(settings_report(current_app._get_current_object()))


_NULLABLE_STRING = {"type": ["string", "null"]}
_NULLABLE_INTEGER = {"type": ["integer", "null"]}

OPENAPI_PATHS: dict = {
    "/api/v1/settings": {"get": operation(
        "The effective settings, installed plugins, database, mail and rate-limit storage",
        tag="settings", operation_id="settings", errors=(403,),
        description=("Read-only (settings are changed in keystead.toml or the environment). Needs "
                     "the permission `settings.read`. A secret setting that is set reads "
                     "`\"(hidden)\"`, and so does the password part of any URL "
                     "(`postgresql://app:(hidden)@db/keystead`); a setting that is not set is null. "
                     "`source` is `default`, `file` (keystead.toml), `environment` (a KEYSTEAD_* "
                     "variable) or `overrides` (settings passed to create_app by a program that "
                     "embeds Keystead, such as a test suite)."),
        responses={200: ("The settings report", obj(
            ("settings", "providers", "plugins", "database", "mail", "rate_limits", "toml"),
            settings={"type": "array", "items": obj(
                ("key", "value", "source"),
                key=string("Section.Key, as in keystead.toml"),
                value={"description": "The effective value; durations as 5m, 8h, 7d."},
                source=string(enum=list(SOURCES)))},
            providers={"type": "array", "items": obj(
                ("name", "title", "available", "active", "plugin", "version"),
                name=string(), title=string(), available={"type": "boolean"},
                active={"type": "boolean"}, plugin=_NULLABLE_STRING, version=_NULLABLE_STRING)},
            plugins={"type": "array", "items": obj(
                ("name", "distribution", "version", "hooks"),
                name=string(), distribution=_NULLABLE_STRING, version=_NULLABLE_STRING,
                hooks={"type": "array", "items": string()})},
            database=obj(("kind", "schema_version"), kind=string("sqlite or postgresql"),
                         schema_version={"type": "integer"}),
            mail=obj(("configured", "host", "port", "tls", "username", "sender"),
                     configured={"type": "boolean"}, host=_NULLABLE_STRING, port=_NULLABLE_INTEGER,
                     tls=string(enum=["none", "starttls", "tls"]), username=_NULLABLE_STRING,
                     sender=_NULLABLE_STRING),
            rate_limits=obj(("enabled", "storage", "degraded"), enabled={"type": "boolean"},
                            storage=string("Server.RateLimitStorage, its password hidden"),
                            degraded={"type": "boolean", "description": "The storage does not "
                                      "answer: requests are counted per process meanwhile."}),
            toml=string("keystead.toml holding the values that differ from the defaults; "
                        "secrets are commented lines to fill in, never the value.")))})},
}
