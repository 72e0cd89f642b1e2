"""GET /api/v1/audit: the audit log, for holders of audit.read."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from ..audit import service
from ..errors import ValidationFailed
from .auth import permission_required
from .openapi import obj, operation, query_parameter

bp = Blueprint("api_audit", __name__)

MAX_PER_PAGE = service.MAX_PER_PAGE
MAX_PAGE = 10**9


def _paging() -> tuple[int, int]:
    problems = {}
    try:
        page = int(request.args.get("page", 1))
        if not 1 <= page <= MAX_PAGE:  # beyond 64 bits the database driver fails
            raise ValueError
    except ValueError:
        problems["page"] = f"A whole number from 1 to {MAX_PAGE}."
        page = 1
    try:
        per_page = int(request.args.get("per_page", 50))
        if not 1 <= per_page <= MAX_PER_PAGE:
            raise ValueError
    except ValueError:
        problems["per_page"] = f"A whole number from 1 to {MAX_PER_PAGE}."
        per_page = 50
    if problems:
        raise ValidationFailed(problems)
    return page, per_page


@bp.get("/audit")
@permission_required("audit.read")
def audit():
    page, per_page = _paging()
    args = request.args
    query = service.filtered(actor=args.get("actor"), person=args.get("person"), event=args.get("event"),
                             since=args.get("since"), until=args.get("until"))
    rows, total = service.page_of(query, page, per_page)
    return jsonify(results=[service.event_json(e) for e in rows], total=total, page=page, per_page=per_page)


OPENAPI_PATHS: dict = {
    "/api/v1/audit": {"get": operation(
        "The audit log, newest first", tag="audit", errors=(403, 422),
        description="Needs `audit.read`.",
        parameters=[query_parameter("actor", "Username of who acted (case-insensitive, any script)"),
                    query_parameter("person", "Username of who acted or was acted on "
                                    "(case-insensitive, any script)"),
                    query_parameter("event", "One event kind", {"type": "string", "enum": list(service.EVENTS)}),
                    query_parameter("since", "First day (UTC)", {"type": "string", "format": "date"}),
                    query_parameter("until", "Last day (UTC), included", {"type": "string", "format": "date"}),
                    query_parameter("page", "Page number", {"type": "integer", "minimum": 1}),
                    query_parameter("per_page", "Events per page",
                                    {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE})],
        responses={200: ("A page of events", obj(
            ("results", "total", "page", "per_page"),
            results={"type": "array", "items": obj(("id", "time", "event", "outcome"))},
            total={"type": "integer"}, page={"type": "integer"}, per_page={"type": "integer"}))})},
}
