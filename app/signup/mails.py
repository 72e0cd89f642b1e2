"""Mail of the sign-up approval: approvers hear of each new pending sign-up, the person of
the decision. Sent after the answer through the outbox (app/outbox.py), and only when the
request succeeded (an error answer means its transaction was rolled back). A decision that
cannot be mailed (no Email.Host, no address, the SMTP server refused) is recorded as
`notice_not_mailed`, as the security notices are (app/notices.py)."""
from __future__ import annotations

from flask import after_this_request, current_app, g, has_request_context, render_template

from ..models import User, database
from ..plugins import hook

SUBJECTS = {
    "signup_pending": "A sign-up waits for your approval",
    "signup_approved": "Your account was approved",
    "signup_rejected": "Your sign-up was not approved",
}


def _mail_on() -> bool:
    return bool(current_app.extensions["keystead.settings"]["Email.Host"])


def _after_success(job, *args) -> None:
    """Run `job(*args)` in the outbox once this request has answered successfully (at once
    through the outbox outside a request: the command line)."""
    outbox = current_app.extensions["keystead.outbox"]
    if not has_request_context():
        outbox.put(job, *args)
        return
    later = g.setdefault("keystead_signup_mail", [])
    if not later:
        @after_this_request
        def _send(response):
            if response.status_code < 400:
                for queued_job, queued_args in g.pop("keystead_signup_mail", []):
                    outbox.put(queued_job, *queued_args)
            return response
    later.append((job, args))


def mail_approvers(user: User) -> None:
    """Tell every approver that `user` waits (they are looked up in the background)."""
    if _mail_on():
        _after_success(_mail_approvers_now, user.id)


def mail_decision(user: User) -> None:
    """Tell `user` whether their sign-up was approved or rejected."""
    kind = "signup_approved" if user.status == "active" else "signup_rejected"
    reason = None if user.email else "no address"
    if reason is None and not _mail_on():
        reason = "mail not configured"
    if reason:
        _not_mailed(user, kind, reason)
        return
    _after_success(_mail_decision_now, user.id, kind)


def _send(to_user: User, kind: str, **context) -> bool:
    from ..mail import send_mail
    public_url = current_app.extensions["keystead.settings"]["Server.PublicURL"]
    context = {"user": to_user, "kind": kind, "public_url": public_url, **context}
    text = render_template(f"email/{kind}.txt", **context)
    html = render_template(f"email/{kind}.html", **context)
    return send_mail(to_user.email, f"Keystead: {SUBJECTS[kind]}", text, html)


def _mail_approvers_now(user_id: int) -> None:
    from .approval import PENDING, approvers
    person = User.get_or_none(User.id == user_id)
    if person is None or person.status != PENDING:
        return  # decided (or deleted) already
    for approver in approvers():
        _send(approver, "signup_pending", person=person)  # a failure is logged by send_mail


def _mail_decision_now(user_id: int, kind: str) -> None:
    person = User.get_or_none(User.id == user_id)
    if person is None or not person.email:
        return
    if not _send(person, kind):
        with database.atomic():
            _not_mailed(person, kind, "send failed")


def _not_mailed(user: User, kind: str, reason: str) -> None:
    hook().keystead_event(event="notice_not_mailed", actor=None, target=user, outcome="failure",
                          details={"notice": kind, "reason": reason})
