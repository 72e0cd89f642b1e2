"""/admin/settings: the effective settings, read-only, for holders of `settings.read`
(app/settings_report.py; the same report as GET /api/v1/settings)."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template
from flask_login import current_user

from ..authorization import has_permission
from ..config import ENV_PREFIX
from ..settings_report import settings_report, toml_value

bp = Blueprint("admin_settings", __name__, url_prefix="/admin")
PERMISSION = "settings.read"


@bp.before_request
def _settings_readers_only():
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    if not has_permission(current_user, PERMISSION):
        abort(403, f"This page needs the permission {PERMISSION}.")
    return None


def _environment_name(key: str) -> str:
    return ENV_PREFIX + key.replace(".", "_").upper()


def _shown(value) -> str | None:
    """A value as the page writes it: text as it is, others as in keystead.toml."""
    if value is None or isinstance(value, str):
        return value
    return toml_value(value)


@bp.get("/settings")
def settings():
    report = settings_report(current_app._get_current_object())
    sections: dict[str, list[dict]] = {}
    for row in report["settings"]:
        section, key = row["key"].split(".")
        sections.setdefault(section, []).append({**row, "name": key, "shown": _shown(row["value"]),
                                                 "variable": _environment_name(row["key"])})
    return render_template("admin/settings.html", report=report, sections=sections,
                           instance_path=current_app.instance_path)
