"""Reading the audit log: filters, paging, a streamed CSV, and daily login counts."""
from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, time, timedelta

from peewee import fn

from ..errors import ValidationFailed
from ..models import iso, utcnow
from ..spreadsheet import quote_cell
from .models import AuditEvent
from .plugin import name_key

EVENTS = ("signup", "user_create", "login", "login_failed", "lockout", "logout", "password_change",
          "password_reset", "role_change", "lock", "unlock", "user_update", "user_delete", "group_change",
          "api_key_create", "api_key_revoke", "totp_enable", "totp_disable", "totp_reset",
          "email_change", "notice_not_mailed", "email_marked_verified",
          "document_upload", "document_share", "document_unshare", "document_delete",
          "signup_pending", "signup_approved", "signup_rejected", "terms_accept")
CSV_COLUMNS = ("time", "event", "outcome", "actor", "target", "client", "details")
# The query parameters of the audit log, in the API and on /admin/audit alike.
FILTERS = ("person", "actor", "event", "since", "until")
PAGING = ("page", "per_page")
MAX_PER_PAGE = 200


def parse_day(value: str | None, field: str, end: bool = False) -> datetime | None:
    """'2026-11-24' (or a full ISO time) → a UTC datetime; `end` takes the end of that day."""
    if not value:
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime.combine(day + timedelta(days=1), time()) if end else datetime.combine(day, time())
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed.replace(tzinfo=None) if parsed.tzinfo is None else \
            parsed.astimezone(tz=None).replace(tzinfo=None)
    except ValueError:
        raise ValidationFailed({field: "Use a date such as 2026-11-24."}) from None


def filtered(actor: str | None = None, person: str | None = None, event: str | None = None,
             since: str | None = None, until: str | None = None):
    """The events matching every given filter, newest first. `actor` matches who acted;
    `person` matches who acted or was acted on (username, case-insensitive in any script:
    the stored case-folded keys are compared, not LOWER(), which SQLite folds for ASCII only)."""
    query = AuditEvent.select()
    # NUL cannot be sent to PostgreSQL, and no name holds one.
    actor, person = (v.replace("\x00", "") if isinstance(v, str) else v for v in (actor, person))
    if event:
        if event not in EVENTS:
            raise ValidationFailed({"event": f"Choose one of {', '.join(EVENTS)}."})
        query = query.where(AuditEvent.event == event)
    if actor:
        query = query.where(AuditEvent.actor_key == name_key(actor.strip()))
    if person:
        key = name_key(person.strip())
        query = query.where((AuditEvent.actor_key == key) | (AuditEvent.target_key == key))
    start, stop = parse_day(since, "since"), parse_day(until, "until", end=True)
    if start:
        query = query.where(AuditEvent.created_at >= start)
    if stop:
        query = query.where(AuditEvent.created_at < stop)
    return query.order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())


def page_of(query, page: int, per_page: int) -> tuple[list, int]:
    return list(query.paginate(page, per_page)), query.count()


def event_json(e: AuditEvent) -> dict:
    return {"id": e.id, "time": iso(e.created_at), "event": e.event, "outcome": e.outcome,
            "actor": {"id": e.actor_id, "username": e.actor_name} if e.actor_name or e.actor_id else None,
            "target": {"id": e.target_id, "username": e.target_name} if e.target_name or e.target_id else None,
            "client": e.client, "details": json.loads(e.details or "{}")}


def csv_rows(query, chunk: int = 1000):
    """The CSV of `query`, line by line, reading `chunk` rows at a time (keyset paging, so
    a million rows never sit in memory)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    yield _take(buffer)
    last = None
    while True:
        q = query.order_by(AuditEvent.id.desc())
        if last is not None:
            q = q.where(AuditEvent.id < last)
        rows = list(q.limit(chunk))
        if not rows:
            return
        for e in rows:
            # Every cell a person or a client chose is quoted: names, details and the
            # client address (behind a trusted proxy it is what X-Forwarded-For said).
            writer.writerow([iso(e.created_at), e.event, e.outcome, quote_cell(e.actor_name),
                             quote_cell(e.target_name), quote_cell(e.client), quote_cell(e.details)])
        last = rows[-1].id
        yield _take(buffer)


def _take(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def daily_logins(days: int = 30) -> list[dict]:
    """[{day, logins, failures}] for each of the last `days` days (today included)."""
    today = utcnow().date()
    first = today - timedelta(days=days - 1)
    day = fn.DATE(AuditEvent.created_at).coerce(False)  # a date (or its text), not a datetime
    rows = (AuditEvent.select(day.alias("day"), AuditEvent.event, fn.COUNT(AuditEvent.id).alias("n"))
            .where((AuditEvent.created_at >= datetime.combine(first, time()))
                   & AuditEvent.event.in_(["login", "login_failed"]))
            .group_by(day, AuditEvent.event).tuples())
    counts: dict[str, dict[str, int]] = {}
    for d, event, n in rows:
        key = str(d)[:10]
        counts.setdefault(key, {})[event] = n
    out = []
    for i in range(days):
        d = (first + timedelta(days=i)).isoformat()
        out.append({"day": d, "logins": counts.get(d, {}).get("login", 0),
                    "failures": counts.get(d, {}).get("login_failed", 0)})
    return out


def chart(days: list[dict], width: int = 720, height: int = 220) -> dict:
    """Geometry for the server-rendered SVG bar chart of `daily_logins` (no script)."""
    pad_left, pad_bottom, pad_top = 40, 30, 10
    plot_w, plot_h = width - pad_left - 10, height - pad_bottom - pad_top
    peak = max([1] + [d["logins"] for d in days] + [d["failures"] for d in days])
    slot = plot_w / max(1, len(days))
    bar = max(1.0, slot / 2 - 1)
    bars = []
    for i, d in enumerate(days):
        x = pad_left + i * slot
        for j, (kind, value) in enumerate((("logins", d["logins"]), ("failures", d["failures"]))):
            h = plot_h * value / peak
            bars.append({"x": round(x + j * bar, 1), "y": round(pad_top + plot_h - h, 1), "w": round(bar, 1),
                         "h": round(h, 1), "kind": kind, "value": value, "day": d["day"]})
    ticks = [{"y": round(pad_top + plot_h - plot_h * f, 1), "label": round(peak * f)} for f in (0, 0.5, 1)]
    labels = [{"x": round(pad_left + i * slot, 1), "text": d["day"][5:]} for i, d in enumerate(days) if i % 5 == 0]
    return {"width": width, "height": height, "bars": bars, "ticks": ticks, "labels": labels,
            "baseline": pad_top + plot_h, "left": pad_left}
