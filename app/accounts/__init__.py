"""People: the one place the browser, the API and the CLI create, change and
delete them. Views parse input, call these, and render the result or the ServiceError
they raise. The rules live in rules.py, the look-ups and the search in queries.py; both
are re-exported here, so `from keystead.accounts import normalise` keeps working."""
from __future__ import annotations

import logging
import unicodedata

from flask import current_app
from peewee import IntegrityError, fn

from ..errors import Conflict, Forbidden, ValidationFailed
from ..initialisation import claim_initialisation, is_initialised, people_and_initialisation, warn_about_lost_accounts
from ..authorization import (ADMINISTRATOR, has_permission, known_roles, require_grant, require_outranks,
                             roles_problem)
from ..models import User, database, utcnow
from ..plugins import hook
from ..signup import policy as signup_policy
from ..signup.domains import email_domain_problem
from .queries import (administrator_count, find_people_named, find_user_by_login, get_user, groups_of,  # noqa: F401
                      search_users, user_count)
from .reentry import PasswordRequired, has_password_to_give, password_accepted, verify_current_password  # noqa: F401
from .rules import (NAME_MAX, RESERVED_USERNAMES, USERNAME_MAX, USERNAME_MIN, check_user_password,  # noqa: F401
                    clean_email, hash_new_password, keyed_names, name_problem, new_password_problem, normalise,
                    settings, username_problem)

log = logging.getLogger("keystead")


# ---------------------------------------------------------------- creation

def _check_new_account(username, email, password, first_name, last_name, role, *,
                       password_required: bool) -> tuple[dict, str | None]:
    """Check every field at once, so a form shows every problem together."""
    problems: dict[str, str] = {}
    if p := username_problem(username):
        problems["username"] = p
    clean = None
    if email not in (None, ""):
        try:
            clean = clean_email(email)
        except ValueError as e:
            problems["email"] = str(e)
    elif password_required:
        problems["email"] = "Enter an email address."
    for field, value in (("first_name", first_name), ("last_name", last_name)):
        if p := name_problem(value):
            problems[field] = p
    if p := roles_problem([role]) if isinstance(role, str) else "Choose a role.":
        problems["role"] = p
    if password is not None or password_required:
        p = new_password_problem(password, username=username if isinstance(username, str) else "",
                                 email=clean or "", first_name=first_name if isinstance(first_name, str) else "",
                                 last_name=last_name if isinstance(last_name, str) else "")
        if p:
            problems["password"] = p
    return problems, clean


def create_user(username, email, password=None, *, first_name="", last_name="", role="viewer",
                email_verified=False, provider="password", actor: User | None = None,
                event: str = "user_create", signup_columns: dict | None = None,
                columns: dict | None = None) -> User:
    """Create a person after checking every rule. `password=None` leaves them without a
    password (they set one from a confirmation link). `signup_columns`: the sign-up
    policy's (app/signup/policy.py; default: active); `columns`: checked custom fields and
    metadata (app/userfields), stored by the same insert. Raises ValidationFailed or Conflict."""
    first_name = first_name or ""
    last_name = last_name or ""
    problems, clean = _check_new_account(username, email, password, first_name, last_name, role,
                                         password_required=False)
    if problems:
        raise ValidationFailed(problems)
    require_grant(actor, role)  # nobody creates someone holding more than they do
    username = unicodedata.normalize("NFKC", username)
    _refuse_taken(normalise(username), normalise(clean) if clean else None)
    try:
        with database.atomic():
            user = User.create(
                username=username, username_key=normalise(username), email=clean,
                email_key=normalise(clean) if clean else None, first_name=first_name.strip(),
                last_name=last_name.strip(),
                password_hash=hash_new_password(password) if password is not None else None,
                role=role, email_verified=email_verified, email_ever_verified=email_verified,
                provider=provider, **(signup_columns or {}), **(columns or {}))
            hook().keystead_event(event=event, actor=actor or user, target=user, outcome="success",
                                  details={"role": role})
    except IntegrityError:
        # Another request took the name or email between the check and the insert.
        raise _taken_error(normalise(username), normalise(clean) if clean else None) from None
    return user


def _taken_error(username_key: str, email_key: str | None) -> Conflict:
    fields = {}
    if User.select().where(User.username_key == username_key).exists():
        fields["username"] = "This username is taken."
    if email_key and User.select().where(User.email_key == email_key).exists():
        fields["email"] = "This email address is already in use."
    fields = fields or {"username": "This username is taken."}
    return Conflict("; ".join(fields.values()), fields, code="taken")


