"""Per-client-address rate limits (Server.RateLimits) on the paths that take credentials
or send mail, browser and API alike: each scope below is one bucket shared by every path
in it, so the API is no weaker a path than the browser. The per-account lockout
(app/throttle.py) is separate and always on.

Limits are deliberately above the lockout threshold (10 by default), so a person who
mistypes is locked out (per account) before their address is limited.
"""
from __future__ import annotations

from flask import Flask, g
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

# scope: (limit, the rules of the paths it covers; POST only)
SCOPES: dict[str, tuple[str, tuple[str, ...]]] = {
    "login": ("60 per minute; 600 per hour", ("/login", "/login/two-factor", "/sudo", "/api/v1/auth/login")),
    "register": ("30 per minute; 300 per hour", ("/register", "/api/v1/auth/register")),
    "reset": ("20 per minute; 200 per hour",
              ("/reset-password", "/reset-password/<token>", "/confirm/<token>",
               "/api/v1/auth/request-password-reset",
               "/api/v1/auth/reset-password")),
    "verify": ("30 per minute; 300 per hour",
               ("/verify-email", "/verify-email/<token>", "/api/v1/auth/verify-email",
                "/api/v1/auth/resend-verification")),
}


def make_limiter(app: Flask) -> Limiter:
    """The app's limiter. Made before the other request hooks, so a flood is refused before
    any other work (CSRF checks, sessions, the database)."""
    settings = app.extensions["keystead.settings"]
    # Flask runs after-request hooks last-registered first: registered before the limiter's,
    # this one sees the headers the limiter adds.
    app.after_request(_retry_after_on_423)
    return Limiter(get_remote_address, app=app, storage_uri=settings["Server.RateLimitStorage"],
                   headers_enabled=True, enabled=settings["Server.RateLimits"],
                   key_prefix="keystead", strategy="moving-window")


def apply_limits(app: Flask, limiter: Limiter) -> None:
    """Attach the limits to the views of the listed paths (call after every blueprint)."""
    by_rule = {}
    for scope, (limit, rules) in SCOPES.items():
        for rule in rules:
            by_rule[rule] = (scope, limit)
    for rule in app.url_map.iter_rules():
        if rule.rule in by_rule and "POST" in rule.methods:
            scope, limit = by_rule[rule.rule]
            view = app.view_functions[rule.endpoint]
            app.view_functions[rule.endpoint] = limiter.shared_limit(limit, scope=scope, methods=["POST"])(view)


def send_retry_after(response, seconds: int | None):
    """Say on a 423 when a failed-login lockout lifts (AccountLocked.retry_after); None,
    as for an administrator's lock that lifts only when they unlock, sends nothing."""
    if seconds:
        response.headers["Retry-After"] = str(seconds)
        g.keystead_retry_after = seconds
    return response


def _retry_after_on_423(response):
    """A 423 carries the Retry-After send_retry_after gave it, or none: the limiter puts its
    own on every answer of a limited path, which on an administrator's lock would suggest
    that the lock lifts by itself."""
    if response.status_code == 423:
        seconds = g.get("keystead_retry_after")
        if seconds:
            response.headers["Retry-After"] = str(seconds)
        else:
            response.headers.pop("Retry-After", None)
    return response
