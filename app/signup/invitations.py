"""Invitations by email: a person holding `people.invite` invites an address with a role and
groups set in advance; the invitation's link signs the invitee up once, within 7 days, even
while Password.SelfRegistration is off. The API, the admin pages and `keystead users invite`
all call these functions.

The link carries a 256-bit random token; only its SHA-256 digest is stored (as API keys
are), so the database never holds a usable link. An invitation is spent by one atomic
UPDATE ... WHERE used_at IS NULL inside the transaction that creates the account: of two
racing uses one gets the account, the other an invalid link, and a refused sign-up (a
taken username, a weak password) leaves the invitation usable.

Nobody invites with a role carrying a permission they lack (`can_grant`), and an inviter
without `groups.manage` pre-sets only groups they belong to. Both are checked again when
the invitation is used: an invitation is bound to its creator's uniquifier, so it stops
working when its creator is deleted, locked, or no longer holds what it grants (a demoted
administrator's invitations do not hand out administrator). Invitations made on the
command line (no creator) carry the operator's authority.
"""
from __future__ import annotations

import hashlib
import json
import secrets
import unicodedata
from datetime import timedelta

from flask import current_app, render_template
from peewee import CharField, DateTimeField, ForeignKeyField, TextField

from ..accounts import clean_email, normalise
from ..authorization import PermissionDenied, can_grant, has_permission, known_roles, require_permission
from ..groups import groups_to_preset, presettable_groups
from ..errors import Conflict, Forbidden, NotFound, ValidationFailed
from ..links import InvalidLink
from ..mail import mail_configured, send_mail
from ..models import BaseModel, Group, Membership, NeverReusedId, User, database, iso, utcnow
from ..plugins import hook

LIFETIME = timedelta(days=7)
PATH = "/invite/"
INVALID_MESSAGE = "This invitation is invalid, has expired, was revoked or was already used."


class Invitation(BaseModel):
    id = NeverReusedId()
    email = CharField(max_length=320)
    email_key = CharField(max_length=320, index=True)
    role = CharField(max_length=64)
    group_ids = TextField(default="[]")  # JSON list of Group ids; groups deleted since are skipped
    digest = CharField(max_length=64, unique=True)  # SHA-256 of the token; the token is never stored
    # Who invited: None and no key for the command line. The key (the creator's uniquifier)
    # outlives the row's link, so a deleted creator's invitations stop working.
    created_by = ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
    creator_key = CharField(max_length=64, null=True)
    created_at = DateTimeField(default=utcnow)
    expires_at = DateTimeField()
    used_at = DateTimeField(null=True)
    used_by = ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
    revoked_at = DateTimeField(null=True)


MODELS = [Invitation]


def _digest(token: str) -> str:
    return hashlib.sha256(("invitation:" + token).encode()).hexdigest()


def invitation_url(token: str) -> str:
    """The link of an invitation, built from Server.PublicURL."""
    return current_app.extensions["keystead.settings"]["Server.PublicURL"] + PATH + token


def default_role() -> str:
    """The role an invitation gives when none is named: the one self-sign-ups get."""
    return current_app.extensions["keystead.settings"]["Authorization.DefaultUserRole"]


# ---------------------------------------------------------------- who may do what

def grantable_roles(actor: User | None) -> list[str]:
    """The roles `actor` may invite with (None, the command line: every role)."""
    return [r for r in known_roles() if actor is None or can_grant(actor, r)]


def _sees_all(actor: User | None) -> bool:
    """People managers (and the command line) see and revoke everyone's invitations; other
    inviters only their own (the addresses others invited are not theirs to read)."""
    return actor is None or has_permission(actor, "people.manage")


def _check_role(actor: User | None, role) -> str:
    role = default_role() if role in (None, "") else role
    if not isinstance(role, str) or role not in known_roles():
        raise ValidationFailed({"role": f"Choose one of {', '.join(known_roles())}."})
    if actor is not None and not can_grant(actor, role):
        raise PermissionDenied("people.invite", f"You cannot invite with the role {role}: it carries "
                                                "permissions you do not hold.")
    return role


# ---------------------------------------------------------------- making and revoking