def _refuse_taken(username_key: str, email_key: str | None) -> None:
    q = User.select().where(User.username_key == username_key)
    if email_key:
        q = User.select().where((User.username_key == username_key) | (User.email_key == email_key))
    if q.exists():
        raise _taken_error(username_key, email_key)


def register_user(username, email, password, first_name="", last_name="", *, accept_terms=False,
                  columns: dict | None = None) -> User:
    """Self-registration (Sign Up page and POST /auth/register).

    On a database never initialised with an account, the first to sign up becomes an
    administrator even when SelfRegistration is off; after that SelfRegistration decides
    and new people get DefaultUserRole. A database that had people and lost them is not
    new: nobody becomes an administrator that way (app/initialisation.py).

    The sign-up policy (app/signup) applies: allowed email domains, the terms of service
    (`accept_terms`), and approval (the new account may start `pending`; the first never).
    `columns`: checked custom fields and metadata for the new account (app/userfields).
    """
    s = settings()
    problems, _ = _check_new_account(username, email, password, first_name or "", last_name or "",
                                     "viewer", password_required=True)
    for field, problem in signup_policy.signup_problems(email, accept_terms).items():
        problems.setdefault(field, problem)
    if problems:
        raise ValidationFailed(problems)
    count, initialised = people_and_initialisation()
    if not initialised:
        first = _register_first_account(username, email, password, first_name, last_name, columns)
        if first is not None:
            return first
        # Another account came first (a racing sign-up): this one is an ordinary sign-up.
    elif count == 0:
        warn_about_lost_accounts("A sign-up")
    if not (s["Password.SelfRegistration"] and registration_provider_allows()):
        raise Forbidden("Sign-up is closed; ask an administrator for an account.",
                        code="registration_closed")
    role = s["Authorization.DefaultUserRole"]
    if not s["Password.RequireEmailVerification"]:
        # Usable at once, so a taken address cannot be hidden: 409 names it (SECURITY.md).
        # The address stays unverified until its owner opens the link the views mail
        # (recovery.offer_verification), whatever RequireEmailVerification says.
        return _announced(create_user(username, email, password, first_name=first_name,
                                      last_name=last_name, role=role, email_verified=False, event="signup",
                                      signup_columns=signup_policy.signup_columns(first_account=False),
                                      columns=columns))
    # The new account is usable only once its address answers: a sign-up with an address
    # already in use answers like a new one (SECURITY.md), stores nothing, and the views'
    # verification mail goes to the owner as a notice instead (recovery.send_verification_email).
    username_key = normalise(unicodedata.normalize("NFKC", username))
    email_key = normalise(clean_email(email))
    if User.select().where(User.username_key == username_key).exists():
        raise _username_taken()  # usernames are not secret; the address is not mentioned
    owner = User.get_or_none(User.email_key == email_key)
    if owner is None:
        try:
            return _announced(create_user(username, email, password, first_name=first_name,
                                          last_name=last_name, role=role, email_verified=False, event="signup",
                                          signup_columns=signup_policy.signup_columns(first_account=False),
                                      columns=columns))
        except Conflict:
            # A racing request took the name or the address since the checks above.
            if User.select().where(User.username_key == username_key).exists():
                raise _username_taken() from None
            owner = User.get_or_none(User.email_key == email_key)
            if owner is None:
                raise
    return _stand_in_account(owner, username, email, password, first_name or "", last_name or "", role)


def _register_first_account(username, email, password, first_name, last_name, columns=None) -> User | None:
    """The first account of a database never initialised: an administrator, usable at once,
    its address taken as verified (nobody could verify it for them). Initialisation is
    recorded in the same transaction, so of two racing first sign-ups one gets it; the
    other gets None."""
    with database.atomic():
        if not claim_initialisation():
            return None
        return create_user(username, email, password, first_name=first_name, last_name=last_name,
                           role="administrator", email_verified=True, event="signup",
                           signup_columns=signup_policy.signup_columns(first_account=True), columns=columns)


def _announced(user: User) -> User:
    """A new self sign-up: when it waits for approval, record it and tell the approvers."""
    from ..signup.approval import announce_pending
    announce_pending(user)
    return user


def _username_taken() -> Conflict:
    return Conflict("This username is taken.", {"username": "This username is taken."}, code="taken")


