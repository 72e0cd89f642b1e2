"""/admin/audit: the audit log for holders of audit.read, with filters, paging, a chart of logins
per day and a streamed CSV download."""
from __future__ import annotations

from flask import Blueprint, Response, abort, render_template, request, stream_with_context
from flask_login import current_user, login_required

from ..audit import service
from ..authorization import has_permission
from ..errors import ValidationFailed

bp = Blueprint("audit", __name__, url_prefix="/admin")
PER_PAGE = 50


@bp.before_request
@login_required
def _audit_readers_only():
    if not has_permission(current_user._get_current_object(), "audit.read"):
        abort(403, "This page needs the permission audit.read.")


def _filters() -> dict:
    """The filters given, by name; any other query parameter answers 400 (the page takes
    the API's parameters and no others, and only these ever go back into a link)."""
    unknown = sorted(set(request.args) - set(service.FILTERS + service.PAGING))
    if unknown:
        names = ", ".join(name[:40] for name in unknown[:5])
        abort(400, f"Unknown parameter: {names}. The audit log takes only "
                   f"{', '.join(service.FILTERS + service.PAGING)}.")
    args = request.args
    return {k: (args.get(k) or "").strip()[:100] or None for k in service.FILTERS}


@bp.get("/audit")
def audit():
    filters = _filters()
    page = request.args.get("page", 1, type=int) or 1
    page = min(max(1, page), 10**6)  # an OFFSET beyond 64 bits would fail in the driver
    per_page = request.args.get("per_page", PER_PAGE, type=int) or PER_PAGE
    per_page = min(max(1, per_page), service.MAX_PER_PAGE)
    try:
        rows, total = service.page_of(service.filtered(**filters), page, per_page)
        problems = {}
    except ValidationFailed as e:
        rows, total, problems = [], 0, e.fields
    pages = max(1, -(-total // per_page))
    chart = service.chart(service.daily_logins(30))
    # Links are built from the known filters only, never from the raw query string.
    link_args = {k: v for k, v in filters.items() if v}
    paging_args = {**link_args, **({"per_page": per_page} if per_page != PER_PAGE else {})}
    return render_template("audit/audit.html", rows=rows, total=total, page=page, pages=pages,
                           filters=filters, link_args=link_args, paging_args=paging_args,
                           problems=problems, events=service.EVENTS, chart=chart,
                           as_json=service.event_json)


@bp.get("/audit.csv")
def audit_csv():
    try:
        query = service.filtered(**_filters())  # page and per_page: the whole log regardless
    except ValidationFailed as e:
        abort(400, "; ".join(e.fields.values()))
    return Response(stream_with_context(service.csv_rows(query)), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="keystead-audit.csv"'})
