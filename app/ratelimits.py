"""Per-client-address rate limits (Server.RateLimits) on the paths that take credentials
or send mail, browser and API alike: each scope below is one bucket shared by every path
in it, so the API is no weaker a path than the browser. The per-account lockout
(app/throttle.py) is separate and always on.

Limits are deliberately above the lockout threshold (10 by default), so a person who
mistypes is locked out (per account) before their address is limited.

The counts live in Server.RateLimitStorage: by default Keystead's own database
(app/ratelimit_storage.py), so the limits below hold per host whatever the number of
workers; `redis://…` shares them between hosts. A storage that stops answering never
fails a request: the limiter counts per process meanwhile, logs a warning, and
`/api/v1/health` says `"rate_limits": "degraded"` until it answers again.

Only a 429 carries Retry-After (no X-RateLimit-* headers on other answers).
"""
from __future__ import annotations

import logging
import math
import time
from urllib.parse import urlsplit

from flask import Flask, current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits.errors import ConfigurationError

from . import ratelimit_storage  # noqa: F401  (registers the database:// storage)
from .config import ConfigError

log = logging.getLogger("keystead.ratelimits")


class _StorageNewsOnly(logging.Filter):
    """Keeps the limiter's warnings and its "storage recovered" note; drops its line per
    refused request (a flood would fill the log; the 429s are in the access log)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or "recovered" in str(record.msg)


log.addFilter(_StorageNewsOnly())

# scope: (limit, the rules of the paths it covers: POST unless "METHOD /rule")
SCOPES: dict[str, tuple[str, tuple[str, ...]]] = {
    "login": ("60 per minute; 600 per hour", ("/login", "/login/two-factor", "/sudo", "/api/v1/auth/login")),
    "register": ("30 per minute; 300 per hour", ("/register", "/invite/<token>", "/api/v1/auth/register")),
    # Each challenge costs the server a random number and two HMACs; a bucket of its own so
    # that fetching one does not use up the sign-up's (Password.SignupChallenge).
    "challenge": ("30 per minute; 300 per hour", ("GET /api/v1/auth/challenge",)),
    "reset": ("20 per minute; 200 per hour",
              ("/reset-password", "/reset-password/<token>", "/confirm/<token>",
               "/api/v1/auth/request-password-reset",
               "/api/v1/auth/reset-password")),
    "verify": ("30 per minute; 300 per hour",
               ("/verify-email", "/verify-email/<token>", "/api/v1/auth/verify-email",
                "/api/v1/auth/resend-verification")),
    # Changing one's address says whether another account holds it, and sends mail:
    # counted only when the request carries an email field (carries_email below).
    "email": ("20 per minute; 200 per hour", ("/profile", "PATCH /api/v1/users/me")),
}

# Redis answers on the LAN within milliseconds: fail fast when it does not, so a request
# waits at most about a second before the limiter falls back (redis-py's default retries
# ten times with back-off). Values given in the URL's query win.
_REDIS_TIMEOUT_SECONDS = 1


def make_limiter(app: Flask) -> Limiter:
    """The app's limiter. Made before the other request hooks, so a flood is refused before
    any other work (CSRF checks, sessions)."""
    settings = app.extensions["keystead.settings"]
    uri = settings["Server.RateLimitStorage"]
    try:
        limiter = Limiter(get_remote_address, app=app, storage_uri=uri,
                          storage_options=_storage_options(app, uri),
                          enabled=settings["Server.RateLimits"], key_prefix="keystead",
                          strategy="moving-window", headers_enabled=False,
                          in_memory_fallback_enabled=True, swallow_errors=True)
    except ConfigurationError as e:  # e.g. redis:// without the redis package
        scheme = urlsplit(uri).scheme
        hint = " (install keystead[redis])" if scheme.startswith("redis") else ""
        raise ConfigError(f"invalid setting Server.RateLimitStorage ({scheme}://…): "
                          f"{_without_uri(str(e), uri)}{hint}") from None
    limiter.logger = log  # the fallback and recovery messages go to Keystead's log
    app.after_request(_retry_after_on_429)
    return limiter


def apply_limits(app: Flask, limiter: Limiter) -> None:
    """Attach the limits to the views of the listed paths (call after every blueprint)."""
    by_rule = {}
    for scope, (limit, rules) in SCOPES.items():
        for entry in rules:
            method, _, rule = entry.rpartition(" ")
            by_rule[rule] = (scope, limit, method or "POST")
    for rule in app.url_map.iter_rules():
        if rule.rule not in by_rule:
            continue
        scope, limit, method = by_rule[rule.rule]
        if method in rule.methods:
            view = app.view_functions[rule.endpoint]
            exempt_when = (lambda: not carries_email()) if scope == "email" else None
            app.view_functions[rule.endpoint] = limiter.shared_limit(
                limit, scope=scope, methods=[method], exempt_when=exempt_when)(view)


def carries_email() -> bool:
    """Whether this profile change names an email address: an `email` key in the API's
    JSON body (an unreadable body counts too), an `email` field in the browser's form."""
    if request.path.startswith("/api/"):
        from .api.jsonbody import json_body
        from .errors import ServiceError
        try:
            return "email" in json_body(required=False)
        except ServiceError:
            return True
    return "email" in request.form