def _stand_in_account(owner: User, username, email, password, first_name, last_name, role) -> User:
    """What a sign-up with `owner`'s address answers with: an unsaved User shaped like a
    new one (the next id, unverified), after the same bcrypt a real sign-up costs. Its
    `stand_in_for` names the owner, whom recovery.send_verification_email tells instead."""
    hash_new_password(password)  # the same work as a real sign-up, so the same time
    username = unicodedata.normalize("NFKC", username)
    clean = clean_email(email)
    next_id = User.select(fn.COALESCE(fn.MAX(User.id), 0) + 1).scalar()
    user = User(id=next_id, username=username, username_key=normalise(username), email=clean,
                email_key=normalise(clean), first_name=first_name.strip(), last_name=last_name.strip(),
                role=role, email_verified=False, provider="password",
                **signup_policy.signup_columns(first_account=False))
    user.stand_in_for = owner
    log.info("sign-up with the address of person %s: nothing stored, a notice is mailed to them", owner.id)
    return user


def registration_provider_allows() -> bool:
    from ..plugins import active_providers
    return any(p.supports_registration for p in active_providers())


def self_registration_open() -> bool:
    """Whether the Sign Up page is offered now."""
    return not is_initialised() or (settings()["Password.SelfRegistration"] and registration_provider_allows())


# ---------------------------------------------------------------- changes

def may_edit_info(actor: User, target: User) -> bool:
    """UserInfoEditableBy: AdminAndSelf lets people edit their own names and email; those
    who manage people (people.manage) edit anyone's."""
    if has_permission(actor, "people.manage"):
        return True
    return actor.id == target.id and settings()["Authorization.UserInfoEditableBy"] == "AdminAndSelf"


def own_address_change_bound(actor: User, target: User) -> bool:
    """Whether Password.AllowedEmailDomains binds this address change: a person changing
    their own address is bound; people holding `people.manage` (administrators) are not,
    for others or for themselves."""
    from ..authorization import has_permission
    return actor.id == target.id and not has_permission(actor, "people.manage")


def update_user_info(actor: User, target: User, *, email=None, first_name=None, last_name=None,
                     email_verified: bool | None = None) -> User:
    """Change names and email (None leaves a field as it is). A new address is unverified
    until its owner follows a link sent to it, unless an administrator vouches for it
    (`email_verified=True`); every unused link of the person ends with the old address,
    and an email_change event (with the old address, for the notice) is sent. The caller
    has checked the person's password when they change their own address (update_own_info;
    the browser asks for web sudo)."""
    if not may_edit_info(actor, target):
        raise Forbidden("Only an administrator can change this information.", code="not_editable")
    require_outranks(actor, target)
    problems: dict[str, str] = {}
    changes: dict = {}
    for field, value in (("first_name", first_name), ("last_name", last_name)):
        if value is None:
            continue
        if p := name_problem(value):
            problems[field] = p
        else:
            changes[field] = value.strip()
    if email is not None:
        try:
            clean = clean_email(email)
        except ValueError as e:
            problems["email"] = str(e)
        else:
            if normalise(clean) != target.email_key:
                if User.select().where((User.email_key == normalise(clean)) & (User.id != target.id)).exists():
                    problems["email"] = "This email address is already in use."
                elif own_address_change_bound(actor, target) and (p := email_domain_problem(clean)):
                    problems["email"] = p
                changes.update(email=clean, email_key=normalise(clean), email_verified=False)
    vouched = bool(email_verified and has_permission(actor, "people.manage")
                   and ("email_key" in changes or not target.email_verified))
    if vouched:
        changes.update(email_verified=True, email_ever_verified=True)
    if problems:
        raise ValidationFailed(problems)
    if changes:
        try:
            with database.atomic():
                User.update(**changes).where(User.id == target.id).execute()
                if "email_key" in changes:
                    from ..links import end_links
                    end_links(target)
                    hook().keystead_event(event="email_change", actor=actor, target=target, outcome="success",
                                          details={"old_email": target.email, "new_email": changes["email"]})
                if vouched:
                    hook().keystead_event(event="email_marked_verified", actor=actor, target=target,
                                          outcome="success", details={"email": changes.get("email", target.email)})
                hook().keystead_event(event="user_update", actor=actor, target=target, outcome="success",
                                      details={"fields": sorted(k for k in changes if not k.endswith("_key"))})
        except IntegrityError:
            raise Conflict("This email address is already in use.",
                           {"email": "This email address is already in use."}, code="taken") from None
    return User.get_by_id(target.id)


