"""The SAML 2.0 provider (docs/providers.md): people log in at an outside identity provider,
which posts a signed assertion back to Keystead. The service provider's code is in
keystead.saml (app/saml/); this module is the plugin: its hooks and its routes.

Routes: /auth/saml/login (a signed AuthnRequest on the HTTP-Redirect binding, RelayState
carrying the page to return to), /auth/saml/acs (the response, on the HTTP-POST binding),
/auth/saml/metadata (this service provider's metadata) and /auth/saml/sls (single logout,
both ways, on the HTTP-Redirect binding, when the identity provider offers it).

The ACS takes a POST from the identity provider's page, another site, so it carries no
form token; it is bound instead to the request id this browser's session holds (the
response's InResponseTo). The session cookie is SameSite=Lax, which a browser does not
send with another site's POST: a POST arriving without it gets a page that posts the same
response again from this site, and that POST carries it. A POST that still finds no
sign-in in progress is refused.

pysaml2 (with xmlsec1) is imported lazily: without it the provider is listed as not
available, with the line that installs it.
"""
from __future__ import annotations

import logging
import shutil
import time

from flask import (Blueprint, abort, current_app, flash, g, has_app_context, redirect, render_template, request,
                   session)

from keystead import ProviderInfo, hookimpl
from keystead.plugins import provider_extension

log = logging.getLogger("keystead")

NAME = "saml"
DEFAULT_TITLE = "Log in with SAML"
EXTENSION = "keystead.saml"
INSTALL = "pip install 'keystead[saml]' (pysaml2) and the xmlsec1 program (apt-get install xmlsec1)"
PENDING_KEY = "saml_pending"      # in the browser session between the login start and the ACS
LOGOUT_KEY = "saml_logout"        # the IdP's name for the person and session, for single logout
LOGOUT_SENT_KEY = "saml_logout_sent"
PENDING_SECONDS = 10 * 60         # a sign-in must come back within this
RELAY_STATE_MAX = 80              # bytes, SAML Bindings 3.4.3


# ---------------------------------------------------------------- hooks

@hookimpl
def keystead_provider_info():
    settings = current_app.extensions["keystead.settings"] if has_app_context() else None
    problem = unavailable_reason(settings)
    return ProviderInfo(name=NAME, title=settings["SAML.Title"] if settings else DEFAULT_TITLE,
                        available=problem is None, unavailable_reason=problem,
                        supports_password=False, supports_registration=False,
                        supports_password_change=False, login_url="/auth/saml/login")


@hookimpl
def keystead_startup(app, settings):
    from keystead.web import CROSS_SITE_POSTS
    app.extensions.setdefault(CROSS_SITE_POSTS, set()).add("saml.acs")
    if NAME in settings.providers:
        from keystead import ProviderUnavailable
        from keystead.identities import IdentityProviderUnavailable
        from keystead.saml.service import ServiceProvider
        try:
            app.extensions[EXTENSION] = ServiceProvider(settings)
        except IdentityProviderUnavailable as e:
            raise ProviderUnavailable(f"invalid setting SAML.IdPMetadataFile: {e.reason}") from None


@hookimpl
def keystead_blueprints(settings):
    return [_blueprint()]


def unavailable_reason(settings) -> str | None:
    """What keeps the provider from serving (None: nothing): pysaml2, xmlsec1, the settings."""
    try:
        import saml2  # noqa: F401
    except ImportError:
        return f"it needs pysaml2: {INSTALL}"
    from keystead.saml.service import settings_problem, xmlsec_binary
    if xmlsec_binary() is None and shutil.which("xmlsec1") is None:
        return f"it needs the xmlsec1 program: {INSTALL}"
    if settings is None:
        return "its settings are read within an app"
    return settings_problem(settings)


# ---------------------------------------------------------------- routes

def _blueprint() -> Blueprint:
    bp = Blueprint("saml", __name__)
    bp.add_url_rule("/auth/saml/login", "login", login)
    bp.add_url_rule("/auth/saml/acs", "acs", acs, methods=["POST"])
    bp.add_url_rule("/auth/saml/metadata", "metadata", metadata)
    bp.add_url_rule("/auth/saml/sls", "sls", sls)
    bp.before_app_request(_before_logout)
    bp.after_app_request(_after_logout)
    return bp


def login():
    """Start a sign-in: a signed AuthnRequest, its id kept in this browser's session."""
    from keystead.identities import SignInRefused
    from keystead.web.session import safe_next
    sp = provider_extension(EXTENSION)
    next_target = safe_next(request.args.get("next"))
    relay_state = next_target if len(next_target.encode()) <= RELAY_STATE_MAX else "/profile"
    try:
        request_id, url = sp.authn_request(relay_state)
    except SignInRefused as e:
        return _refused(e)
    session[PENDING_KEY] = {"id": request_id, "next": next_target, "at": int(time.time())}
    return redirect(url, 302)