def create_invitation(actor: User | None, email, role=None, group_names=None) -> tuple[Invitation, str]:
    """Invite `email` with `role` (default: Authorization.DefaultUserRole) and the groups
    named; returns (invitation, its link: shown only now). `actor` None is the command line.
    403 without people.invite or for a role or group beyond the inviter's; 422 for a bad
    address, role or group; 409 `taken` when the address already has an account. Earlier
    open invitations to the same address end (the newest one counts)."""
    if actor is not None:
        require_permission(actor, "people.invite")
    problems = {}
    try:
        clean = clean_email(email if isinstance(email, str) else "")
    except ValueError as e:
        problems["email"] = str(e)
    try:
        role = _check_role(actor, role)
    except ValidationFailed as e:
        problems.update(e.fields)
    try:
        groups = groups_to_preset(actor, group_names)
    except ValidationFailed as e:
        problems.update(e.fields)
    if problems:
        raise ValidationFailed(problems)
    key = normalise(clean)
    if User.select().where(User.email_key == key).exists():
        message = "An account with this address exists already."
        raise Conflict(message, {"email": message}, code="taken")
    token = secrets.token_urlsafe(32)
    now = utcnow()
    with database.atomic():
        Invitation.update(revoked_at=now).where(
            (Invitation.email_key == key) & Invitation.used_at.is_null()
            & Invitation.revoked_at.is_null()).execute()
        invitation = Invitation.create(
            email=clean, email_key=key, role=role, group_ids=json.dumps([g.id for g in groups]),
            digest=_digest(token), created_by=actor.id if actor else None,
            creator_key=actor.uniquifier if actor else None, created_at=now, expires_at=now + LIFETIME)
        hook().keystead_event(event="invitation_created", actor=actor, target=None, outcome="success",
                              details={"id": invitation.id, "email": clean, "role": role,
                                       "groups": [g.name for g in groups]})
    return invitation, invitation_url(token)


def send_invitation_mail(invitation: Invitation, url: str) -> bool:
    """Mail the link to the invited address; True when the SMTP server took it (False
    without Email settings). A failure is logged (without the link) and changes nothing."""
    if not mail_configured():
        return False
    s = current_app.extensions["keystead.settings"]
    inviter = invitation.created_by if invitation.created_by_id else None
    context = {"url": url, "inviter": inviter, "public_url": s["Server.PublicURL"],
               "expires_at": iso(invitation.expires_at), "role": invitation.role}
    return send_mail(invitation.email, "Keystead: you are invited",
                     render_template("email/invitation.txt", **context),
                     render_template("email/invitation.html", **context))


def _open() -> object:
    return (Invitation.used_at.is_null() & Invitation.revoked_at.is_null()
            & (Invitation.expires_at > utcnow()))


def list_open_invitations(actor: User | None) -> list[Invitation]:
    """The invitations still usable, newest first: all of them for people managers and the
    command line, else the caller's own."""
    if actor is not None:
        require_permission(actor, "people.invite")
    q = Invitation.select().where(_open())
    if not _sees_all(actor):
        q = q.where(Invitation.created_by == actor.id)
    return list(q.order_by(Invitation.created_at.desc(), Invitation.id.desc()))


def revoke_invitation(actor: User | None, invitation_id) -> Invitation:
    """End an open invitation (its link stops working). Another inviter's invitation, or
    one already used, revoked or expired, is "not found" (404)."""
    if actor is not None:
        require_permission(actor, "people.invite")
    try:
        wanted = int(invitation_id)
    except (TypeError, ValueError):
        wanted = 0
    where = (Invitation.id == wanted) & _open()
    if not _sees_all(actor):
        where &= Invitation.created_by == actor.id
    with database.atomic():
        invitation = Invitation.get_or_none(where) if 0 < wanted < 2**63 else None
        # A racing use or revocation may have closed it since: then it is not open.
        if invitation is None or not Invitation.update(revoked_at=utcnow()).where(
                (Invitation.id == invitation.id) & Invitation.used_at.is_null()
                & Invitation.revoked_at.is_null()).execute():
            raise NotFound("No open invitation with this id.")
        hook().keystead_event(event="invitation_revoked", actor=actor, target=None, outcome="success",
                              details={"id": invitation.id, "email": invitation.email})
    return invitation


def group_names(invitation: Invitation) -> list[str]:
    """The names of the invitation's groups that still exist."""
    ids = json.loads(invitation.group_ids or "[]")
    if not ids:
        return []
    return [g.name for g in Group.select().where(Group.id.in_(ids)).order_by(Group.name_key)]


