"""What an app's fields may hold: its name, icon, launch URL, forward-auth hosts and OpenID
Connect redirect URIs. Each function returns the cleaned value or raises ValidationFailed
naming the field, so the API, the pages and the command line refuse the same things."""
from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit

from ..errors import ValidationFailed
from ..groups import group_name_problem

NAME_MAX = 100
URL_MAX = 2000
# One DNS label: letters, digits and hyphens, not at either end.
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_LOOPBACK = ("localhost", "127.0.0.1", "[::1]", "::1")


def clean_name(name) -> str:
    problem = group_name_problem(name)  # the same rules as a group's name
    if problem:
        raise ValidationFailed({"name": problem.replace("group name", "name")})
    return unicodedata.normalize("NFKC", name.strip())


def host_problem(host: str) -> str | None:
    """Why `host` (already lower-cased) is not `host` or `host:port`, or None."""
    name, sep, port = host.rpartition(":") if ":" in host else (host, "", "")
    if sep and not (port.isdigit() and 0 < int(port) < 65536 and port[0] != "0"):
        return f"{host!r}: the port must be a number from 1 to 65535."
    if not name or len(name) > 253 or not all(_LABEL.match(label) for label in name.split(".")):
        return f"{host!r} is not a host name (such as grafana.example.com or grafana.example.com:8443)."
    return None


def clean_hosts(hosts) -> list[str]:
    """Lower-cased, unique hosts (`host` or `host:port`)."""
    cleaned: list[str] = []
    for host in hosts:
        host = host.strip().lower().rstrip(".") if isinstance(host, str) else ""
        if problem := host_problem(host):
            raise ValidationFailed({"hosts": problem})
        if host not in cleaned:
            cleaned.append(host)
    return cleaned


def _url_problem(url: str, what: str) -> str | None:
    if len(url) > URL_MAX:
        return f"{what}: use at most {URL_MAX} characters."
    if any(ord(c) < 33 or c == "\\" for c in url):
        return f"{what}: spaces, backslashes and control characters are not allowed."
    parts = urlsplit(url)
    try:
        hostname, _port = parts.hostname, parts.port
    except ValueError:
        return f"{what}: {url!r} has an invalid port."
    if parts.scheme not in ("http", "https") or not hostname:
        return f"{what}: {url!r} is not an absolute http(s) URL."
    if parts.username is not None or parts.password is not None:
        return f"{what}: {url!r} must not carry a user name or password."
    return None


def clean_redirect_uris(uris) -> list[str]:
    """Absolute https URLs (http only on localhost or 127.0.0.1), without fragments."""
    cleaned: list[str] = []
    for uri in uris:
        uri = uri.strip() if isinstance(uri, str) else ""
        problem = _url_problem(uri, "Redirect URI")
        if not problem:
            parts = urlsplit(uri)
            if parts.fragment or uri.endswith("#"):
                problem = f"Redirect URI: {uri!r} must not have a fragment (#...)."
            elif parts.scheme == "http" and parts.hostname not in _LOOPBACK:
                problem = (f"Redirect URI: {uri!r} must use https (http only for localhost "
                           "or 127.0.0.1).")
        if problem:
            raise ValidationFailed({"redirect_uris": problem})
        if uri not in cleaned:
            cleaned.append(uri)
    return cleaned


def clean_launch_url(url) -> str:
    url = (url or "").strip()
    if url and (problem := _url_problem(url, "Launch URL")):
        raise ValidationFailed({"launch_url": problem})
    return url


def clean_icon(icon, name: str) -> str:
    """One letter (or digit), or an https URL of an image; empty: the name's first letter."""
    icon = (icon or "").strip()
    if not icon:
        return next((c.upper() for c in name if c.isalnum()), "?")
    if len(icon) == 1 and icon.isalnum():
        return icon.upper()
    problem = _url_problem(icon, "Icon")
    if problem or not icon.startswith("https://"):
        raise ValidationFailed({"icon": problem or "Icon: one letter, or an https URL of an image."})
    return icon
