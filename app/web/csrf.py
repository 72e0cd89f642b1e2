"""CSRF protection of browser forms: every state-changing browser request carries its
form's token (Flask-WTF), and over https it must also come from a page of this site.

Flask-WTF's own https check (WTF_CSRF_SSL_STRICT) wants a Referer naming this site; the
pages' Referrer-Policy (app/web/headers.py) keeps paths out of Referers, and a browser or
privacy setting may drop the header altogether. So the origin is read from what browsers
send whatever the policy, in this order: Sec-Fetch-Site (the browser's own verdict),
Origin, and only then the Referer. A refusal is a CSRFError whose description says why;
app/web/__init__.py logs it and shows a page that says what went wrong.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, request
from flask_wtf.csrf import CSRFError, CSRFProtect

csrf = CSRFProtect()

# Sec-Fetch-Site values of a request this site's own page made ("none": the person did it,
# such as a reload that sends the form again).
_OWN_SITE = frozenset(("same-origin", "none"))
_DEFAULT_PORTS = {"http": 80, "https": 443}

# What the refusal page says, by the reason Flask-WTF or cross_origin_reason gives.
_EXPLANATIONS = {
    "The CSRF token is missing.": "it arrived without its security token",
    "The CSRF session token is missing.": "your session had ended, or your browser did not send "
                                          "its cookie with the form",
    "The CSRF token has expired.": "its security token had expired",
    "The CSRF tokens do not match.": "its security token belongs to another session (did you log "
                                     "in or out in another tab?)",
    "The CSRF token is invalid.": "its security token is not valid",
}
_CROSS_SITE_EXPLANATION = "your browser says it was sent from a page of another site"


def check_form_request() -> None:
    """Raise CSRFError unless this unsafe browser request carries its form's token and,
    over https, came from a page of this site."""
    csrf.protect()
    if request.is_secure:
        reason = cross_origin_reason()
        if reason:
            raise CSRFError(reason)


def cross_origin_reason() -> str | None:
    """Why the current request does not look like it came from a page of this site, or
    None when it does."""
    fetch_site = request.headers.get("Sec-Fetch-Site", "").strip().lower()
    if fetch_site:
        if fetch_site in _OWN_SITE:
            return None
        return f"Cross-site request: Sec-Fetch-Site is {fetch_site[:40]}."
    origin = request.headers.get("Origin", "").strip()
    if origin and origin != "null":
        return None if _is_this_site(origin) else f"Cross-site request: Origin is {origin[:200]}."
    referrer = request.headers.get("Referer", "").strip()
    if referrer:
        if _is_this_site(referrer):
            return None
        return f"Cross-site request: the Referer is from {_origin_of(referrer)[:200]}."
    return "Cross-site check: the browser sent no Sec-Fetch-Site, Origin or Referer header."


def explanation(reason: str) -> str:
    """The refusal reason in words for the page (never the raw header values)."""
    if reason.startswith("Cross-site request"):
        return _CROSS_SITE_EXPLANATION
    if reason.startswith("Cross-site check"):
        return "your browser did not say which page sent it"
    return _EXPLANATIONS.get(reason, "its security token could not be checked")


def _origin_of(url: str) -> str:
    try:
        parts = urlsplit(url)
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return "an unreadable address"
    return f"{parts.scheme}://{(parts.hostname or '')}:{port}"


def _is_this_site(url: str) -> bool:
    """Whether `url` has the origin of this request, or of Server.PublicURL (a proxy that
    does not pass the Host on)."""
    seen = _origin_of(url)
    public = current_app.extensions["keystead.settings"]["Server.PublicURL"]
    return seen in (_origin_of(request.host_url), _origin_of(public))
