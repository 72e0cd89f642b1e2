"""Where the login page may send a person back to outside Keystead: only an absolute URL on
a registered app's host (an app's `hosts`), so that forward-auth's "log in, then back to
the app" works and nothing else becomes an open redirect."""
from __future__ import annotations

from urllib.parse import urlsplit

from .models import AppHost
from .validation import host_problem

_DEFAULT_PORTS = {"http": 80, "https": 443}


def is_app_url(target: str) -> bool:
    """Whether `target` is an absolute http(s) URL on a registered app's host. Refused
    whatever the host: spaces, control characters and backslashes (browsers read `\\` as
    `/`), a user name or password (`https://app@evil`), a missing or odd port."""
    if not isinstance(target, str) or len(target) > 4000:
        return False
    if any(ord(c) <= 32 or ord(c) == 127 or c == "\\" for c in target):
        return False
    parts = urlsplit(target)
    if parts.scheme not in _DEFAULT_PORTS or not parts.netloc or "@" in parts.netloc:
        return False
    try:
        hostname, port = parts.hostname, parts.port
    except ValueError:
        return False
    if not hostname:
        return False
    host = hostname if port in (None, _DEFAULT_PORTS[parts.scheme]) else f"{hostname}:{port}"
    if host != parts.netloc.lower().removesuffix(f":{_DEFAULT_PORTS[parts.scheme]}") or host_problem(host):
        return False  # anything the parser normalised (an empty port) or no host name (a trailing dot)
    return AppHost.select().where(AppHost.host == host).exists()