def acs():
    """The identity provider's response (HTTP-POST binding)."""
    from keystead.errors import ServiceError
    from keystead.login import SecondFactorRequired, log_in_as_identity
    from keystead.identities import SignInRefused
    from keystead.signup.terms import TermsNotAccepted
    from keystead.web.session import safe_next, start_session
    sp = provider_extension(EXTENSION)
    if PENDING_KEY not in session and request.form.get("continued") != "1":
        # Posted by another site, so the Lax session cookie stayed behind: post it again from here.
        return render_template("auth/saml_continue.html", saml_response=request.form.get("SAMLResponse", ""),
                               relay_state=request.form.get("RelayState", ""))
    pending = session.pop(PENDING_KEY, None)
    try:
        if not isinstance(pending, dict):
            raise SignInRefused("no sign-in was in progress in this browser session (an unsolicited response)")
        if not 0 <= time.time() - pending["at"] <= PENDING_SECONDS:
            raise SignInRefused("the sign-in took too long", "The sign-in took too long. Start again.")
        identity, logout_info = sp.identity_from(request.form.get("SAMLResponse"), pending["id"])
    except SignInRefused as e:
        return _refused(e)
    next_target = safe_next(pending["next"])
    try:
        user = log_in_as_identity(identity, ask_second_factor=True)
    except SecondFactorRequired as e:
        from keystead.web.auth import await_second_factor
        return await_second_factor(e.user, next_target)
    except TermsNotAccepted as e:
        from keystead.web.auth import await_terms
        return await_terms(e.user, next_target)
    except ServiceError as e:  # locked, waiting for approval, or no usable identity
        if e.status >= 500:
            raise
        _record_failure(f"the local account refused the login: {e.code}")
        return _page(e.status, e.message)
    start_session(user)
    session[LOGOUT_KEY] = logout_info
    return redirect(next_target, 303)


def metadata():
    """This service provider's metadata, for the identity provider's administrator."""
    xml = provider_extension(EXTENSION).metadata_xml()
    return xml, 200, {"Content-Type": "application/samlmetadata+xml; charset=utf-8"}


def sls():
    """Single logout on the HTTP-Redirect binding: the identity provider asks Keystead to end
    the person's session (SAMLRequest), or answers the logout Keystead asked for (SAMLResponse)."""
    from keystead.identities import SignInRefused
    from keystead.saml.logout import answer_logout_request, check_logout_response
    sp = provider_extension(EXTENSION)
    try:
        if "SAMLRequest" in request.args:
            return redirect(answer_logout_request(sp, session.get(LOGOUT_KEY), _end_session), 302)
        if "SAMLResponse" in request.args:
            check_logout_response(sp, session.pop(LOGOUT_SENT_KEY, None))
            flash("You have also logged out at the identity provider.", "success")
            return redirect("/login", 303)
    except SignInRefused as e:
        log.warning("SAML single logout refused: %s", e.reason)
        return _page(400, "The logout message could not be accepted.", title="Logout failed")
    abort(400)


def _end_session():
    """End this browser's session, and every other session of its person (the identity
    provider says the person logged out)."""
    from flask_login import current_user
    from keystead import accounts
    from keystead.login import client_address
    from keystead.plugins import hook
    from keystead.web.session import end_session
    if current_user.is_authenticated:
        user = current_user._get_current_object()
        accounts.end_browser_sessions(user)
        hook().keystead_event(event="logout", actor=user, target=user, outcome="success",
                              details={"client": client_address(), "via": "saml_single_logout"})
    end_session()


# ---- logging out here also logs out at the identity provider, when it offers single logout

def _before_logout():
    if request.endpoint == "auth.logout" and request.method == "POST" and LOGOUT_KEY in session:
        g.saml_logout = session.get(LOGOUT_KEY)


def _after_logout(response):
    info = g.pop("saml_logout", None)
    sp = current_app.extensions.get(EXTENSION)
    if info is None or sp is None or response.status_code != 303:
        return response
    from keystead.identities import SignInRefused
    from keystead.saml.logout import logout_request_url
    try:
        sent = logout_request_url(sp, info)
    except SignInRefused as e:
        log.warning("SAML single logout not started: %s", e.reason)
        return response
    if sent is not None:
        request_id, url = sent
        session[LOGOUT_SENT_KEY] = request_id
        response.headers["Location"] = url
    return response


# ---------------------------------------------------------------- refusals

def _refused(e):
    log.warning("SAML sign-in refused: %s", e.reason)
    _record_failure(e.reason)
    return _page(e.status, e.message)


def _record_failure(reason: str) -> None:
    from keystead.login import client_address
    from keystead.plugins import hook
    hook().keystead_event(event="login_failed", actor=None, target=None, outcome="failure",
                          details={"client": client_address(), "provider": NAME, "reason": reason[:200]})


def _page(status: int, message: str, title: str = "Sign-in failed"):
    return render_template("error.html", status=status, title=title, message=message), status
