"""The browser side: Flask-Login, CSRF on every form, session limits, security headers,
HTML error pages, and the page blueprints (auth pages, profile)."""
from __future__ import annotations

import logging
from urllib.parse import parse_qsl

from flask import Flask, Request, current_app, render_template, request
from flask_login import LoginManager
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.formparser import FormDataParser

from ..db import database_failure, describe_failure, forget_dead_connections
from ..devmode import development_admin, development_mode_user
from ..errors import ProviderError
from ..links import redact_link_tokens
from ..ratelimits import too_many_requests_message
from ..openid_provider.paths import CLIENT_PATHS
from .csrf import check_form_request, csrf, explanation
from .headers import SecurityHeaders
from .session import KeysteadSessionInterface, check_session_age, load_session_user

log = logging.getLogger("keystead")
_SAFE_METHODS = frozenset(("GET", "HEAD", "OPTIONS", "TRACE"))
# Endpoints that take a cross-site POST by design and bind it to something other than a form
# token (a SAML response must answer the request this browser's session sent): a plugin adds
# its endpoint to app.extensions[CROSS_SITE_POSTS] (a set) at start-up.
CROSS_SITE_POSTS = "keystead.cross_site_posts"


class LimitedFormDataParser(FormDataParser):
    """Werkzeug applies MAX_FORM_MEMORY_SIZE and MAX_FORM_PARTS to multipart forms only; a
    urlencoded form was bounded by MAX_CONTENT_LENGTH alone (10 MB, for documents), so
    millions of empty fields could be posted to any page. Here both limits hold for it
    too: past either, 413."""

    def _parse_urlencoded(self, stream, mimetype, content_length, options):
        limit = self.max_form_memory_size
        if limit is not None and content_length is not None and content_length > limit:
            raise RequestEntityTooLarge()
        data = stream.read() if limit is None else stream.read(limit + 1)
        if limit is not None and len(data) > limit:
            raise RequestEntityTooLarge()
        try:
            items = parse_qsl(data.decode(), keep_blank_values=True, errors="werkzeug.url_quote",
                              max_num_fields=self.max_form_parts)
        except ValueError:  # more fields than max_form_parts
            raise RequestEntityTooLarge() from None
        return stream, self.cls(items), self.cls()


class KeysteadRequest(Request):
    form_data_parser_class = LimitedFormDataParser


class KeysteadLoginManager(LoginManager):
    """Flask-Login's manager; in development mode without a usable Bootstrap administrator,
    a page that needs a signed-in person answers 401 saying why, instead of a bare redirect
    to the login page."""

    def unauthorized(self):
        problem = development_admin()[1]
        if problem:
            return render_template(
                "error.html", status=401, title="Not signed in",
                message=f"Development mode: {problem}, so requests without credentials are "
                        "refused. Log in, or fix the account and reload."), 401
        return super().unauthorized()


