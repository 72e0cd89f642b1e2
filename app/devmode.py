"""Development mode (Server.RequireAuthentication = false): requests without credentials act
as the Bootstrap administrator. What keeps that to the developer's own browser: other host
names are refused (app/hosts.py), unsafe requests from other sites are refused here, and a
missing or locked account is never acted as (401, with the reason in the log and banner)."""
from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import Flask, current_app, has_request_context, render_template, request

from .accounts import normalise
from .models import User

log = logging.getLogger("keystead")

_SAFE_METHODS = frozenset(("GET", "HEAD", "OPTIONS", "TRACE"))
_CACHE_KEY = "keystead.development_admin"
_LOGGED_KEY = "keystead.development_problem"  # in app.extensions: the state the log last told


def is_development_mode(settings) -> bool:
    return not settings["Server.RequireAuthentication"]


def development_admin() -> tuple[User | None, str | None]:
    """(the account requests without credentials act as, None), or (None, why there is
    none: the account is missing or locked). (None, None) when authentication is required.
    Looked up once per request; a change of state since the last one is logged."""
    cache = request.environ if has_request_context() else {}
    if _CACHE_KEY not in cache:
        settings = current_app.extensions["keystead.settings"]
        if not is_development_mode(settings):
            cache[_CACHE_KEY] = (None, None)
        else:
            username = settings["Bootstrap.AdminUsername"]
            user = User.get_or_none(User.username_key == normalise(username))
            problem = None
            if user is None:
                problem = f'the Bootstrap administrator "{username}" (Bootstrap.AdminUsername) does not exist'
            elif user.locked:
                problem = f'the Bootstrap administrator "{user.username}" is locked'
            cache[_CACHE_KEY] = (None, problem) if problem else (user, None)
            _log_if_changed(username, problem)
    return cache[_CACHE_KEY]


def development_mode_user() -> User | None:
    """The account a request without credentials acts as, or None."""
    return development_admin()[0]


def _log_if_changed(username: str, problem: str | None) -> None:
    extensions = current_app.extensions
    if extensions.get(_LOGGED_KEY, "") == problem:
        return
    extensions[_LOGGED_KEY] = problem
    if problem:
        log.warning("Server.RequireAuthentication is false (development mode), but %s: requests "
                    "without credentials get 401 until it is fixed (`keystead init` creates the "
                    "account; an administrator can unlock it).", problem)
    else:
        log.warning("Server.RequireAuthentication is false: every unauthenticated request acts as "
                    "the administrator %s. Never run like this where others can connect.", username)


def is_cross_site() -> bool:
    """An unsafe request (POST, PUT, PATCH, DELETE) that a page of another site sent: its
    browser says so in Sec-Fetch-Site, or its Origin is not this request's host."""
    if request.method in _SAFE_METHODS:
        return False
    if request.headers.get("Sec-Fetch-Site", "").strip().lower() == "cross-site":
        return True
    origin = request.headers.get("Origin")
    return origin is not None and not _same_origin(origin)


def _same_origin(origin: str) -> bool:
    parts = urlsplit(origin.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False  # "null" (a sandboxed frame, a file) or garbage
    # Ports are compared when given; a TLS-terminating proxy may make the schemes differ.
    return _without_default_port(parts.netloc, parts.scheme) == _without_default_port(request.host, request.scheme)


def _without_default_port(host: str, scheme: str) -> str:
    host = host.lower()
    default = {"http": ":80", "https": ":443"}.get(scheme, "")
    return host[: -len(default)] if default and host.endswith(default) else host


def init_app(app: Flask) -> None:
    """In development mode, refuse cross-site unsafe requests (403) before anything acts on
    them, and log at start-up whom requests without credentials act as."""
    if not is_development_mode(app.extensions["keystead.settings"]):
        return

    @app.before_request
    def refuse_cross_site():
        if not is_cross_site():
            return None
        log.warning("development mode: refused a cross-site %s %s (Origin %s, Sec-Fetch-Site %s)",
                    request.method, request.path, request.headers.get("Origin", "none")[:200],
                    request.headers.get("Sec-Fetch-Site", "none")[:40])
        message = "Development mode refuses requests sent by pages of other sites."
        if request.path.startswith("/api/"):
            from .api.errors import error_response
            return error_response(403, "cross_site_refused", message)
        return render_template("error.html", status=403, title="Refused", message=message), 403


def log_development_mode(app: Flask) -> None:
    """At start-up: the warning, and whether the Bootstrap administrator can be acted as."""
    if is_development_mode(app.extensions["keystead.settings"]):
        with app.app_context():
            development_admin()
