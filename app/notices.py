"""Security notices: the person is mailed when their password is changed or reset, their
address changes (the old address is told), two-factor authentication is turned off, an
API key is made for them, and when they log in from a client address not seen before.

A built-in plugin (registered beside the audit plugin) observing `keystead_event`. Within a
request the notices wait until the answer, and go only when the request succeeded (an
error answer means its transaction was rolled back); they are then mailed after the answer
(app/outbox.py). Without Email.Host, for a person without an address, or when the SMTP
server refuses, a `notice_not_mailed` event records the notice in the audit log instead.

Client addresses are kept only as an HMAC keyed by the server's secret, per person
(KnownClient); the first login ever recorded for a person tells nothing.
"""
from __future__ import annotations

import hashlib
import hmac

from flask import current_app, g, has_request_context, render_template, request
from peewee import CharField, DateTimeField, ForeignKeyField

from .hookspecs import hookimpl
from .models import BaseModel, User, database, utcnow

NOT_MAILED = "notice_not_mailed"
KNOWN_CLIENTS_KEPT = 20  # per person; the least recently seen beyond this are forgotten

SUBJECTS = {
    "password_change": "Your password was changed",
    "password_reset": "Your password was reset",
    "email_change": "Your email address was changed",
    "totp_disable": "Two-factor authentication was turned off",
    "api_key_create": "A new API key was created",
    "new_client": "New sign-in to your account",
}


class KnownClient(BaseModel):
    """A client address a person has logged in from, as HMAC(secret, person id, address)."""
    user = ForeignKeyField(User, backref="known_clients", on_delete="CASCADE")
    digest = CharField(max_length=64)
    last_seen_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("user", "digest"), True),)


@hookimpl
def keystead_event(event, actor, target, outcome, details):
    if outcome != "success" or target is None or not isinstance(target, User):
        return
    details = details or {}
    kind = event
    facts: dict = {}
    to = target.email
    if event == "password_reset" and details.get("via") == "confirmation":
        return  # the first password, set from a confirmation link: nothing to warn about
    if event == "email_change":
        to = details.get("old_email")
        facts = {"new_email": details.get("new_email")}
    elif event in ("totp_disable", "totp_reset"):
        kind = "totp_disable"
    elif event == "api_key_create":
        facts = {"key_name": details.get("name")}
    elif event == "login":
        client = details.get("client") or (request.remote_addr if has_request_context() else None)
        if not client or not _first_seen(target, str(client)):
            return
        kind, facts = "new_client", {"client": str(client), "provider": details.get("provider")}
    elif event not in ("password_change", "password_reset"):
        return
    facts["when"] = utcnow().strftime("%Y-%m-%d %H:%M UTC")
    notice = (kind, to, target, facts)
    reason = None if to else "no address"
    if reason is None and not current_app.extensions["keystead.settings"]["Email.Host"]:
        reason = "mail not configured"
    if reason:
        _record_not_mailed(target, kind, reason)
    elif has_request_context():
        _after_answer(notice)
    else:  # the command line: after the command's transaction, through the outbox
        current_app.extensions["keystead.outbox"].put(_mail_notice, *notice)


def _first_seen(user: User, client: str) -> bool:
    """Remember that `user` logged in from `client`; True when that is new for them and
    they had logged in from somewhere before."""
    key = current_app.extensions["keystead.secret_key"]
    key = key.encode() if isinstance(key, str) else key
    digest = hmac.new(key, f"keystead.client:{user.id}:{client}".encode(), hashlib.sha256).hexdigest()
    with database.atomic():
        seen = (KnownClient.update(last_seen_at=utcnow())
                .where((KnownClient.user == user.id) & (KnownClient.digest == digest)).execute())
        if seen:
            return False
        known = KnownClient.select().where(KnownClient.user == user.id).order_by(KnownClient.last_seen_at.desc())
        before = [row.id for row in known]
        KnownClient.insert(user=user.id, digest=digest).on_conflict_ignore().execute()
        forget = before[KNOWN_CLIENTS_KEPT - 1:]
        if forget:
            KnownClient.delete().where(KnownClient.id.in_(forget)).execute()
    return bool(before)


def _after_answer(notice: tuple) -> None:
    """Queue the notice once the request has answered, if it succeeded."""
    pending = g.setdefault("keystead_notices", [])
    if not pending:
        from flask import after_this_request

        @after_this_request
        def _send(response):
            if response.status_code < 400:
                outbox = current_app.extensions["keystead.outbox"]
                for item in g.pop("keystead_notices", []):
                    outbox.put(_mail_notice, *item)
            return response
    pending.append(notice)


def _mail_notice(kind: str, to: str, user: User, facts: dict) -> None:
    from .mail import send_mail
    public_url = current_app.extensions["keystead.settings"]["Server.PublicURL"]
    context = {"user": user, "kind": kind, "public_url": public_url, **facts}
    text = render_template("email/notice.txt", **context)
    html = render_template("email/notice.html", **context)
    if not send_mail(to, f"Keystead: {SUBJECTS[kind]}", text, html):
        with database.atomic():
            _record_not_mailed(user, kind, "send failed")


def _record_not_mailed(user: User, kind: str, reason: str) -> None:
    from .plugins import hook
    hook().keystead_event(event=NOT_MAILED, actor=None, target=user, outcome="failure",
                          details={"notice": kind, "reason": reason})
