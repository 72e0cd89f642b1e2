"""Registering and managing apps: the one place the admin pages, the API and the command line
create, change and delete apps, and decide who may use one.

Who manages what: holders of `apps.manage` (publishers) register apps and manage those they
created; holders of `apps.manage_all` (administrators) manage every app. The command line
(actor None) may do everything.

Every change is reported as an `app_create`, `app_change` or `app_delete` event naming the
app (details: `app_id`, `app`, and for a change the fields that changed).
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from peewee import IntegrityError

from ..accounts import find_people_named, normalise
from ..authorization import has_permission, require_permission
from ..errors import Conflict, NotFound, ValidationFailed
from ..groups import find_groups_named
from ..models import Group, Membership, User, database
from ..plugins import hook
from .credentials import new_client_credentials
from .models import App, AppAccess, AppHost
from .validation import clean_hosts, clean_icon, clean_launch_url, clean_name, clean_redirect_uris

#: The fields of an app a request may set (the API's body, the form, the CLI's options).
FIELDS = ("name", "icon", "launch_url", "hosts", "redirect_uris", "allowed_groups", "allowed_users",
          "consent", "public")


@dataclass
class Saved:
    """An app just created or changed, with the client secret when one was just made (shown
    once: never stored)."""
    app: App
    client_secret: str | None = None


# ---------------------------------------------------------------- who may manage

def may_manage(user: User | None, app: App) -> bool:
    """Whether `user` may change `app` (None: the command line)."""
    if user is None:
        return True
    if has_permission(user, "apps.manage_all"):
        return True
    return has_permission(user, "apps.manage") and app.created_by_id == user.id


def get_app(app_id: int, actor: User | None = None) -> App:
    """The app with this id (a route's non-negative integer); NotFound also when `actor`
    may not manage it (it is none of theirs to see)."""
    app = App.get_or_none(App.id == app_id) if app_id < 2**63 else None  # ids are 64-bit
    if app is None or not may_manage(actor, app):
        raise NotFound("No such app.")
    return app


def find_app(name_or_id: str) -> App:
    """The app named `name_or_id` (case-insensitive), else the one with that id (CLI)."""
    text = name_or_id.strip()
    app = App.get_or_none(App.name_key == normalise(text)) if text else None
    if app is None and text.isdigit():
        app = App.get_or_none(App.id == int(text)) if int(text) < 2**63 else None
    if app is None:
        raise NotFound(f"No app named {name_or_id!r}.")
    return app


def managed_apps(user: User | None) -> list[App]:
    """The apps `user` manages (every app for apps.manage_all and the command line), by name."""
    query = App.select().order_by(App.name_key)
    if user is not None:
        require_permission(user, "apps.manage")
        if not has_permission(user, "apps.manage_all"):
            query = query.where(App.created_by == user.id)
    return list(query)


# ---------------------------------------------------------------- what an app holds

def hosts_of(app: App) -> list[str]:
    return [h.host for h in AppHost.select(AppHost.host).where(AppHost.app == app.id).order_by(AppHost.host)]


def redirect_uris_of(app: App) -> list[str]:
    try:
        uris = json.loads(app.redirect_uris or "[]")
    except ValueError:
        return []
    return [u for u in uris if isinstance(u, str)] if isinstance(uris, list) else []


def access_of(app: App) -> tuple[list[str], list[str]]:
    """(group names, usernames) allowed to use the app; both empty: every signed-in person."""
    groups = [g for (g,) in Group.select(Group.name).join(AppAccess, on=(AppAccess.group == Group.id))
              .where(AppAccess.app == app.id).tuples()]
    users = [u for (u,) in User.select(User.username).join(AppAccess, on=(AppAccess.user == User.id))
             .where(AppAccess.app == app.id).tuples()]
    return sorted(groups, key=normalise), sorted(users, key=normalise)


# ---------------------------------------------------------------- create, change, delete

def _groups_named(names) -> list[Group]:
    found, missing = find_groups_named(names)
    if missing:
        raise ValidationFailed({"allowed_groups": "No such group: " + ", ".join(repr(n[:100]) for n in missing) + "."})
    return found


def _users_named(names) -> list[User]:
    found, missing = find_people_named(names)
    if missing:
        raise ValidationFailed({"allowed_users": "No such person: " + ", ".join(repr(n[:100]) for n in missing) + "."})
    return found


def _taken_name(name: str) -> Conflict:
    message = f"An app named {name!r} already exists."
    return Conflict(message, {"name": message}, code="taken")


def _check_hosts_free(hosts: list[str], app_id: int | None) -> None:
    if not hosts:
        return
    query = AppHost.select(AppHost.host).where(AppHost.host.in_(hosts))
    if app_id is not None:
        query = query.where(AppHost.app != app_id)
    taken = sorted(h.host for h in query)
    if taken:
        message = f"Another app already answers for {', '.join(taken)}."
        raise Conflict(message, {"hosts": message}, code="taken")


def _clean(values: dict, app: App | None) -> dict:
    """The cleaned values of the given fields (one ValidationFailed naming every bad one)."""
    out: dict = {}
    problems: dict[str, str] = {}
    checks = {
        "name": clean_name,
        "launch_url": clean_launch_url,
        "hosts": clean_hosts,
        "redirect_uris": clean_redirect_uris,
        "allowed_groups": _groups_named,
        "allowed_users": _users_named,
    }
    for key, check in checks.items():
        if key in values:
            try:
                out[key] = check(values[key])
            except ValidationFailed as e:
                problems.update(e.fields)
    if "icon" in values or app is None:
        name = out.get("name") or (app.name if app is not None else "")
        try:
            out["icon"] = clean_icon(values.get("icon"), name)
        except ValidationFailed as e:
            problems.update(e.fields)
    for key in ("consent", "public"):
        if key in values:
            out[key] = bool(values[key])
    if problems:
        raise ValidationFailed(problems)
    return out


def _set_access(app: App, groups: list[Group] | None, users: list[User] | None) -> None:
    if groups is not None:
        AppAccess.delete().where((AppAccess.app == app.id) & AppAccess.group.is_null(False)).execute()
        for group in groups:
            AppAccess.create(app=app.id, group=group.id)
    if users is not None:
        AppAccess.delete().where((AppAccess.app == app.id) & AppAccess.user.is_null(False)).execute()
        for user in users:
            AppAccess.create(app=app.id, user=user.id)


def _set_hosts(app: App, hosts: list[str]) -> None:
    AppHost.delete().where(AppHost.app == app.id).execute()
    for host in hosts:
        AppHost.create(app=app.id, host=host)


def _event(event: str, actor: User | None, app: App, **details) -> None:
    hook().keystead_event(event=event, actor=actor, target=None, outcome="success",
                          details={"app_id": app.id, "app": app.name, **details})


def create_app(values: dict, actor: User | None = None) -> Saved:
    """Register an app from `values` (see FIELDS; `name` required). With `redirect_uris` it
    gets OpenID Connect client credentials; the secret of a confidential client is in the
    answer, and nowhere else ever."""
    if actor is not None:
        require_permission(actor, "apps.manage")
    if not values.get("name"):
        raise ValidationFailed({"name": "Enter a name."})
    clean = _clean(values, None)
    if App.select().where(App.name_key == normalise(clean["name"])).exists():
        raise _taken_name(clean["name"])
    _check_hosts_free(clean.get("hosts", []), None)
    secret = None
    columns = {"name": clean["name"], "name_key": normalise(clean["name"]), "icon": clean["icon"],
               "launch_url": clean.get("launch_url", ""), "consent": clean.get("consent", True),
               "public": clean.get("public", False), "created_by": actor.id if actor else None}
    if clean.get("redirect_uris"):
        client_id, secret, secret_hash = new_client_credentials(columns["public"])
        columns.update(client_id=client_id, client_secret_hash=secret_hash,
                       redirect_uris=json.dumps(clean["redirect_uris"]))
    try:
        with database.atomic():
            app = App.create(**columns)
            _set_hosts(app, clean.get("hosts", []))
            _set_access(app, clean.get("allowed_groups"), clean.get("allowed_users"))
            _event("app_create", actor, app, hosts=clean.get("hosts", []),
                   client=app.client_id is not None)
    except IntegrityError:  # a concurrent request took the name or a host first
        raise Conflict("The name or a host was taken meanwhile; try again.", code="taken") from None
    return Saved(app, secret)


def update_app(app: App, values: dict, actor: User | None = None, *, new_secret: bool = False) -> Saved:
    """Change the given fields (lists replace the old ones); `new_secret` makes a new client
    secret (the old one stops working at once). A client is made when redirect URIs are
    first given; its secret is in the answer."""
    if not may_manage(actor, app):
        raise NotFound("No such app.")
    clean = _clean(values, app)
    changes: dict = {}
    if "name" in clean and clean["name"] != app.name:
        if App.select().where((App.name_key == normalise(clean["name"])) & (App.id != app.id)).exists():
            raise _taken_name(clean["name"])
        changes.update(name=clean["name"], name_key=normalise(clean["name"]))
    for key in ("icon", "launch_url", "consent", "public"):
        if key in clean and clean[key] != getattr(app, key):
            changes[key] = clean[key]
    if "hosts" in clean:
        _check_hosts_free(clean["hosts"], app.id)
    secret = None
    if "redirect_uris" in clean:
        changes["redirect_uris"] = json.dumps(clean["redirect_uris"])
    public = changes.get("public", app.public)
    has_client = app.client_id is not None or bool(clean.get("redirect_uris"))
    if has_client and app.client_id is None:
        client_id, secret, secret_hash = new_client_credentials(public)
        changes.update(client_id=client_id, client_secret_hash=secret_hash)
    elif has_client and (new_secret or ("public" in changes and not public)):
        _, secret, secret_hash = new_client_credentials(public)
        changes["client_secret_hash"] = secret_hash
    elif has_client and public and app.client_secret_hash is not None:
        changes["client_secret_hash"] = None  # a public client has no secret
    elif new_secret:
        raise ValidationFailed({"new_secret": "This app has no OpenID Connect client: give it "
                                              "redirect URIs first."})
    changed = sorted(set(changes) - {"name_key", "client_secret_hash"}
                     | {k for k in ("hosts", "allowed_groups", "allowed_users") if k in clean})
    if new_secret or "client_secret_hash" in changes:
        changed.append("client_secret")
    try:
        with database.atomic():
            if changes:
                App.update(**changes).where(App.id == app.id).execute()
            if "hosts" in clean:
                _set_hosts(app, clean["hosts"])
            _set_access(app, clean.get("allowed_groups"), clean.get("allowed_users"))
            app = App.get_by_id(app.id)
            if changed:
                _event("app_change", actor, app, changed=changed)
    except IntegrityError:
        raise Conflict("The name or a host was taken meanwhile; try again.", code="taken") from None
    return Saved(app, secret)


def delete_app(app: App, actor: User | None = None) -> None:
    """Delete the app with its hosts and access list: its client stops working at once."""
    if not may_manage(actor, app):
        raise NotFound("No such app.")
    with database.atomic():
        _event("app_delete", actor, app)
        app.delete_instance(recursive=True)


# ---------------------------------------------------------------- who may use an app

def may_use(user: User | None, app: App) -> bool:
    """Whether `user` may use `app`: any signed-in (unlocked) person when the app lists
    nobody, else a listed person or a member of a listed group."""
    if user is None or user.locked:
        return False
    rows = list(AppAccess.select(AppAccess.group, AppAccess.user).where(AppAccess.app == app.id))
    if not rows:
        return True
    if any(r.user_id == user.id for r in rows):
        return True
    groups = [r.group_id for r in rows if r.group_id is not None]
    return bool(groups) and Membership.select().where(
        (Membership.user == user.id) & Membership.group.in_(groups)).exists()


def apps_for(user: User | None) -> list[App]:
    """The apps `user` may use, by name (two queries whatever the number of apps)."""
    if user is None or user.locked:
        return []
    mine = Membership.select(Membership.group).where(Membership.user == user.id)
    restricted = AppAccess.select(AppAccess.app)
    allowed = AppAccess.select(AppAccess.app).where((AppAccess.user == user.id) | AppAccess.group.in_(mine))
    query = (App.select()
             .where(App.id.not_in(restricted) | App.id.in_(allowed))
             .order_by(App.name_key))
    return list(query)
