"""Forward-auth: a reverse proxy asks, before each request to a protected app, whether the
person may go on (nginx `auth_request`, Traefik `ForwardAuth`, Caddy `forward_auth`).

One check serves both routes (app/api/authz.py):

1. the original request, from `X-Original-URL`, else `X-Forwarded-Proto`, `-Host` and
   `-Uri`, read as sent whatever Server.TrustedProxies says (its method does not matter);
2. its host must be a registered app's (`host` or `host:port`, default ports dropped);
3. who asks: `Authorization: Bearer`/`Key` credentials, else Keystead's session cookie
   (the same rules as a page: the session's epoch and uniquifier, Lifetime, Inactivity, not
   locked);
4. whether they may use the app (service.may_use's rule).

It runs on every request of every protected app, so it is built to be cheap: the app
registry (every host with who may use its app) is one query, kept CACHE_SECONDS; a
person is one query (their row and group names, joined); and a decision is kept
CACHE_SECONDS per (credentials, host), in the worker process, so a page and its assets
cost one check. The answer may thus lag a change made in another worker process by at
most CACHE_SECONDS: a logout, a lock, a group or app change. In the process that made the
change, every decision is dropped at once (app/apps/plugin.py). A logout also deletes the
browser's cookie, so that browser is asked to log in again at once everywhere.
"""
from __future__ import annotations

import hmac
import time
from dataclasses import dataclass, field
from urllib.parse import quote

from flask import current_app
from peewee import JOIN

from ..models import Group, Membership, User
from ..web.session import session_has_ended
from .models import App, AppAccess, AppHost
from .validation import host_problem

CACHE_SECONDS = 5.0
MAX_DECISIONS = 20_000  # past this, the cache starts again empty (a bound on memory)
_DEFAULT_PORTS = {"http": ":80", "https": ":443"}


# ---------------------------------------------------------------- the original request

@dataclass(frozen=True)
class Original:
    url: str      # absolute: where the login page sends the person back
    host: str     # lower case, `host` or `host:port` (the scheme's default port dropped)


def original_request(header) -> Original | None:
    """The request the proxy asks about, from its headers (`header(name)` returns a value or
    None), or None when the proxy sent neither X-Original-URL nor X-Forwarded-Host."""
    url = header("X-Original-URL")
    if url:
        scheme, sep, rest = url.partition("://")
        if not sep:
            return None
        netloc = rest.partition("/")[0].partition("?")[0].partition("#")[0]
    else:
        netloc = (header("X-Forwarded-Host") or "").partition(",")[0].strip()
        if not netloc:
            return None
        scheme = (header("X-Forwarded-Proto") or "https").partition(",")[0].strip()
        uri = header("X-Forwarded-Uri") or "/"
        if not uri.startswith("/"):
            uri = "/" + uri
        url = f"{scheme}://{netloc}{uri}"
    scheme = scheme.lower()
    host = netloc.lower().rstrip(".")
    default = _DEFAULT_PORTS.get(scheme)
    if default and host.endswith(default):
        host = host[: -len(default)]
    if scheme not in _DEFAULT_PORTS or "@" in netloc or host_problem(host):
        host = ""  # not an app's host, whatever it is
    return Original(url=url, host=host)


# ---------------------------------------------------------------- the app registry

@dataclass(frozen=True)
class Gate:
    """What forward-auth needs of an app: who may use it (both empty: every signed-in
    person)."""
    app_id: int
    name: str
    group_ids: frozenset = frozenset()
    user_ids: frozenset = frozenset()

    def admits(self, person: "Person") -> bool:
        if not self.group_ids and not self.user_ids:
            return True
        return person.id in self.user_ids or not self.group_ids.isdisjoint(person.group_ids)