def mark_email_verified(actor: User | None, target: User) -> User:
    """An administrator (None: the command line) vouches for the person's current address
    without a link: it counts as verified, so RequireEmailVerification lets them log in.
    Recorded as email_marked_verified. Conflict `no_email` when they have no address."""
    if actor is not None and not has_permission(actor, "people.manage"):
        raise Forbidden("Only those who manage people (people.manage) can mark an address verified.")
    require_outranks(actor, target)
    if not target.email:
        raise Conflict(f"{target.username} has no email address to mark verified.", code="no_email")
    if target.email_verified:
        return target
    with database.atomic():
        User.update(email_verified=True, email_ever_verified=True).where(User.id == target.id).execute()
        hook().keystead_event(event="email_marked_verified", actor=actor, target=target, outcome="success",
                              details={"email": target.email})
    return User.get_by_id(target.id)


def email_would_change(user: User, email) -> bool:
    """Whether `email` (as submitted) is another address than the person's."""
    return isinstance(email, str) and normalise(email.strip()) != user.email_key


def update_own_info(user: User, *, current_password=None, email=None, first_name=None,
                    last_name=None) -> User:
    """A person changes their own names and email through the API. Another address needs
    the current password, checked by the person's own provider under their lockout (a
    stolen token must not be enough to redirect reset mail and take the account over)."""
    if not may_edit_info(user, user):
        raise Forbidden("Only an administrator can change this information.", code="not_editable")
    if email_would_change(user, email):
        verify_current_password(user, current_password)
    return update_user_info(user, user, email=email, first_name=first_name, last_name=last_name)


def set_password(user: User, new_password: str, *, event: str, actor: User | None = None,
                 keep_token_family: str | None = None, revoke_api_keys: bool = False,
                 details: dict | None = None) -> User:
    """Set a new password after checking the rules, ending every session and token of the
    person (but the API token family `keep_token_family`, the caller's own; the browser
    issues a fresh session where the person stays signed in), and with `revoke_api_keys`
    every personal API key too."""
    from ..apikeys import revoke_all_api_keys
    from ..tokens import revoke_user_tokens
    if p := new_password_problem(new_password, username=user.username, email=user.email or "",
                                 first_name=user.first_name, last_name=user.last_name):
        raise ValidationFailed({"new_password": p})
    with database.atomic():
        User.update(password_hash=hash_new_password(new_password),
                    session_epoch=User.session_epoch + 1).where(User.id == user.id).execute()
        revoke_user_tokens(user, except_family=keep_token_family)
        if revoke_api_keys:
            revoke_all_api_keys(user, actor=actor or user, reason=event)
        hook().keystead_event(event=event, actor=actor or user, target=user, outcome="success",
                              details=details or {})
    return User.get_by_id(user.id)


def require_password_provider(user: User) -> None:
    """Refuse password changes for people whose provider keeps no password here."""
    info = current_app.extensions["keystead.providers"].get(user.provider)
    if info is None or not info.supports_password_change:
        raise Conflict("Your password is managed by your sign-in provider and cannot be changed here.",
                       code="password_managed_elsewhere")


def change_password(user: User, current_password: str, new_password: str, *,
                    keep_token_family: str | None = None, revoke_api_keys: bool = False) -> User:
    """A person changes their own password, proving the current one. Their other sessions
    and tokens end; `keep_token_family` (the API caller's own) keeps working. Their API keys
    keep working unless `revoke_api_keys` (a change is often routine, and programs would
    break; a reset, which may follow a takeover, always revokes them)."""
    require_password_provider(user)
    _guarded_password_check(user, current_password, "current_password")
    return set_password(user, new_password, event="password_change", keep_token_family=keep_token_family,
                        revoke_api_keys=revoke_api_keys)


def delete_own_account(user: User, password: str) -> None:
    _guarded_password_check(user, password, "password")
    delete_user(user, actor=user)


def _guarded_password_check(user: User, password, field: str) -> None:
    """A re-entered password is a guess like a login: the person's lockout guards it."""
    from ..throttle import guarded

    def check():
        if not isinstance(password, str) or not check_user_password(user, password):
            raise ValidationFailed({field: "The password is not correct." if field == "password"
                                    else "The current password is not correct."})
    guarded(user, check)


def _refuse_last_administrator(target: User, action: str) -> None:
    """At least one unlocked administrator (the role) must remain (a locked one cannot log in)."""
    if target.role == ADMINISTRATOR and not target.locked and not User.select().where(
            (User.role == ADMINISTRATOR) & (User.locked == False) & (User.id != target.id)).exists():  # noqa: E712
        raise Conflict(f"{target.username} is the last administrator and cannot be {action}; "
                       "make someone else an administrator first.", code="last_administrator")


