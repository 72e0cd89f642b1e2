"""The OpenID Provider's endpoints: discovery, JWKS, authorization (with Keystead's login
and the consent page), token, UserInfo, revocation, introspection and RP-initiated logout.

The token, UserInfo, revocation and introspection endpoints are client endpoints: apps
call them with their client credentials or an access token, never with a browser session,
so they take no CSRF token (app/web/__init__.py skips CLIENT_PATHS). The consent form is a
browser form and has one."""
from __future__ import annotations

import time
from urllib.parse import urlencode, urlsplit

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oidc.core.errors import ConsentRequiredError, LoginRequiredError
from flask import Blueprint, current_app, jsonify, make_response, redirect, render_template, request, session, url_for
from flask_login import current_user
from joserfc import jwt
from joserfc.errors import JoseError
from wtforms import SubmitField

from ..apps.service import may_use
from ..login import client_address
from ..plugins import hook
from ..web.forms import BrowserForm
from ..web.headers import SECURITY_HEADERS
from ..web.session import end_session
from . import keys
from .claims import SCOPES, subject, user_claims
from .consent import SCOPE_TEXT, needs_consent, remember_consent
from .issued import live_access_token
from .paths import PREFIX
from .server import CONFIDENTIAL_AUTH, issuer, make_server

bp = Blueprint("openid_provider", __name__)



class ConsentForm(BrowserForm):
    allow = SubmitField("Allow")
    deny = SubmitField("Deny")


def init_app(app) -> None:
    from .profile import bp as profile_bp
    app.extensions["keystead.oidc_server"] = make_server(app)
    app.register_blueprint(bp)
    app.register_blueprint(profile_bp)


def _server():
    return current_app.extensions["keystead.oidc_server"]


def _url(path: str) -> str:
    return issuer() + path


@bp.route("/.well-known/openid-configuration")
def discovery():
    algs = sorted({current_app.extensions["keystead.settings"]["OpenIDProvider.SigningAlgorithm"],
                   *keys.ALGORITHMS})
    return jsonify({
        "issuer": issuer(),
        "authorization_endpoint": _url(f"{PREFIX}/authorize"),
        "token_endpoint": _url(f"{PREFIX}/token"),
        "userinfo_endpoint": _url(f"{PREFIX}/userinfo"),
        "jwks_uri": _url(f"{PREFIX}/jwks"),
        "revocation_endpoint": _url(f"{PREFIX}/revoke"),
        "introspection_endpoint": _url(f"{PREFIX}/introspect"),
        "end_session_endpoint": _url(f"{PREFIX}/logout"),
        "scopes_supported": list(SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algs,
        "token_endpoint_auth_methods_supported": [*CONFIDENTIAL_AUTH, "none"],
        "revocation_endpoint_auth_methods_supported": [*CONFIDENTIAL_AUTH, "none"],
        "introspection_endpoint_auth_methods_supported": CONFIDENTIAL_AUTH,
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "preferred_username",
                             "name", "given_name", "family_name", "email", "email_verified", "groups"],
        "prompt_values_supported": ["none", "login", "consent"],
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
    })


@bp.route(f"{PREFIX}/jwks")
def jwks():
    return jsonify(keys.jwks())


# ---------------------------------------------------------------- authorization

def _error_page(status: int, title: str, message: str):
    return render_template("error.html", status=status, title=title, message=message), status


def _authorization_error(error: OAuth2Error):
    """An error the app should hear of goes back to its (verified) redirect URI; one about
    the app itself (unknown client, unregistered redirect URI) is shown here, never sent
    anywhere."""
    if getattr(error, "redirect_uri", None):
        return _server().handle_error_response(None, error)
    return _error_page(400, "This sign-in request cannot be used",
                       f"The app sent a sign-in request Keystead cannot accept: "
                       f"{error.description or error.error}. Nothing was shared with it.")


def _back_here_after_login() -> str:
    """This authorization request's path and query for coming back after a new login,
    without what asked for that login (`login` in prompt, max_age, id_token_hint): the
    login just made answers them, and asking again would send the person round in a loop."""
    pairs = []
    for k, v in request.args.items(multi=True):
        if k in ("max_age", "id_token_hint"):
            continue
        if k == "prompt":
            v = " ".join(w for w in v.split() if w != "login")
            if not v:
                continue
        pairs.append((k, v))
    return request.path + ("?" + urlencode(pairs) if pairs else "")


def _to_login(next_path: str, *, fresh: bool = False):
    if fresh:
        end_session()  # prompt=login, max_age, another person's id_token_hint: log in again
    return redirect(url_for("auth.login", next=next_path))


def _hinted_subject(hint: str) -> str | None:
    """The `sub` of an ID token this server signed (expired ones too), or None."""
    try:
        token = jwt.decode(hint, keys.key_set(), algorithms=list(keys.ALGORITHMS))
    except (JoseError, ValueError, TypeError):
        return None
    if token.claims.get("iss") != issuer():
        return None
    return token.claims.get("sub")


def _audit(event: str, user, app, outcome: str = "success", **details) -> None:
    hook().keystead_event(event=event, actor=user, target=user, outcome=outcome,
                          details={"app": app.name, "app_id": app.id, "client": client_address(), **details})