def load_registry() -> dict[str, Gate]:
    """{host: Gate} of every registered host, in one query."""
    rows = (AppHost.select(AppHost.host, App.id, App.name, AppAccess.group, AppAccess.user)
            .join(App)  # each join follows the one foreign key between the two tables
            .join(AppAccess, join_type=JOIN.LEFT_OUTER)
            .tuples())
    found: dict[str, tuple] = {}
    for host, app_id, name, group_id, user_id in rows:
        entry = found.setdefault(host, (app_id, name, set(), set()))
        if group_id is not None:
            entry[2].add(group_id)
        if user_id is not None:
            entry[3].add(user_id)
    return {host: Gate(a, n, frozenset(g), frozenset(p)) for host, (a, n, g, p) in found.items()}


# ---------------------------------------------------------------- the person

@dataclass(frozen=True)
class Person:
    id: int
    username: str
    email: str
    name: str
    group_ids: frozenset
    group_names: tuple
    session: tuple  # what makes this sign-in one (for the once-per-sign-in app_sign_in event)


def person_from_session(user_id: int, epoch: int, uniquifier: str, login_at: int) -> Person | None:
    """The person a session cookie names, in one query (their row and groups), or None when
    the session no longer holds (other uniquifier or epoch, locked, deleted)."""
    rows = list(User.select(User.id, User.username, User.email, User.first_name, User.last_name,
                            User.uniquifier, User.session_epoch, User.locked, Group.id, Group.name)
                .join(Membership, join_type=JOIN.LEFT_OUTER)  # on Membership.user
                .join(Group, join_type=JOIN.LEFT_OUTER)  # on Membership.group
                .where(User.id == user_id).tuples())
    if not rows:
        return None
    key, user_epoch, locked = rows[0][5:8]
    if locked or user_epoch != epoch or not hmac.compare_digest(str(key).encode(), uniquifier.encode()):
        return None
    return _person(rows[0][:5], [(gid, name) for *_, gid, name in rows if gid is not None],
                   ("session", user_id, epoch, login_at))


def person_from_user(user: User, session: tuple) -> Person:
    """A Person for a user already loaded (an access token's or an API key's): one query
    for their groups."""
    groups = list(Group.select(Group.id, Group.name).join(Membership)  # on Membership.group
                  .where(Membership.user == user.id).tuples())
    return _person((user.id, user.username, user.email, user.first_name, user.last_name), groups, session)


def _person(fields: tuple, groups: list, session: tuple) -> Person:
    """A Person from their (id, username, email, first name, last name) and (group id, name)s."""
    user_id, username, email, first, last = fields
    groups = sorted(groups, key=lambda g: g[1].lower())
    full = " ".join(p for p in (first, last) if p) or username
    return Person(id=user_id, username=username, email=email or "", name=full,
                  group_ids=frozenset(g for g, _ in groups), group_names=tuple(n for _, n in groups),
                  session=session)


def session_person(cookie: str) -> Person | None:
    """The person whose Keystead session cookie this is, or None (bad signature, expired
    past Authentication.Lifetime or idle past Authentication.Inactivity, or no longer
    holding)."""
    app = current_app._get_current_object()
    settings = app.extensions["keystead.settings"]
    try:
        data = app.session_interface.get_signing_serializer(app).loads(
            cookie, max_age=settings["Authentication.Lifetime"])
        user_id, epoch, uniquifier = str(data["_user_id"]).split(":")
        user_id, epoch = int(user_id), int(epoch)
    except Exception:  # any cookie that does not hold is no session (itsdangerous, KeyError, ...)
        return None
    if session_has_ended(data, time.time()):
        return None
    return person_from_session(user_id, epoch, uniquifier, data["login_at"])


# ---------------------------------------------------------------- the decision

@dataclass
class Decision:
    """The outcome of one check: allowed or not, who asked (None: nobody signed in) and
    the app (None: the host is no app's)."""
    allowed: bool
    person: Person | None
    gate: Gate | None
    identity_headers: list = field(default_factory=list)


def identity_headers(person: Person) -> list[tuple[str, str]]:
    """Remote-User, Remote-Email, Remote-Name and Remote-Groups (comma-separated). Values are
    sent as UTF-8 bytes, as the proxies pass them on; line breaks can never be in them."""
    def value(text: str) -> str:
        text = "".join(" " if ord(c) < 32 or ord(c) == 127 else c for c in text)
        return text.encode("utf-8").decode("latin-1")
    return [("Remote-User", value(person.username)), ("Remote-Email", value(person.email)),
            ("Remote-Name", value(person.name)),
            ("Remote-Groups", value(",".join(person.group_names)))]


