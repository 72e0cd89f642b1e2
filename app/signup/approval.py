"""Sign-up approval (Password.SignupApproval): a self sign-up waits, `pending`, until a
holder of the permission `people.approve` approves it (`active`) or rejects it
(`rejected`). Approvers are mailed at each new pending sign-up; the person is mailed the
decision. The admin pages, the API and the CLI all decide through `approve` and `reject`.

Who waits: self sign-ups (the Sign Up page and POST /auth/register) and first logins
through an outside provider (OIDC, SAML...), which are self sign-ups too. Never the first
account of a database (it becomes the administrator), nor accounts administrators create.

A pending or rejected person's right password gets 403 (`approval_pending`,
`approval_rejected`) and never a session or a token; a wrong password gets the usual 401,
so nothing is learnt without the password.
"""
from __future__ import annotations

from flask import current_app

from ..authorization import has_permission, require_permission
from ..errors import Conflict, ServiceError
from ..models import User, database
from ..plugins import hook

ACTIVE, PENDING, REJECTED = "active", "pending", "rejected"
STATUSES = (ACTIVE, PENDING, REJECTED)
APPROVE = "people.approve"


class ApprovalPending(ServiceError):
    status = 403
    code = "approval_pending"

    def __init__(self):
        super().__init__("Your account is waiting for approval. You will get a mail when an "
                         "administrator has decided.")


class ApprovalRejected(ServiceError):
    status = 403
    code = "approval_rejected"

    def __init__(self):
        super().__init__("Your sign-up was not approved. Ask an administrator if you think this "
                         "is a mistake.")


def approval_required() -> bool:
    return bool(current_app.extensions["keystead.settings"]["Password.SignupApproval"])


def status_for_signup() -> str:
    """The approval state a new self sign-up starts in."""
    return PENDING if approval_required() else ACTIVE


def check_approved(user: User) -> None:
    """Raise ApprovalPending or ApprovalRejected unless `user` is active. Call it only once
    the password (or the outside provider) has vouched for the person."""
    if user.status == PENDING:
        raise ApprovalPending()
    if user.status == REJECTED:
        raise ApprovalRejected()


def announce_pending(user: User) -> None:
    """A new pending sign-up: record `signup_pending` and mail the approvers (after the
    answer, through the outbox)."""
    if user.status != PENDING or user.id is None:
        return
    hook().keystead_event(event="signup_pending", actor=user, target=user, outcome="success",
                          details={"provider": user.provider})
    from .mails import mail_approvers
    mail_approvers(user)


def may_list_pending(actor: User) -> bool:
    """Approvers may list pending people even without `people.read`: they must see whom
    they decide on."""
    return has_permission(actor, APPROVE)


def approve(actor: User | None, target: User) -> User:
    """Make a pending person active (`actor` None: the command line). 403 without
    `people.approve`; 409 `not_pending` when they are not pending."""
    return _decide(actor, target, ACTIVE, "signup_approved")


def reject(actor: User | None, target: User) -> User:
    """Refuse a pending person: the account stays, `rejected`, and cannot log in (its
    username and address stay taken; deleting it lets the person sign up afresh). 403
    without `people.approve`; 409 `not_pending` when they are not pending."""
    return _decide(actor, target, REJECTED, "signup_rejected")


def _decide(actor: User | None, target: User, status: str, event: str) -> User:
    if actor is not None:
        require_permission(actor, APPROVE)
    with database.atomic():
        # Only a pending person changes: of two approvers deciding at once, one wins.
        changed = (User.update(status=status)
                   .where((User.id == target.id) & (User.status == PENDING)).execute())
        if not changed:
            current = User.get_or_none(User.id == target.id)
            now = current.status if current else "deleted"
            raise Conflict(f"{target.username} is not waiting for approval (they are {now}).",
                           code="not_pending")
        hook().keystead_event(event=event, actor=actor, target=target, outcome="success", details={})
    target = User.get_by_id(target.id)
    from .mails import mail_decision
    mail_decision(target)
    return target


def approvers() -> list[User]:
    """Everyone who may approve sign-ups and can be mailed: active, not locked, with an
    address, holding `people.approve` (by their role, a group's role or a plugin). Read in
    the background job that mails them, never while a request waits."""
    query = (User.select().where((User.status == ACTIVE) & (User.locked == False)  # noqa: E712
                                 & User.email.is_null(False)).order_by(User.id))
    return [user for user in query.iterator() if has_permission(user, APPROVE)]


def status_filter(raw: str | None) -> str | None:
    """A `status` filter for the people list (None: everyone); ValidationFailed otherwise."""
    from ..errors import ValidationFailed
    if raw is None or raw == "":
        return None
    if raw not in STATUSES:
        raise ValidationFailed({"status": f"Choose one of {', '.join(STATUSES)}."})
    return raw


def require_people_listing(actor: User, status: str | None) -> None:
    """Listing people needs `people.read`; an approver without it may list the pending
    ones only (whom they decide on). PermissionDenied (403) otherwise."""
    from ..authorization import PermissionDenied
    if has_permission(actor, "people.read"):
        return
    if status == PENDING and has_permission(actor, APPROVE):
        return
    raise PermissionDenied("people.read")
