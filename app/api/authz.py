"""/api/v1/authz: forward-auth for reverse proxies (docs/apps.md; the check is
app/apps/forward_auth.py). Both routes run one check and differ only in how they say "not
signed in": nginx's `auth_request` wants 401 (its `error_page` sends the browser to the
login page), Traefik's and Caddy's forward-auth pass a 302 on to the browser."""
from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, render_template, request

from ..apikeys import find_api_key
from ..models import User
from ..plugins import hook
from ..tokens import user_for_access_token
from ..apps.forward_auth import (Decision, cache_of, decision_key, identity_headers, login_url,
                                 original_request, person_from_user, session_cookie, session_person)
from .errors import error_response
from .openapi import operation

bp = Blueprint("api_authz", __name__)
log = logging.getLogger("keystead")

NO_ORIGINAL = ("The proxy sent neither X-Original-URL nor X-Forwarded-Host: configure it to "
               "pass the original request (docs/apps.md).")


def _person(authorization: str, cookie: str | None):
    """Who sent the original request: an access token or API key, else the session cookie.
    Credentials that do not hold count as none (the person is asked to log in)."""
    scheme, _, credential = authorization.partition(" ")
    scheme, credential = scheme.lower(), credential.strip()
    if scheme == "bearer" and credential:
        found = user_for_access_token(credential)
        return person_from_user(found[0], ("token", found[1].family)) if found else None
    if scheme == "key" and credential:
        key = find_api_key(credential)
        return person_from_user(key.user, ("key", key.id)) if key else None
    # Any other scheme (an app's own Basic authentication) is the app's business.
    return session_person(cookie) if cookie else None


def _decide(original, authorization: str, cookie: str | None) -> Decision:
    cache = cache_of(current_app)
    gate = cache.gates().get(original.host) if original.host else None
    person = _person(authorization, cookie)
    allowed = gate is not None and person is not None and gate.admits(person)
    decision = Decision(allowed, person, gate, identity_headers(person) if allowed else [])
    details = {"host": original.host or "(none)"}
    if gate is not None:
        details.update(app_id=gate.app_id, app=gate.name)
    # Events are rare (a sign-in's first visit, a refusal): plugins get the User record.
    if allowed and cache.first_sign_in(person, gate):
        user = User.get_or_none(User.id == person.id)
        hook().keystead_event(event="app_sign_in", actor=user, target=user, outcome="success",
                              details={**details, "via": person.session[0]})
    elif person is not None and not allowed:
        user = User.get_or_none(User.id == person.id)
        hook().keystead_event(event="app_refused", actor=user, target=user, outcome="failure",
                              details={**details, "reason": "not allowed" if gate else "not an app"})
    elif gate is None:
        # Nobody signed in: a log line, not the audit log (anyone could fill it).
        log.info("forward-auth: refused %s, not an app's host", original.host or "a request without a host")
    return decision


def check():
    """The forward-auth check for this request: (original request, decision)."""
    original = original_request(request.headers.get)
    if original is None:
        return None, None
    authorization = request.headers.get("Authorization", "")
    cookie = session_cookie(request.headers.get("Cookie", ""), current_app.config["SESSION_COOKIE_NAME"])
    key = decision_key(authorization, cookie, original.host)
    cache = cache_of(current_app)
    decision = cache.get(key)
    if decision is None:
        decision = _decide(original, authorization, cookie)
        cache.put(key, decision)
    return original, decision


def _wants_html() -> bool:
    return "text/html" in request.headers.get("Accept", "")


def _forbidden(original, decision: Decision):
    if decision.gate is None:
        code, message = "unknown_app", f"{original.host or 'This host'} is not a registered app's host."
    else:
        who = decision.person.username if decision.person else "You"
        code, message = "not_allowed", (f"{who} may not use {decision.gate.name}: ask whoever manages "
                                        "it, or a Keystead administrator, for access.")
    if _wants_html():
        page = render_template(
            "apps/forbidden.html", person=decision.person, host=original.host or "This host",
            app_name=decision.gate.name if decision.gate else None,
            public_url=current_app.extensions["keystead.settings"]["Server.PublicURL"].rstrip("/"))
        return Response(page, 403, mimetype="text/html")
    return error_response(403, code, message)


def _answer(redirect_to_login: bool):
    original, decision = check()
    if original is None:
        return error_response(400, "no_original_request", NO_ORIGINAL)
    if decision.allowed:
        return Response(b"", 200, headers=decision.identity_headers)
    if decision.person is None and decision.gate is not None:
        if redirect_to_login:
            target = login_url(current_app.extensions["keystead.settings"]["Server.PublicURL"], original)
            return Response(b"", 302, headers={"Location": target})
        return error_response(401, "authentication_required",
                              "Log in to Keystead first (the proxy sends the browser to the login page).")
    return _forbidden(original, decision)


@bp.get("/authz/auth-request")
def auth_request():
    return _answer(redirect_to_login=False)


@bp.get("/authz/forward-auth")
def forward_auth():
    return _answer(redirect_to_login=True)


# ---------------------------------------------------------------- OpenAPI

_HOW = ("The original request is read from `X-Original-URL`, else `X-Forwarded-Proto`, "
        "`X-Forwarded-Host` and `X-Forwarded-Uri` (not the method), whatever "
        "Server.TrustedProxies says; its host must be a registered app's. The caller is "
        "identified by `Authorization: Bearer`/`Key`, else Keystead's session cookie. Allowed: "
        "200 with `Remote-User`, `Remote-Email`, `Remote-Name` and `Remote-Groups` "
        "(comma-separated group names) headers, UTF-8. A refusal (403 `not_allowed`, or "
        "`unknown_app` for a host no app has) is an HTML page when `Accept` has text/html. "
        "400 `no_original_request` when the proxy sent no original request. Decisions are "
        "kept 5 seconds per credentials and host in each worker (docs/apps.md).")
_HEADERS = {h: {"schema": {"type": "string"}} for h in ("Remote-User", "Remote-Email", "Remote-Name",
                                                          "Remote-Groups")}


def _op(summary, operation_id, not_signed_in):
    op = operation(summary, tag="apps", operation_id=operation_id, secured=False,
                   description=_HOW + " " + not_signed_in,
                   responses={200: ("Allowed; the identity is in the headers.", None)}, errors=(403,))
    op["responses"]["200"]["headers"] = _HEADERS
    return op


OPENAPI_PATHS: dict = {
    "/api/v1/authz/auth-request": {"get": _op(
        "Forward-auth for nginx auth_request", "authRequest",
        "Not signed in: 401 `authentication_required` (nginx's `error_page 401` sends the "
        "browser to the login page).")},
    "/api/v1/authz/forward-auth": {"get": _op(
        "Forward-auth for Traefik and Caddy", "forwardAuth",
        "Not signed in: 302 to `<PublicURL>/login?next=<the original URL>`.")},
}
OPENAPI_PATHS["/api/v1/authz/auth-request"]["get"]["responses"]["401"] = {"$ref": "#/components/responses/E401"}
OPENAPI_PATHS["/api/v1/authz/forward-auth"]["get"]["responses"]["302"] = {
    "description": "Not signed in: to the login page, which comes back to the original URL.",
    "headers": {"Location": {"schema": {"type": "string"}}}}