def init_app(app: Flask) -> None:
    app.request_class = KeysteadRequest
    app.session_interface = KeysteadSessionInterface()
    login_manager = KeysteadLoginManager()
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please log in to see this page."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"
    login_manager.user_loader(load_session_user)
    login_manager.request_loader(_development_mode_user)
    login_manager.init_app(app)
    csrf.init_app(app)

    @app.before_request
    def _browser_request_checks():
        # The API reads bearer tokens and keys only, never cookies: no session to age, and
        # nothing for a forged cross-site request to ride on.
        path = request.path
        if path.startswith(("/api/", "/static/")):
            return
        # The OpenID Provider's client endpoints: apps authenticate with their client
        # credentials or an access token, never a browser session (app/openid_provider).
        if path in CLIENT_PATHS:
            return
        # Every state-changing browser request carries its form's token and, over https,
        # comes from this site's own page (one explicit rule instead of Flask-WTF's
        # per-request exemption look-ups; app/web/csrf.py).
        if request.method not in _SAFE_METHODS and request.endpoint not in app.extensions.get(CROSS_SITE_POSTS, ()):
            check_form_request()
        check_session_age()

    from . import account, admin, approvals, audit, auth, documents, invitations, settings
    app.register_blueprint(approvals.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(account.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(documents.bp)
    app.register_blueprint(audit.bp)
    app.register_blueprint(settings.bp)
    app.register_blueprint(invitations.bp)
    from . import profile_fields
    app.register_blueprint(profile_fields.bp)
    from . import apps
    app.register_blueprint(apps.bp)

    @app.context_processor
    def _template_globals():
        from ..plugins import active_providers
        s = app.extensions["keystead.settings"]
        from ..accounts import self_registration_open
        development_mode = not s["Server.RequireAuthentication"]
        return {"development_mode": development_mode,
                "development_problem": development_admin()[1] if development_mode else None,
                "active_providers": active_providers(),
                "registration_open": self_registration_open,  # called only where shown
                "has_endpoint": lambda name: name in app.view_functions,
                "can": _current_user_can}

    app.wsgi_app = SecurityHeaders(app.wsgi_app, https=app.extensions["keystead.settings"].public_https)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(ProviderError, _provider_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)


def _current_user_can(permission: str, resource=None) -> bool:
    """For templates: whether the signed-in person holds `permission` (pages show only
    what the person may do)."""
    from flask_login import current_user
    from ..authorization import has_permission
    if not current_user.is_authenticated:
        return False
    return has_permission(current_user._get_current_object(), permission, resource)


def _development_mode_user(request_):
    """Flask-Login's request loader: the Bootstrap administrator in development mode (never
    a missing or locked one)."""
    return development_mode_user()


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def _csrf_error(e: CSRFError):
    log.warning("refused a form: %s %s from %s: %s", request.method, redact_link_tokens(request.path),
                request.remote_addr, e.description)
    if _wants_json():
        from ..api.errors import error_response
        return error_response(400, "csrf_failed", "The CSRF token is missing or invalid.")
    return render_template("error.html", status=400, title="Could not verify the form",
                           message=f"The form could not be verified: {explanation(e.description)}. "
                                   "Nothing was changed. Go back, reload the page and try again."), 400


def _provider_error(e: ProviderError):
    """A sign-in provider failed (app.login.provider_failures logged why): a short page, no
    details. The API's own ServiceError handler answers its requests first."""
    if _wants_json():
        from ..api.errors import service_error_response
        return service_error_response(e)
    return render_template("error.html", status=e.status, title="Sign-in failed", message=e.message), e.status


def _http_error(e: HTTPException):
    original = getattr(e, "original_exception", None)
    if e.code == 500 and original is not None and database_failure(original):
        return _database_failure(original)  # raised after the view, while finishing the response
    if _wants_json():
        from ..api.errors import http_error_response
        return http_error_response(e)
    if e.code is None or e.code < 400:
        return e
    message = too_many_requests_message() if e.code == 429 else e.description
    response = render_template("error.html", status=e.code, title=e.name, message=message)
    return response, e.code


_DATABASE_FAILURES = {
    "busy": ("database busy", "Busy", "The server is busy; try again shortly."),
    "unavailable": ("database unavailable", "Unavailable",
                    "The database is not answering; try again shortly."),
}


def _database_failure(e: Exception):
    """503 for a database that is busy (SQLite locked past its busy timeout, a PostgreSQL
    lock or statement timeout) or does not answer (stopped, restarting, unreachable): one
    line in the log, no traceback anywhere, and the client may retry (no Retry-After:
    that header is kept for the 429 of a rate limit and a lockout's 423). The request's
    connection, and the pool's idle ones, are dropped when the database went away, so the
    next requests open new ones."""
    db = current_app.extensions["keystead.db"]
    kind = database_failure(e)
    what, title, message = _DATABASE_FAILURES[kind]
    log.warning("%s on %s %s: %s", what, request.method, redact_link_tokens(request.path),
                describe_failure(e, db))
    if kind == "unavailable":
        forget_dead_connections(db)
    if _wants_json():
        from ..api.errors import error_response
        return error_response(503, "unavailable", message)
    # Not error.html: its navigation asks the database (the signed-in person, whether
    # sign-up is open), and so do the context processors; this page asks nothing.
    page = current_app.jinja_env.get_template("unavailable.html").render(title=title, message=message)
    return page, 503


def _unexpected_error(e: Exception):
    if database_failure(e):
        return _database_failure(e)
    log.exception("unexpected error on %s %s", request.method, redact_link_tokens(request.path))
    if _wants_json():
        from ..api.errors import error_response
        return error_response(500, "internal_error", "Something went wrong on the server.")
    return render_template("error.html", status=500, title="Something went wrong",
                           message="Something went wrong on the server. It has been logged."), 500