def delete_user(target: User, actor: User | None = None, *, transfer_to: User | None = None) -> None:
    """Delete a person and everything of theirs (memberships, tokens, links, identities).
    Their documents, those shared with groups included, are deleted with them, unless
    `transfer_to` names another person, who then owns them (shares kept)."""
    from ..documents.models import Document
    require_outranks(actor, target)
    _refuse_last_administrator(target, "deleted")
    if transfer_to is not None and transfer_to.id == target.id:
        raise ValidationFailed({"transfer_to": "Choose someone other than the person being deleted."})
    with database.atomic():
        owned = Document.select().where(Document.owner == target.id)
        details = {"username": target.username, "documents": owned.count()}
        if transfer_to is not None:
            Document.update(owner=transfer_to.id).where(Document.owner == target.id).execute()
            details.update(documents_to=transfer_to.username, documents_to_id=transfer_to.id)
        hook().keystead_event(event="user_delete", actor=actor, target=target, outcome="success",
                              details=details)
        target.delete_instance(recursive=True)


def transfer_recipient(value, *, by_id: bool = False, field: str = "transfer_to") -> User | None:
    """The person named by `value` to give a deleted person's documents to: an id, or (not
    `by_id`) a username or email first; None for no value; ValidationFailed naming `field`."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = str(value).replace("\x00", "").strip()
    user = None if by_id else find_user_by_login(text)
    if user is None and text.isdigit() and 0 < int(text) < 2**63:
        user = User.get_or_none(User.id == int(text))
    if user is None:
        what = "the id" if by_id else "the id, username or email"
        raise ValidationFailed({field: f"There is nobody with {what} {text[:100]!r}."})
    return user


def set_role(target: User, role: str, actor: User | None = None) -> User:
    """Give `target` the built-in or custom `role`. `actor` (None: the command line) must
    be able to grant both the new role and the one it replaces (403 naming a permission
    they lack): nobody hands out, or takes away, more than they hold."""
    if p := roles_problem([role]) if isinstance(role, str) else "Choose a role.":
        raise ValidationFailed({"role": p})
    if role == target.role:
        return target
    require_grant(actor, role)
    if target.role in known_roles():  # a role removed from the configuration grants nothing
        require_grant(actor, target.role)
    require_outranks(actor, target)
    if role != ADMINISTRATOR:
        _refuse_last_administrator(target, "demoted")
    with database.atomic():
        User.update(role=role, session_epoch=User.session_epoch + 1).where(User.id == target.id).execute()
        hook().keystead_event(event="role_change", actor=actor, target=target, outcome="success",
                              details={"from": target.role, "to": role})
    return User.get_by_id(target.id)


def set_locked(target: User, locked: bool, actor: User | None = None) -> User:
    """Lock (sessions end, tokens stop working and API keys are revoked at once) or unlock a
    person. Unlocking revives no key (they make new ones); it also ends a lockout after
    failed logins, and is how an administrator ends one on an account they never locked."""
    from ..apikeys import revoke_all_api_keys
    from ..throttle import clear_lockout, lockout_ends_at
    from ..tokens import revoke_user_tokens
    locked_out = not locked and bool(lockout_ends_at(target))
    if locked == target.locked and not locked_out:
        return target
    require_outranks(actor, target)
    if locked:
        _refuse_last_administrator(target, "locked")
    with database.atomic():
        if locked:
            User.update(locked=True, session_epoch=User.session_epoch + 1).where(User.id == target.id).execute()
            revoke_user_tokens(target)
            revoke_all_api_keys(target, actor=actor, reason="lock")
        else:
            User.update(locked=False).where(User.id == target.id).execute()
            clear_lockout(target)
        hook().keystead_event(event="lock" if locked else "unlock", actor=actor, target=target,
                              outcome="success", details={"lockout_cleared": True} if locked_out else {})
    return User.get_by_id(target.id)


def end_browser_sessions(user: User) -> None:
    """Make every copy of the person's session cookies invalid (logout everywhere)."""
    User.update(session_epoch=User.session_epoch + 1).where(User.id == user.id).execute()


def record_login(user: User) -> User:
    User.update(last_login_at=utcnow()).where(User.id == user.id).execute()
    return User.get_by_id(user.id)
