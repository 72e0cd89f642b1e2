"""The core's identity mapping (hook `keystead_map_identity`, registered as a plugin and
called last): a provider's (name, subject) maps to one local user, created on first login
from the provider's username, email, names and groups; later logins refresh the email,
names and groups (the username stays as first chosen). One local user may be linked to
several identities (link_identity)."""
from __future__ import annotations

import re
import unicodedata

from peewee import IntegrityError

from .errors import Conflict, NotFound
from .hookspecs import hookimpl
from .models import ExternalIdentity, Group, Membership, User, database
from .plugins import hook

SUBJECT_MAX = 255


@hookimpl(trylast=True)
def keystead_map_identity(identity):
    if identity.user_id is not None:
        return User.get_or_none(User.id == identity.user_id)
    if not isinstance(identity.subject, str) or not identity.subject or len(identity.subject) > SUBJECT_MAX:
        return None  # the caller refuses the login: no usable identity
    try:
        return _map(identity)
    except IntegrityError:
        # A first login of the same person (or a clashing new username) committed between
        # the look-up and the insert: look again, and this time find it.
        return _map(identity)


def _map(identity) -> User:
    with database.atomic():
        link = ExternalIdentity.get_or_none((ExternalIdentity.provider == identity.provider)
                                            & (ExternalIdentity.subject == identity.subject))
        if link is None:
            user = _create_from_identity(identity)
            ExternalIdentity.create(provider=identity.provider, subject=identity.subject, user=user)
            hook().keystead_event(event="user_create", actor=user, target=user, outcome="success",
                                  details={"role": user.role, "provider": identity.provider})
            from .signup.approval import announce_pending
            announce_pending(user)  # a first login through a provider is a sign-up too
        else:
            user = User.get_by_id(link.user_id)
            _refresh_from_identity(user, identity)
        if identity.groups is not None:
            sync_groups(user, identity.groups, provider=identity.provider)
    return User.get_by_id(user.id)


def link_identity(user: User, provider: str, subject: str) -> ExternalIdentity:
    """Link one more outside identity to an existing local user: logging in with it then
    logs in as `user`. Linking an identity already linked to `user` changes nothing;
    Conflict when it belongs to someone else."""
    if not isinstance(provider, str) or not provider or len(provider) > 64:
        raise Conflict("Name a provider.", code="invalid_identity")
    if not isinstance(subject, str) or not subject or len(subject) > SUBJECT_MAX:
        raise Conflict(f"The subject must be 1 to {SUBJECT_MAX} characters.", code="invalid_identity")
    query = (ExternalIdentity.provider == provider) & (ExternalIdentity.subject == subject)
    existing = ExternalIdentity.get_or_none(query)
    if existing is None:
        try:
            with database.atomic():
                return ExternalIdentity.create(provider=provider, subject=subject, user=user.id)
        except IntegrityError:  # linked by another request meanwhile
            existing = ExternalIdentity.get(query)
    if existing.user_id != user.id:
        raise Conflict(f"This {provider} identity is already linked to another person.",
                       code="identity_taken")
    return existing


def unlink_identity(user: User, provider: str, subject: str) -> None:
    """Take an outside identity away from `user` (their next login with it creates a new
    person); NotFound when it is not linked to them."""
    removed = (ExternalIdentity.delete()
               .where((ExternalIdentity.provider == provider) & (ExternalIdentity.subject == subject)
                      & (ExternalIdentity.user == user.id)).execute())
    if not removed:
        raise NotFound(f"This {provider} identity is not linked to {user.username}.")


def identities_of(user: User) -> list[tuple[str, str]]:
    """(provider, subject) of every outside identity linked to `user`."""
    return [(i.provider, i.subject) for i in
            ExternalIdentity.select().where(ExternalIdentity.user == user.id).order_by(ExternalIdentity.id)]


def valid_username_from(raw: str | None, fallback: str) -> str:
    """A username that obeys the username rules (app/accounts/rules.py) made from an outside name, unique among local users."""
    from .accounts import RESERVED_USERNAMES, USERNAME_MAX, normalise
    name = unicodedata.normalize("NFKC", raw if isinstance(raw, str) else "")
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


def _usable_email(raw) -> str | None:
    """The provider's email address in its normalised form, or None when it is not one."""
    from .accounts import clean_email
    try:
        return clean_email(raw) if raw else None
    except ValueError:
        return None