def rate_limit_storage_answers(app: Flask) -> bool:
    """Whether the rate-limit storage answers (always true with the limits turned off)."""
    limiter = app.extensions["keystead.limiter"]
    if not limiter.enabled:
        return True
    try:
        return bool(limiter.storage.check())
    except Exception:  # a storage that cannot even say it is down is down
        return False


def retry_after_seconds() -> int | None:
    """The seconds until the limit this request breached lets the next one through (the
    whole window if the storage cannot say); None when no limit was breached."""
    limit = current_app.extensions["keystead.limiter"].current_limit
    if limit is None or not limit.breached:
        return None
    try:
        seconds = math.ceil(limit.window.reset_time - time.time())
    except Exception:  # the storage stopped answering in between
        seconds = limit.limit.get_expiry()
    return max(1, seconds)


def too_many_requests_message() -> str:
    """What a refused client reads (browser page and API alike), instead of the limiter's
    own "60 per 1 minute"."""
    seconds = retry_after_seconds()
    if seconds is None:
        return "Too many requests from your address; try again later."
    return f"Too many requests from your address; try again in {seconds} second{'s' if seconds != 1 else ''}."


def _retry_after_on_429(response):
    """Retry-After on a refused request (retry_after_seconds)."""
    if response.status_code != 429:
        return response
    seconds = retry_after_seconds()
    if seconds is not None:
        response.headers["Retry-After"] = str(seconds)
    return response


def _storage_options(app: Flask, uri: str) -> dict:
    scheme = urlsplit(uri).scheme
    if scheme == "database":
        return {"database": app.extensions["keystead.db"]}
    if scheme in ("redis", "rediss", "redis+unix"):
        try:
            from redis.backoff import NoBackoff
            from redis.retry import Retry
        except ImportError:
            return {}  # the storage itself says what is missing
        # One retry: a connection left over from before a Redis restart fails once.
        return {"socket_connect_timeout": _REDIS_TIMEOUT_SECONDS,
                "socket_timeout": _REDIS_TIMEOUT_SECONDS, "retry": Retry(NoBackoff(), 1)}
    return {}


def _without_uri(message: str, uri: str) -> str:
    """A library message with the configured URI (which may hold a password) taken out."""
    return message.replace(uri, f"{urlsplit(uri).scheme}://…")


def send_retry_after(response, seconds: int | None):
    """Say on a 423 when a failed-login lockout lifts (AccountLocked.retry_after); None,
    as for an administrator's lock that lifts only when they unlock, sends nothing."""
    if seconds:
        response.headers["Retry-After"] = str(seconds)
    return response