class Cache:
    """Decisions and the registry, kept CACHE_SECONDS in this process (see the module doc)."""

    def __init__(self, seconds: float = CACHE_SECONDS):
        self.seconds = seconds
        self.decisions: dict = {}
        self.registry: tuple[float, dict] | None = None
        self.signed_in_apps: set = set()  # (sign-in, app id) already recorded as app_sign_in

    def forget(self) -> None:
        """Drop every decision and the registry (after a change made in this process)."""
        self.decisions = {}
        self.registry = None

    def gates(self) -> dict[str, Gate]:
        now = time.monotonic()
        if self.registry is None or self.registry[0] <= now:
            self.registry = (now + self.seconds, load_registry())
        return self.registry[1]

    def get(self, key) -> Decision | None:
        """The decision kept for `key`, or None when there is none or it has expired (the
        caller then decides afresh and puts the new one in its place)."""
        found = self.decisions.get(key)
        if found is None or found[0] <= time.monotonic():
            return None
        return found[1]

    def put(self, key, decision: Decision) -> None:
        if len(self.decisions) >= MAX_DECISIONS:
            self.decisions = {}
        self.decisions[key] = (time.monotonic() + self.seconds, decision)

    def first_sign_in(self, person: Person, gate: Gate) -> bool:
        """True the first time this sign-in (session, token or key) reaches this app here."""
        mark = (person.session, gate.app_id)
        if mark in self.signed_in_apps:
            return False
        if len(self.signed_in_apps) >= MAX_DECISIONS:
            self.signed_in_apps = set()
        self.signed_in_apps.add(mark)
        return True


def cache_of(app) -> Cache:
    cache = app.extensions.get("keystead.forward_auth")
    if cache is None:
        cache = app.extensions["keystead.forward_auth"] = Cache()
    return cache


def session_cookie(cookie_header: str, name: str) -> str | None:
    """The value of cookie `name` in a Cookie header (the first one), without parsing the
    others."""
    for part in cookie_header.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key == name:
            return value.strip().strip('"')
    return None


def decision_key(authorization: str, cookie: str | None, host: str) -> tuple:
    """Every input of a decision: the credentials as sent and the original host."""
    return (authorization, cookie, host)


def login_url(public_url: str, original: Original) -> str:
    """The login page, which sends the person back to the original URL afterwards
    (`public_url`: Server.PublicURL, which never ends in a slash)."""
    return f"{public_url}/login?next={quote(original.url, safe='')}"


class FastPath:
    """A WSGI middleware answering, before Flask, a forward-auth request whose decision is
    cached as allowed: the proxy's every request then costs a dictionary look-up. Anything
    else (a first request, a refusal) goes to the Flask route, which makes and caches the
    decision. The key holds every input of the decision (the credentials as sent and the
    original host)."""

    PATHS = ("/api/v1/authz/auth-request", "/api/v1/authz/forward-auth")

    def __init__(self, wsgi_app, flask_app):
        self.wsgi_app = wsgi_app
        self.flask_app = flask_app
        self.cookie_name = flask_app.config["SESSION_COOKIE_NAME"]

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") in self.PATHS and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            decision = self._cached(environ)
            if decision is not None:
                start_response("200 OK", [("Content-Length", "0"), ("Cache-Control", "no-store"),
                                          *decision.identity_headers])
                return [b""]
        return self.wsgi_app(environ, start_response)

    def _cached(self, environ) -> Decision | None:
        original = original_request(lambda name: environ.get("HTTP_" + name.upper().replace("-", "_")))
        if original is None or not original.host:
            return None
        cookie = session_cookie(environ.get("HTTP_COOKIE", ""), self.cookie_name)
        key = decision_key(environ.get("HTTP_AUTHORIZATION", ""), cookie, original.host)
        decision = cache_of(self.flask_app).get(key)
        return decision if decision is not None and decision.allowed else None