def invitation_json(invitation: Invitation, url: str | None = None) -> dict:
    """The API's view of an invitation; `url` only when it was just made."""
    body = {"id": invitation.id, "email": invitation.email, "role": invitation.role,
            "groups": group_names(invitation), "created_at": iso(invitation.created_at),
            "expires_at": iso(invitation.expires_at),
            "created_by": invitation.created_by.username if invitation.created_by_id else None}
    if url is not None:
        body["url"] = url
    return body


# ---------------------------------------------------------------- using one

def _creator_still_vouches(invitation: Invitation) -> bool:
    """Whether the invitation's creator (none: the command line) still exists as the same
    person, is not locked, and could still make this invitation."""
    if invitation.creator_key is None:
        return invitation.created_by_id is None
    creator = User.get_or_none((User.id == invitation.created_by_id) & (User.uniquifier == invitation.creator_key))
    if creator is None or not has_permission(creator, "people.invite") or not can_grant(creator, invitation.role):
        return False
    if not has_permission(creator, "groups.manage"):
        own = {g.id for g in presettable_groups(creator)}
        if not set(json.loads(invitation.group_ids or "[]")) <= own:
            return False
    return True


def _invalid(field: str) -> InvalidLink:
    return InvalidLink(INVALID_MESSAGE, {field: INVALID_MESSAGE})


def open_invitation(token, field: str = "invitation") -> Invitation:
    """The usable invitation whose link carries `token`, without spending it (to show the
    sign-up page); InvalidLink (400 `invalid_link`) otherwise."""
    if not isinstance(token, str) or not token or len(token) > 512:
        raise _invalid(field)
    invitation = Invitation.get_or_none((Invitation.digest == _digest(token)) & _open())
    if invitation is None or not _creator_still_vouches(invitation):
        raise _invalid(field)
    return invitation


def accept_invitation(token, username, password, *, email=None, first_name="", last_name="",
                      accept_terms=False, columns: dict | None = None,
                      field: str = "invitation") -> User:
    """Sign up through an invitation: the account gets the invitation's address (counted as
    verified: the link proved it), role and groups, is active at once (an invitation is an
    approval), and the invitation is spent. `email`, when given, must be the invited
    address; the terms of service, when set, must be accepted as at any sign-up
    (`accept_terms`); `columns`: checked custom fields and metadata (app/userfields).
    InvalidLink for an unusable, spent (even by a racing request), expired or revoked
    invitation; ValidationFailed or Conflict for the account's fields, which leave the
    invitation usable."""
    from ..accounts import create_user, registration_provider_allows
    from .approval import ACTIVE
    from .terms import signup_acceptance, signup_terms_problem
    invitation = open_invitation(token, field)
    if not registration_provider_allows():
        raise Forbidden("No sign-in provider here keeps passwords for new accounts; ask whoever "
                        "invited you.", code="registration_closed")
    if email not in (None, ""):
        try:
            same = normalise(clean_email(email)) == invitation.email_key
        except ValueError:
            same = False
        if not same:
            raise ValidationFailed({"email": f"This invitation is for {invitation.email}; leave the "
                                             "address out or send that one."})
    if problem := signup_terms_problem(accept_terms):
        raise ValidationFailed({"accept_terms": problem})
    with database.atomic():
        # The one step that makes the invitation single-use: of two racing requests only
        # one updates the row (the other waits for the row and then matches nothing).
        spent = (Invitation.update(used_at=utcnow())
                 .where((Invitation.id == invitation.id) & Invitation.used_at.is_null()
                        & Invitation.revoked_at.is_null() & (Invitation.expires_at > utcnow()))
                 .execute())
        if not spent:
            raise _invalid(field)
        user = create_user(username, invitation.email, password, first_name=first_name or "",
                           last_name=last_name or "", role=invitation.role, email_verified=True,
                           event="signup", signup_columns={"status": ACTIVE, **signup_acceptance()},
                           columns=columns)
        ids = json.loads(invitation.group_ids or "[]")
        for group in Group.select().where(Group.id.in_(ids)) if ids else ():
            Membership.create(user=user.id, group=group.id)
        Invitation.update(used_by=user.id).where(Invitation.id == invitation.id).execute()
        hook().keystead_event(event="invitation_accepted", actor=user, target=user, outcome="success",
                              details={"id": invitation.id, "email": invitation.email, "role": invitation.role,
                                       "groups": group_names(invitation),
                                       "invited_by": invitation.created_by.username
                                       if invitation.created_by_id else None})
    return User.get_by_id(user.id)
