"""The app records: the app itself, the hosts forward-auth answers for, and who may use it."""
from __future__ import annotations

from peewee import BooleanField, CharField, DateTimeField, ForeignKeyField, TextField

from ..models import BaseModel, Group, NeverReusedId, User, utcnow


class App(BaseModel):
    """Something Keystead signs people into.

    Its OpenID Connect side is present when `client_id` is set: `redirect_uris` (a JSON
    list, matched exactly), `public` (no secret; PKCE required) or a confidential client
    with `client_secret_hash` (the secret is shown once, never stored), and `consent`
    (whether people are asked before the app learns who they are).
    """
    id = NeverReusedId()
    name = CharField(max_length=100)
    name_key = CharField(max_length=100, unique=True)  # normalised, as Group.name_key
    icon = CharField(max_length=500, default="")  # one letter, or an https URL of an image
    launch_url = CharField(max_length=2000, default="")
    client_id = CharField(max_length=64, null=True, unique=True)
    client_secret_hash = CharField(max_length=200, null=True)
    redirect_uris = TextField(default="[]")  # JSON list of exact URIs
    public = BooleanField(default=False)
    consent = BooleanField(default=True)
    created_by = ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
    created_at = DateTimeField(default=utcnow)


class AppHost(BaseModel):
    """A host (`host` or `host:port`, lower case) forward-auth answers for: one app each."""
    app = ForeignKeyField(App, backref="hosts", on_delete="CASCADE")
    host = CharField(max_length=300, unique=True)


class AppAccess(BaseModel):
    """One group or one person allowed to use an app. An app without any row is open to
    every signed-in person."""
    app = ForeignKeyField(App, backref="access", on_delete="CASCADE")
    group = ForeignKeyField(Group, null=True, on_delete="CASCADE", backref="+")
    user = ForeignKeyField(User, null=True, on_delete="CASCADE", backref="+")

    class Meta:
        indexes = ((("app", "group", "user"), True),)


MODELS = [App, AppHost, AppAccess]
