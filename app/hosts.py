"""Which host names a request may be addressed to (Server.TrustedHosts, and development
mode's fixed list), so that a page on another site whose name was made to resolve to this
server (DNS rebinding) is never answered: its requests carry its own name in `Host`."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, request

# Development mode answers these and the PublicURL's host, whatever Server.TrustedHosts says.
DEVELOPMENT_HOSTS = ("localhost", "127.0.0.1", "[::1]")


def answered_hosts(settings) -> tuple[str, ...]:
    """The host names (without ports) this server answers; empty means any."""
    if not settings["Server.RequireAuthentication"]:
        return (host_name(urlsplit(settings["Server.PublicURL"]).netloc), *DEVELOPMENT_HOSTS)
    return tuple(settings["Server.TrustedHosts"])


def host_name(host: str) -> str:
    """`host[:port]` -> the host name alone, lower case, without a trailing dot; IPv6
    addresses keep their brackets."""
    host = host.strip().lower()
    if host.startswith("["):
        return host.partition("]")[0] + "]"
    return host.partition(":")[0].rstrip(".")


def is_answered(host: str, names: tuple[str, ...]) -> bool:
    """Does `host` (a Host header value, port allowed) name one of `names`? A name with a
    leading dot matches itself and every subdomain. Empty `names`: every host."""
    if not names:
        return True
    name = host_name(host)
    if not name:
        return False
    for allowed in names:
        if allowed.startswith("."):
            if name == allowed[1:] or name.endswith(allowed):
                return True
        elif name == allowed:
            return True
    return False


def init_app(app: Flask) -> None:
    """Refuse requests addressed to other hosts (400) before anything else looks at them.
    Behind Server.TrustedProxies the host judged is the forwarded one (ProxyFix runs first)."""
    names = answered_hosts(app.extensions["keystead.settings"])
    if not names:
        return

    def refuse_unknown_host():
        if is_answered(request.host, names):
            return None
        # Forward-auth is asked by a proxy about another host (an app's, which ProxyFix may
        # have made request.host); it answers only for credentials sent with the request,
        # which a page on a rebound name never has (the browser keeps Keystead's cookie
        # for Keystead's name).
        if request.path.startswith("/api/v1/authz/"):
            return None
        if request.path.startswith("/api/"):
            from .api.errors import error_response
            return error_response(400, "unknown_host", "This server does not answer to that host name.")
        return Response("Bad request: this server does not answer to that host name.\n", 400,
                        mimetype="text/plain")

    # First of all before-request functions (rate limits, sessions and CSRF come later).
    app.before_request_funcs.setdefault(None, []).insert(0, refuse_unknown_host)
