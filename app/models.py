"""Peewee models: people, groups and memberships, and the records that tokens, one-time
links, login throttling and external identities need.

All models bind to `database`, a proxy initialised by the app factory from
Server.DatabaseURL (see app/db.py). Columns ending in `_key` hold the normalised form
(NFKC, case-folded) that uniqueness and look-ups use; the database enforces it.
"""
from __future__ import annotations

import secrets
from datetime import datetime, timezone

from peewee import (SQL, AutoField, BooleanField, CharField, DatabaseProxy, DateTimeField,
                    ForeignKeyField, IntegerField, Model, NodeList, SqliteDatabase, TextField)

from .userfields.jsoncolumn import JSONObjectField

database = DatabaseProxy()


def utcnow() -> datetime:
    """Now in UTC, without tzinfo (as stored); see `iso` for output."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def iso(value: datetime | None) -> str | None:
    """A stored UTC datetime as ISO 8601 with a Z."""
    if value is None:
        return None
    return value.replace(microsecond=0).isoformat() + "Z"


def new_uniquifier() -> str:
    """A person's random identifier: 128 bits, made once with the account."""
    return secrets.token_hex(16)


class NeverReusedId(AutoField):
    """An integer primary key that is never handed out twice, even after the row with the
    highest id is deleted: AUTOINCREMENT on SQLite (whose plain INTEGER PRIMARY KEY reuses
    the largest freed id); PostgreSQL's SERIAL sequence never goes back anyway. For tables
    whose ids people, URLs or the audit log refer to."""

    def ddl(self, ctx):
        nodes = super().ddl(ctx)
        if isinstance(getattr(self.model._meta.database, "obj", None), SqliteDatabase):
            return NodeList((nodes, SQL("AUTOINCREMENT")))
        return nodes


class BaseModel(Model):
    class Meta:
        database = database
        legacy_table_names = False


class SchemaVersion(BaseModel):
    """One row per applied migration (app/migrations)."""
    version = IntegerField(primary_key=True)
    name = TextField()
    applied_at = DateTimeField(default=utcnow)


class User(BaseModel):
    id = NeverReusedId()
    username = CharField(max_length=64)
    username_key = CharField(max_length=64, unique=True)
    email = CharField(max_length=320, null=True)
    email_key = CharField(max_length=320, null=True, unique=True)
    first_name = CharField(max_length=100, default="")
    last_name = CharField(max_length=100, default="")
    password_hash = CharField(max_length=100, null=True)  # None: no password set (yet)
    role = CharField(max_length=20, default="viewer", index=True)
    locked = BooleanField(default=False)
    email_verified = BooleanField(default=False)  # the current address answered a link sent to it
    # Whether any address of this person was ever verified (or vouched for by an
    # administrator): until then RequireEmailVerification keeps them from logging in; a
    # later address not yet verified never does.
    email_ever_verified = BooleanField(default=False)
    provider = CharField(max_length=64, default="password")
    # Bumped to end every browser session of this person (logout, password change, lock...).
    session_epoch = IntegerField(default=0)
    # Random, unique, made with the account and never changed or reused: what sessions,
    # tokens, keys and links are bound to, so that nothing issued to one person can open
    # another's account even if a row id came back (a restored backup, a hand-made row).
    uniquifier = CharField(max_length=64, unique=True, default=new_uniquifier)
    created_at = DateTimeField(default=utcnow)
    last_login_at = DateTimeField(null=True)
    # The sign-up approval state (app/signup/approval.py): active, pending (a self sign-up
    # waiting for an approver while Password.SignupApproval is on) or rejected.
    status = CharField(max_length=10, default="active", index=True)
    # The Password.TermsVersion this person last accepted, and when (app/signup/terms.py).
    terms_accepted_version = CharField(max_length=200, null=True)
    terms_accepted_at = DateTimeField(null=True)
    # Custom profile fields ({name: value}, app/userfields) and the free-form metadata
    # programs keep (at most 16 KB): jsonb on PostgreSQL, JSON text on SQLite.
    fields = JSONObjectField()
    metadata = JSONObjectField()

    # Flask-Login: the session remembers "id:epoch:uniquifier". The uniquifier ties it to
    # this person alone; bumping session_epoch ends every copy of every session cookie of
    # this person at once (the uniquifier stays, so tokens and keys are not touched).
    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:
        return not self.locked

    def get_id(self) -> str:
        return f"{self.id}:{self.session_epoch}:{self.uniquifier}"

    @property
    def is_admin(self) -> bool:
        """Whether the person holds the administrator role itself (the last-administrator
        rule needs the role). What someone may do is asked of app.authorization
        (has_permission), never of this."""
        return self.role == "administrator"

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p)

    @property
    def account_state(self) -> str:
        """What keeps the person out, for lists: locked, pending or rejected (sign-up
        approval), unconfirmed (no password yet), else active. `status` is the approval
        state alone."""
        if self.locked:
            return "locked"
        if self.status != "active":
            return self.status
        if self.password_hash is None and self.provider == "password":
            return "unconfirmed"
        return "active"


