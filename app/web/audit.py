"""/admin/audit: the audit log for administrators, with filters, paging, a chart of logins
per day and a streamed CSV download."""
from __future__ import annotations

from flask import Blueprint, Response, abort, render_template, request, stream_with_context
from flask_login import current_user, login_required

from ..audit import service
from ..errors import ValidationFailed

bp = Blueprint("audit", __name__, url_prefix="/admin")
PER_PAGE = 50


@bp.before_request
@login_required
def _administrators_only():
    if not current_user.is_admin:
        abort(403)


def _filters():
    args = request.args
    return {k: (args.get(k) or "").strip()[:100] or None for k in ("person", "event", "since", "until")}


@bp.get("/audit")
def audit():
    filters = _filters()
    page = request.args.get("page", 1, type=int) or 1
    page = min(max(1, page), 10**6)  # an OFFSET beyond 64 bits would fail in the driver
    try:
        rows, total = service.page_of(service.filtered(**filters), page, PER_PAGE)
        problems = {}
    except ValidationFailed as e:
        rows, total, problems = [], 0, e.fields
    pages = max(1, -(-total // PER_PAGE))
    chart = service.chart(service.daily_logins(30))
    return render_template("audit/audit.html", rows=rows, total=total, page=page, pages=pages,
                           filters=filters, problems=problems, events=service.EVENTS, chart=chart,
                           as_json=service.event_json)


@bp.get("/audit.csv")
def audit_csv():
    try:
        query = service.filtered(**_filters())
    except ValidationFailed as e:
        abort(400, "; ".join(e.fields.values()))
    return Response(stream_with_context(service.csv_rows(query)), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="keystead-audit.csv"'})