def _name(raw) -> str:
    from .accounts import NAME_MAX, name_problem
    if not isinstance(raw, str):
        return ""
    raw = raw.strip()[:NAME_MAX]
    return raw if name_problem(raw) is None else ""


def _create_from_identity(identity) -> User:
    from .accounts import normalise, settings
    from .initialisation import is_initialised
    from .signup.policy import signup_columns
    fallback = re.sub(r"[^a-z]", "", identity.provider.lower())[:10] or "user"
    username = valid_username_from(identity.username, fallback + "user")
    email = _usable_email(identity.email)
    if email and User.select().where(User.email_key == normalise(email)).exists():
        email = None  # an email already used here is not taken over by an outside login
    return User.create(username=username, username_key=normalise(username),
                       email=email, email_key=normalise(email) if email else None,
                       first_name=_name(identity.first_name), last_name=_name(identity.last_name),
                       password_hash=None, role=settings()["Authorization.DefaultUserRole"],
                       email_verified=bool(email), provider=identity.provider,
                       # Waits for approval like any sign-up (never the database's first account).
                       status=signup_columns(first_account=not is_initialised())["status"])


def _refresh_from_identity(user: User, identity) -> None:
    from .accounts import normalise
    changes = {}
    if identity.first_name is not None:
        changes["first_name"] = _name(identity.first_name)
    if identity.last_name is not None:
        changes["last_name"] = _name(identity.last_name)
    email = _usable_email(identity.email)
    if email and normalise(email) != user.email_key:
        key = normalise(email)
        if not User.select().where((User.email_key == key) & (User.id != user.id)).exists():
            changes.update(email=email, email_key=key, email_verified=True)
    if changes:
        User.update(**changes).where(User.id == user.id).execute()


def sync_groups(user: User, names: list[str], provider: str | None = None) -> None:
    """Make `user` a member of the groups `names` (created when missing). With `provider`,
    the memberships that provider's group claim made earlier and `names` no longer lists
    are taken away; memberships added by hand (or by another provider) are left alone.
    Each change is reported as a group_change event."""
    from .accounts import normalise
    from .groups import group_name_problem
    wanted: dict[str, str] = {}
    for name in names:
        if group_name_problem(name) is None:  # a name no group could have is skipped
            name = unicodedata.normalize("NFKC", name.strip())
            wanted.setdefault(normalise(name), name)  # the first spelling names a new group
    with database.atomic():
        known = {g.name_key for g in Group.select(Group.name_key).where(Group.name_key.in_(list(wanted)))} \
            if wanted else set()
        for key, name in wanted.items():
            if key not in known and Group.insert(name=name, name_key=key).on_conflict_ignore().execute():
                group = Group.get(Group.name_key == key)
                _group_event(None, group, "create", provider)
        groups = list(Group.select().where(Group.name_key.in_(list(wanted)))) if wanted else []
        member_of = {m.group_id: m for m in Membership.select().where(Membership.user == user.id)}
        for group in groups:
            if group.id not in member_of:
                Membership.insert(user=user.id, group=group.id, provider=provider).on_conflict_ignore().execute()
                _group_event(user, group, "add_member", provider)
        if provider is None:
            return
        keep = {g.id for g in groups}
        for group_id, membership in member_of.items():
            if membership.provider == provider and group_id not in keep:
                Membership.delete().where(Membership.id == membership.id).execute()
                _group_event(user, Group.get_by_id(group_id), "remove_member", provider)


def _group_event(member: User | None, group: Group, action: str, provider: str | None) -> None:
    from .authorization.membership import forget
    forget()  # memberships changed: this request's permissions are worked out again
    details = {"action": action, "group": group.name, "group_id": group.id, "provider": provider}
    if member is not None:
        details["username"] = member.username
    hook().keystead_event(event="group_change", actor=None, target=member, outcome="success", details=details)


# ---------------------------------------------------------------- redirect providers' refusals

class SignInRefused(Exception):
    """The sign-in cannot be completed. `message` is shown; `reason` is logged."""
    status = 400
    message = ("The sign-in could not be completed. Start again from the login page; if it keeps "
               "happening, tell an administrator.")

    def __init__(self, reason: str, message: str | None = None):
        super().__init__(reason)
        self.reason = reason
        if message:
            self.message = message


class IdentityProviderUnavailable(SignInRefused):
    """The identity provider cannot be reached, or answered something unusable."""
    status = 502
    message = "The identity provider cannot be reached or gave an unusable answer. Try again later."
