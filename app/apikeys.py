"""Personal API keys (docs/api.md): named, shown once, stored as a SHA-256 digest (a key is 256
random bits, so a fast digest is enough), sent as `Authorization: Key <key>`.

A key reads `ks_<id>_<secret>`: the id finds the row, the digest of the whole key is
compared in constant time. A key outlives no event that should end it: a password reset
and a lock revoke every key of the person (revoke_all_api_keys), a deleted person's keys go
with them, and a password change revokes them when the person asks. A key holds only for
the person whose uniquifier its row keeps, never for another account that got the same id.

Creating a key proves the person is there: the API asks for the current password
(create_api_key_with_password), the browser for web sudo (then create_api_key). A request
made with a key never creates one (app/api/auth.py refuses it), so a stolen key cannot
breed keys that outlive its revocation.
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


def _name_problem(user: User, name) -> str | None:
    from .accounts import name_problem
    if not isinstance(name, str) or not name.strip():
        return "Give the key a name."
    if problem := name_problem(name.strip()):
        return problem
    if ApiKey.select().where(ApiKey.user == user.id).count() >= MAX_KEYS_PER_USER:
        return f"You have {MAX_KEYS_PER_USER} keys; revoke one first."
    return None


def create_api_key_with_password(user: User, name, current_password) -> tuple[ApiKey, str]:
    """The API's way to create a key: the current password proves it is the person. A wrong
    one counts toward their lockout (423 once locked out); people without a password here
    get 403 `password_required` and create keys in the browser after a fresh login."""
    from .accounts import verify_current_password
    problems = {}
    try:
        verify_current_password(user, current_password)
    except ValidationFailed as e:
        problems.update(e.fields)
    if problem := _name_problem(user, name):
        problems["name"] = problem
    if problems:
        raise ValidationFailed(problems)
    return create_api_key(user, name)


def create_api_key(user: User, name) -> tuple[ApiKey, str]:
    """A new key for `user`, who has just proved who they are (web sudo, or the password
    through create_api_key_with_password); returns (record, the key — shown only now)."""
    if problem := _name_problem(user, name):
        raise ValidationFailed({"name": problem})
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


def revoke_api_key(owner: User, key_id, *, actor: User | None) -> ApiKey:
    """Delete one of `owner`'s keys (by the owner, an administrator, or the CLI when `actor`
    is None) and return it; a key of someone else is "not found"."""
    try:
        record_id = int(key_id)
    except (TypeError, ValueError):
        raise NotFound("No such API key.") from None
    if not 0 < record_id < 2**63:  # beyond 64 bits the database driver would fail
        raise NotFound("No such API key.")
    with database.atomic():
        record = ApiKey.get_or_none((ApiKey.id == record_id) & (ApiKey.user == owner.id))
        # A racing revocation may have deleted it since the look-up: then it is gone.
        if record is None or not ApiKey.delete().where(ApiKey.id == record.id).execute():
            raise NotFound(f"{owner.username} has no API key {record_id}.")
        hook().keystead_event(event="api_key_revoke", actor=actor, target=owner, outcome="success",
                              details={"id": record_id, "name": record.name})
    return record


def revoke_all_api_keys(owner: User, *, actor: User | None, reason: str) -> int:
    """Delete every key of `owner` (a password reset, a lock, or a password change that
    asks for it); returns how many there were. `reason` goes to the audit trail."""
    with database.atomic():
        count = ApiKey.delete().where(ApiKey.user == owner.id).execute()
        if count:
            hook().keystead_event(event="api_key_revoke", actor=actor, target=owner, outcome="success",
                                  details={"all": True, "count": count, "reason": reason})
    return count


def find_api_key(key: str) -> ApiKey | None:
    """The key record (with its user, who is not locked) that `key` is, or None."""
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
    return row
