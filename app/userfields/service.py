"""Changing a person's custom fields and metadata, and creating people with them: the
service functions the pages, the API and the CLI call (the rules are in values.py)."""
from __future__ import annotations

from ..errors import Forbidden, ValidationFailed
from ..models import User, database
from ..plugins import hook
from .values import checked_changes, checked_metadata, may_edit_metadata


def update_profile(actor, target: User, *, fields: dict | None = None, metadata: dict | None = None) -> User:
    """Apply `fields` ({name: value}, None clears one) and replace `metadata` (None leaves
    it) by `actor` (None: the command line), all or nothing; a user_update event names
    what changed (never the values). Returns the fresh person."""
    changes: dict = {}
    if metadata is not None:
        if not may_edit_metadata(actor, target):
            raise Forbidden("Only the person and administrators can change the metadata.")
        changes["metadata"] = checked_metadata(metadata)
    if fields:
        changes["fields"] = checked_changes(actor, target, fields)
    changed = sorted(f"fields.{n}" for n in (fields or {})) + (["metadata"] if metadata is not None else [])
    if changes:
        with database.atomic():
            User.update(**changes).where(User.id == target.id).execute()
            hook().keystead_event(event="user_update", actor=actor, target=target, outcome="success",
                                  details={"fields": changed})
    return User.get_by_id(target.id)


def check_profile(actor, target: User, *, fields: dict | None = None, metadata: dict | None = None) -> None:
    """Refuse, before anything else of a request changes, what `update_profile` would
    refuse (so a change of several things is all or nothing)."""
    if metadata is not None:
        if not may_edit_metadata(actor, target):
            raise Forbidden("Only the person and administrators can change the metadata.")
        checked_metadata(metadata)
    if fields:
        checked_changes(actor, target, fields)


def check_new(fields: dict | None, metadata: dict | None, *, signup: bool, actor=None) -> dict:
    """The columns a new person gets from `fields` and `metadata` as submitted (at sign-up:
    the fields shown there, required ones included). Raises ValidationFailed."""
    problems: dict[str, str] = {}
    out: dict = {}
    try:
        out["fields"] = checked_changes(actor, None, fields or {}, signup=signup)
    except ValidationFailed as e:
        problems.update(e.fields)
    if metadata is not None:
        try:
            out["metadata"] = checked_metadata(metadata)
        except ValidationFailed as e:
            problems.update(e.fields)
    if problems:
        raise ValidationFailed(problems)
    return out


def create_with_fields(create, fields: dict | None, metadata: dict | None = None, *,
                       signup: bool, actor=None):
    """Run `create(columns=...)` (a service function that makes a person with those extra
    columns and returns them, or a tuple whose first item is the person) with `fields` and
    `metadata` checked first, so that the person and their fields are one insert: if
    either is refused, nobody is created. At sign-up (whose creation mails nothing) the
    problems of the account's own fields and of these are reported together, so the form
    shows them all at once."""
    try:
        columns = check_new(fields, metadata, signup=signup, actor=actor)
    except ValidationFailed as e:
        if not signup:
            # Before creating: an administrator's creation may mail a link at once.
            raise
        with database.atomic():
            # Only to learn the account's own problems; rolled back whatever happens.
            try:
                create(columns={})
            except ValidationFailed as account:
                raise ValidationFailed({**account.fields, **e.fields}) from None
            raise ValidationFailed(dict(e.fields)) from None  # rolls the new person back
    columns = {name: value for name, value in columns.items() if value}
    # No transaction around create(): a sign-up's reads before its insert must not hold a
    # SQLite read lock that racing sign-ups then cannot upgrade ("database is locked").
    made = create(columns=columns)
    user = made[0] if isinstance(made, tuple) else made
    for name, value in columns.items():
        # The stand-in too: its answer must look like a real sign-up's.
        setattr(user, name, value)
    return made
