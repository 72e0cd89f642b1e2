"""Personal API keys (SPEC 9): named, shown once, stored as a SHA-256 digest (a key is 256
random bits, so a fast digest is enough), sent as `Authorization: Key <key>`.

A key reads `ks_<id>_<secret>`: the id finds the row, the digest of the whole key is
compared in constant time. A locked user's keys stop working at once (the look-up joins the
user); a deleted user's keys go with them; a key holds only for the person whose
uniquifier its row keeps, never for another account that got the same user id.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import timedelta

from peewee import CharField, DateTimeField, ForeignKeyField

from .errors import NotFound, ValidationFailed
from .models import BaseModel, NeverReusedId, User, database, utcnow
from .plugins import hook

NAME_MAX = 100
MAX_KEYS_PER_USER = 50
_KEY = re.compile(r"^ks_([A-Za-z0-9]{12})_([A-Za-z0-9_-]{43})$")
# last_used_at is written at most this often, so keys do not turn every call into a write
LAST_USED_RESOLUTION = timedelta(minutes=1)


class ApiKey(BaseModel):
    id = NeverReusedId()
    key_id = CharField(max_length=12, unique=True)
    user = ForeignKeyField(User, backref="api_keys", on_delete="CASCADE")
    user_key = CharField(max_length=64, null=True)  # the user's uniquifier, as on Token
    name = CharField(max_length=NAME_MAX)
    digest = CharField(max_length=64)
    created_at = DateTimeField(default=utcnow)
    last_used_at = DateTimeField(null=True)


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(user: User, name) -> tuple[ApiKey, str]:
    """A new key for `user`; returns (record, the key itself — shown only now)."""
    from .accounts import name_problem
    if not isinstance(name, str) or not name.strip():
        raise ValidationFailed({"name": "Give the key a name."})
    if problem := name_problem(name.strip()):
        raise ValidationFailed({"name": problem})
    if ApiKey.select().where(ApiKey.user == user.id).count() >= MAX_KEYS_PER_USER:
        raise ValidationFailed({"name": f"You have {MAX_KEYS_PER_USER} keys; revoke one first."})
    key_id = "".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789") for _ in range(12))
    key = f"ks_{key_id}_{secrets.token_urlsafe(32)}"
    with database.atomic():
        record = ApiKey.create(key_id=key_id, user=user.id, user_key=user.uniquifier, name=name.strip(),
                               digest=_digest(key))
        hook().keystead_event(event="api_key_create", actor=user, target=user, outcome="success",
                              details={"name": record.name, "id": record.id})
    return record, key


def list_api_keys(user: User) -> list[ApiKey]:
    return list(ApiKey.select().where(ApiKey.user == user.id).order_by(ApiKey.created_at, ApiKey.id))


def revoke_api_key(user: User, key_id) -> None:
    """Delete one of `user`'s keys; someone else's key is "not found"."""
    try:
        record_id = int(key_id)
    except (TypeError, ValueError):
        raise NotFound("No such API key.") from None
    if not 0 < record_id < 2**63:  # beyond 64 bits the database driver would fail
        raise NotFound("No such API key.")
    with database.atomic():
        deleted = ApiKey.delete().where((ApiKey.id == record_id) & (ApiKey.user == user.id)).execute()
        if not deleted:
            raise NotFound("No such API key.")
        hook().keystead_event(event="api_key_revoke", actor=user, target=user, outcome="success",
                              details={"id": record_id})


def user_for_api_key(key: str) -> User | None:
    """The (unlocked) user a key belongs to, or None."""
    m = _KEY.match(key or "")
    if not m:
        return None
    row = (ApiKey.select(ApiKey, User)
           .join(User, on=((ApiKey.user == User.id) & (ApiKey.user_key == User.uniquifier)))
           .where((ApiKey.key_id == m.group(1)) & (User.locked == False)).first())  # noqa: E712
    if row is None or not hmac.compare_digest(row.digest, _digest(key)):
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION:
        ApiKey.update(last_used_at=now).where(ApiKey.id == row.id).execute()
    return row.user
