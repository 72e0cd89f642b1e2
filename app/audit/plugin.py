"""The audit plugin: records every `keystead_event`, the core's and any provider's.

It runs inside the caller's transaction (the services fire events within `database.atomic()`),
so an event and the change it reports are committed together or not at all.
"""
from __future__ import annotations

import json
import re

from flask import g, has_request_context, request

from ..accounts.rules import normalise
from ..hookspecs import hookimpl
from .models import AuditEvent

# Keys whose values are never written, whatever a plugin passes.
_SECRET_KEY = re.compile(r"pass|secret|token|otp|code|key|hash", re.I)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def clean(value):
    """A value safe to store and show: secrets dropped, control characters removed."""
    if isinstance(value, dict):
        return {str(k): ("(hidden)" if _SECRET_KEY.search(str(k)) else clean(v)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    if isinstance(value, str):
        return _CONTROL.sub("?", value)[:200]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return clean(str(value))


def _client(details: dict) -> str | None:
    if details.get("client"):
        return str(details["client"])[:64]
    if has_request_context():
        return (request.remote_addr or "")[:64] or None  # ProxyFix applied TrustedProxies
    return None


def _via() -> str | None:
    """"api_key <id>" when the request was made with a personal API key (app/api/auth.py
    notes it): the trail then tells a key's doings from its person's."""
    if has_request_context() and g.get("api_key_id") is not None:
        return f"api_key {g.api_key_id}"
    return None


def name_key(name) -> str | None:
    """The form a stored name is searched in (see AuditEvent)."""
    return normalise(name)[:256] if isinstance(name, str) else None


@hookimpl
def keystead_event(event, actor, target, outcome, details):
    details = dict(details or {})
    client = _client(details)
    details.pop("client", None)
    if via := _via():
        details.setdefault("via", via)
    actor_name, target_name = getattr(actor, "username", None), getattr(target, "username", None)
    AuditEvent.create(
        event=str(event)[:32], outcome=str(outcome)[:10],
        actor_id=getattr(actor, "id", None), actor_name=actor_name, actor_key=name_key(actor_name),
        target_id=getattr(target, "id", None), target_name=target_name, target_key=name_key(target_name),
        client=client, details=json.dumps(clean(details), sort_keys=True))