@bp.route(f"{PREFIX}/authorize", methods=["GET", "POST"])
def authorize():
    server = _server()
    user = current_user._get_current_object() if current_user.is_authenticated else None
    try:
        grant = server.get_consent_grant(end_user=user)
    except OAuth2Error as error:
        return _authorization_error(error)
    data = grant.request.payload.data
    prompts = set((data.get("prompt") or "").split())
    redirect_uri = grant.request.payload.redirect_uri or grant.client.get_default_redirect_uri()
    app = grant.client.app

    def refuse(error_cls, description):
        return server.handle_error_response(None, error_cls(description=description, redirect_uri=redirect_uri,
                                                             state=data.get("state")))

    if user is None:  # prompt=none was answered login_required by Authlib already
        return _to_login(_back_here_after_login())
    if "login" in prompts and request.method == "GET":
        return _to_login(_back_here_after_login(), fresh=True)
    max_age = data.get("max_age")
    if max_age is not None:
        if not str(max_age).isdigit():
            return refuse(InvalidRequestError, "'max_age' must be a whole number of seconds.")
        if time.time() - session.get("login_at", 0) > int(max_age):
            if "none" in prompts:
                return refuse(LoginRequiredError, "The login is older than max_age.")
            return _to_login(_back_here_after_login(), fresh=True)
    hint = data.get("id_token_hint")
    if hint and _hinted_subject(hint) != subject(user):
        if "none" in prompts:
            return refuse(LoginRequiredError, "The person signed in is not the one id_token_hint names.")
        return _to_login(_back_here_after_login(), fresh=True)

    if not may_use(user, app):
        _audit("app_refused", user, app, outcome="failure", reason="not_allowed")
        return render_template("auth/app_refused.html", app=app, person=user), 403

    scope = grant.request.scope or ""
    form = ConsentForm()
    if request.method == "POST":
        if not form.validate():
            return _consent_page(app, scope, form, redirect_uri, 400)
        if not form.allow.data:
            _audit("app_refused", user, app, outcome="failure", reason="consent_denied")
            return server.create_authorization_response(grant=grant, grant_user=None)
        remember_consent(user, app, scope)
    elif needs_consent(user, app, scope, asked="consent" in prompts):
        if "none" in prompts:
            return refuse(ConsentRequiredError, "The person has not allowed this app yet.")
        return _consent_page(app, scope, form, redirect_uri)

    response = server.create_authorization_response(grant=grant, grant_user=user)
    if response.status_code == 302 and "code=" in response.headers.get("Location", ""):
        _audit("app_sign_in", user, app, scope=scope)
    return response


def _consent_page(app, scope: str, form, redirect_uri: str, status: int = 200):
    response = make_response(render_template(
        "auth/app_consent.html", app=app, form=form,
        asked=[SCOPE_TEXT[s] for s in scope.split() if s in SCOPE_TEXT]), status)
    # The form's answer redirects to the app: browsers apply form-action to that redirect.
    target = urlsplit(redirect_uri)
    origin = f"{target.scheme}://{target.netloc}" if target.scheme in ("http", "https") else ""
    policy = dict(SECURITY_HEADERS)["Content-Security-Policy"]
    response.headers["Content-Security-Policy"] = policy.replace("form-action 'self'",
                                                                 f"form-action 'self' {origin}".rstrip())
    return response


# ---------------------------------------------------------------- client endpoints

@bp.route(f"{PREFIX}/token", methods=["POST"])
def token():
    return _server().create_token_response()


@bp.route(f"{PREFIX}/revoke", methods=["POST"])
def revoke():
    return _server().create_endpoint_response("revocation")


@bp.route(f"{PREFIX}/introspect", methods=["POST"])
def introspect():
    return _server().create_endpoint_response("introspection")


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    if request.method == "POST":
        return request.form.get("access_token")
    return None


@bp.route(f"{PREFIX}/userinfo", methods=["GET", "POST"])
def userinfo():
    found = live_access_token(_bearer())
    if found is None:
        response = jsonify({"error": "invalid_token", "error_description": "The access token is invalid or has expired."})
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        return response
    token_row, user = found
    if "openid" not in token_row.scope.split():
        response = jsonify({"error": "insufficient_scope", "error_description": "The token lacks the openid scope."})
        response.status_code = 403
        response.headers["WWW-Authenticate"] = 'Bearer error="insufficient_scope", scope="openid"'
        return response
    return jsonify(user_claims(user, token_row.scope))


# ---------------------------------------------------------------- logout

class LogoutForm(BrowserForm):
    confirm = SubmitField("Log out")


@bp.route(f"{PREFIX}/logout", methods=["GET", "POST"])
def logout():
    """RP-initiated logout: with an ID token of the person signed in, at once (then back to
    the app when post_logout_redirect_uri is one of its registered addresses); without one,
    only after the person confirms (a bare link must not log anyone out)."""
    server = _server()
    try:
        req = server.validate_endpoint_request("end_session")
    except OAuth2Error as error:
        return _error_page(400, "Cannot log out from this link", error.description or error.error)
    form = LogoutForm()
    if req.needs_confirmation and not (request.method == "POST" and form.validate()):
        return render_template("auth/app_logout.html", form=form, app=req.client and req.client.app), 200
    response = server.create_endpoint_response("end_session", req)
    if response is None:
        return redirect(url_for("auth.login"), 303)
    return response
