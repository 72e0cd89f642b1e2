"""The core's identity mapping (hook `keystead_map_identity`, registered as a plugin and
called last): a provider's (name, subject) maps to one local user, created on first login
from the provider's username, email, names and groups; later logins refresh those."""
from __future__ import annotations

import re
import unicodedata

from .hookspecs import hookimpl
from .models import ExternalIdentity, Group, Membership, User, database


@hookimpl(trylast=True)
def keystead_map_identity(identity):
    if identity.user_id is not None:
        return User.get_or_none(User.id == identity.user_id)
    link = ExternalIdentity.get_or_none((ExternalIdentity.provider == identity.provider)
                                        & (ExternalIdentity.subject == identity.subject))
    with database.atomic():
        if link is None:
            user = _create_from_identity(identity)
            ExternalIdentity.create(provider=identity.provider, subject=identity.subject, user=user)
        else:
            user = User.get_by_id(link.user_id)
            _refresh_from_identity(user, identity)
        if identity.groups is not None:
            sync_groups(user, identity.groups)
    return User.get_by_id(user.id)


def valid_username_from(raw: str | None, fallback: str) -> str:
    """A username that obeys SPEC 4 made from an outside name, unique among local users."""
    from .accounts import RESERVED_USERNAMES, USERNAME_MAX, normalise
    name = unicodedata.normalize("NFKC", raw or "")
    name = name.split("@", 1)[0]
    name = "".join(c if (c.isalpha() or c.isdigit() or c in "_.") else "_" for c in name)
    name = name.lstrip("_.0123456789")
    if len(name) < 3 or name.casefold() in RESERVED_USERNAMES:
        name = (fallback + "_" + name).strip("_") if name else fallback
    name = name[:USERNAME_MAX]
    candidate, n = name, 1
    while User.select().where(User.username_key == normalise(candidate)).exists():
        n += 1
        suffix = f"_{n}"
        candidate = name[:USERNAME_MAX - len(suffix)] + suffix
    return candidate


def _create_from_identity(identity) -> User:
    from .accounts import normalise, settings
    fallback = re.sub(r"[^a-z]", "", identity.provider.lower())[:10] or "user"
    username = valid_username_from(identity.username, fallback + "user")
    email_key = normalise(identity.email) if identity.email else None
    if email_key and User.select().where(User.email_key == email_key).exists():
        email_key = None  # an email already used here is not taken over by an outside login
    return User.create(username=username, username_key=normalise(username),
                       email=identity.email if email_key else None, email_key=email_key,
                       first_name=(identity.first_name or "")[:100], last_name=(identity.last_name or "")[:100],
                       password_hash=None, role=settings()["Authorization.DefaultUserRole"],
                       email_verified=bool(email_key), provider=identity.provider)


def _refresh_from_identity(user: User, identity) -> None:
    from .accounts import normalise
    changes = {}
    if identity.first_name is not None:
        changes["first_name"] = identity.first_name[:100]
    if identity.last_name is not None:
        changes["last_name"] = identity.last_name[:100]
    if identity.email and normalise(identity.email) != user.email_key:
        key = normalise(identity.email)
        if not User.select().where((User.email_key == key) & (User.id != user.id)).exists():
            changes.update(email=identity.email, email_key=key, email_verified=True)
    if changes:
        User.update(**changes).where(User.id == user.id).execute()


def sync_groups(user: User, names: list[str]) -> None:
    """Make `user` a member of exactly the groups `names` among those a provider manages
    (created when missing); memberships of other groups are left alone."""
    from .accounts import normalise
    wanted = {}
    for name in names:
        if isinstance(name, str) and name.strip():
            wanted[normalise(name.strip())[:100]] = name.strip()[:100]
    for key, name in wanted.items():
        Group.insert(name=name, name_key=key).on_conflict_ignore().execute()
    groups = list(Group.select().where(Group.name_key.in_(list(wanted)))) if wanted else []
    for group in groups:
        Membership.insert(user=user.id, group=group.id).on_conflict_ignore().execute()