class Group(BaseModel):
    id = NeverReusedId()
    name = CharField(max_length=100)
    name_key = CharField(max_length=100, unique=True)
    created_at = DateTimeField(default=utcnow)


class Membership(BaseModel):
    user = ForeignKeyField(User, backref="memberships", on_delete="CASCADE")
    group = ForeignKeyField(Group, backref="memberships", on_delete="CASCADE")
    # The provider whose group claim made this membership (app.identities.sync_groups
    # removes it when the claim no longer names the group); None: added here by hand.
    provider = CharField(max_length=64, null=True)

    class Meta:
        indexes = ((("user", "group"), True), (("group",), False))


class Token(BaseModel):
    """An issued API token. The signed token carries only `id`; this row says whether it
    still holds. A refresh token and the access tokens issued with it share a `family`."""
    id = CharField(max_length=64, primary_key=True)
    user = ForeignKeyField(User, backref="tokens", on_delete="CASCADE")
    # The user's uniquifier at issue: the token holds only for the person with this one
    # (None, as left by no code path, never holds).
    user_key = CharField(max_length=64, null=True)
    kind = CharField(max_length=10)  # access | refresh
    family = CharField(max_length=64, index=True)
    expires_at = IntegerField()  # epoch seconds
    revoked = BooleanField(default=False)
    used = BooleanField(default=False)  # a refresh token that was already exchanged
    created_at = DateTimeField(default=utcnow)


class OneTimeLink(BaseModel):
    """A single-use link (email verification, confirmation, password reset)."""
    id = CharField(max_length=64, primary_key=True)
    user = ForeignKeyField(User, backref="links", on_delete="CASCADE")
    purpose = CharField(max_length=10)  # verify | confirm | reset
    user_key = CharField(max_length=64, null=True)  # the user's uniquifier, as on Token
    expires_at = IntegerField()
    used_at = DateTimeField(null=True)
    # A digest of the password hash when the link was made: a changed password spends it.
    password_fingerprint = CharField(max_length=64)
    # A digest of the normalised address it was sent to: another address kills it.
    email_fingerprint = CharField(max_length=64, default="")
    created_at = DateTimeField(default=utcnow)


class LoginThrottle(BaseModel):
    """Failed-login counts per account (`user:<id>`), or per submitted name that belongs to no
    account (`name:<normalised name>`): app/throttle.py."""
    key = CharField(max_length=400, primary_key=True)
    failures = IntegerField(default=0)  # in a row, since the last success or lockout
    locked_until = IntegerField(default=0)  # epoch seconds
    window_start = IntegerField(default=0)  # start of the current hour-long window
    window_failures = IntegerField(default=0)


class ExternalIdentity(BaseModel):
    """An identity at an outside provider (provider name + subject) linked to a local user."""
    provider = CharField(max_length=64)
    subject = CharField(max_length=255)
    user = ForeignKeyField(User, backref="identities", on_delete="CASCADE")
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("provider", "subject"), True),)


MODELS = [SchemaVersion, User, Group, Membership, Token, OneTimeLink, LoginThrottle,
          ExternalIdentity]
