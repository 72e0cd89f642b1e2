"""The pieces create_app puts together, in order."""
from __future__ import annotations

import logging
import os
from datetime import timedelta
from urllib.parse import urlsplit

from flask import Flask

from . import db as dbmod
from .config import (DEFAULT_DATABASE_URL, ConfigError, DatabaseUnavailable, default_instance_path,
                     load_secret_key, read_settings)
from .instance import FOLDER_MODE, make_private
from .migrations import current_version, upgrade
from .plugins import make_plugin_manager, start_providers
from .ratelimits import apply_limits, make_limiter

log = logging.getLogger("keystead")
PACKAGE = os.path.dirname(os.path.abspath(__file__))


def _templates_folder() -> str:
    """keystead/templates in an installed wheel; templates/ beside app/ in the checkout
    (an editable install maps the package to app/ without moving the folder)."""
    installed = os.path.join(PACKAGE, "templates")
    return installed if os.path.isdir(installed) else os.path.join(os.path.dirname(PACKAGE), "templates")


def build_app(test_config, instance_path, plugins) -> Flask:
    instance_path = os.path.abspath(instance_path or default_instance_path())
    try:
        os.makedirs(instance_path, mode=FOLDER_MODE, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"cannot create the instance folder {instance_path}: {e}") from None
    settings = read_settings(instance_path, overrides=test_config)

    app = Flask("app", instance_path=instance_path, root_path=PACKAGE,
                template_folder=_templates_folder())
    _configure_logging(app)
    make_private(instance_path)
    key_from_earlier_start = (settings["Server.SecretKey"] is None
                              and os.path.exists(os.path.join(instance_path, "secret_key")))
    secret_key = load_secret_key(settings)
    https = settings.public_https
    cookie_domain = settings["Server.CookieDomain"]
    if cookie_domain and not f".{urlsplit(settings['Server.PublicURL']).hostname}".endswith(cookie_domain):
        raise ConfigError(f"invalid setting Server.CookieDomain = \"{cookie_domain}\": allowed is a "
                          f"parent domain of the PublicURL's host ({urlsplit(settings['Server.PublicURL']).hostname})")
    app.config.update(
        SECRET_KEY=secret_key,
        # Documents may be large; JSON bodies are limited separately (app/api/jsonbody.py).
        MAX_CONTENT_LENGTH=settings["Documents.MaxBytes"] + 64 * 1024,
        MAX_FORM_MEMORY_SIZE=1024 * 1024,
        MAX_FORM_PARTS=100,
        # __Host- cookies may not name a domain: with Server.CookieDomain the name is __Secure-.
        SESSION_COOKIE_NAME=(("__Secure-keystead" if cookie_domain else "__Host-keystead") if https
                             else "keystead_session"),
        SESSION_COOKIE_DOMAIN=cookie_domain,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=https,
        SESSION_COOKIE_PATH="/",
        PERMANENT_SESSION_LIFETIME=timedelta(seconds=settings["Authentication.Lifetime"]),
        WTF_CSRF_CHECK_DEFAULT=False,  # checked by app/web/__init__.py, on every browser form
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session it belongs to
        # Over https, app/web/csrf.py checks the origin itself (Sec-Fetch-Site, Origin, then
        # Referer): Flask-WTF's check demands a Referer that browsers may leave out.
        WTF_CSRF_SSL_STRICT=False,
        PREFERRED_URL_SCHEME="https" if https else "http",
    )
    app.json.sort_keys = False  # keys in the order the code builds them (id first), unsorted: cheaper
    app.extensions["keystead.settings"] = settings
    app.extensions["keystead.secret_key"] = secret_key

    if settings["Server.TrustedProxies"]:
        from werkzeug.middleware.proxy_fix import ProxyFix
        n = settings["Server.TrustedProxies"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_prefix=n)

    # Before every other check: requests to other host names, and in development mode
    # cross-site unsafe requests, are refused before anything acts on them.
    from . import devmode, hosts, request_text
    hosts.init_app(app)
    devmode.init_app(app)
    request_text.init_app(app)  # NUL and lone surrogates in the path, query or headers

    database = dbmod.init_app(app, settings["Server.DatabaseURL"], instance_path,
                              busy_timeout_ms=settings["Server.SQLiteBusyTimeout"] * 1000,
                              statement_timeout_ms=settings["Server.StatementTimeout"] * 1000,
                              lock_timeout_ms=settings["Server.LockTimeout"] * 1000)
    try:
        with database.connection_context():
            schema_was_missing = current_version(database) == 0
        upgrade(database)
    except Exception as e:  # a database that cannot be reached or written refuses start-up
        raise DatabaseUnavailable(f"invalid setting Server.DatabaseURL: the database cannot be opened "
                          f"or upgraded: {e}") from None

    from .outbox import Outbox
    app.extensions["keystead.outbox"] = Outbox(app)

    pm = make_plugin_manager(plugins)
    app.extensions["keystead"] = pm
    app.extensions["keystead.providers"] = start_providers(app, pm, settings)
    from .authorization.startup import load_permissions
    load_permissions(app, pm, settings)
    from .userfields.declarations import load_fields
    app.extensions["keystead.user_fields"] = load_fields(app, pm, settings)

    limiter = make_limiter(app)
    app.extensions["keystead.limiter"] = limiter
    from .web import init_app as init_web
    from .api import init_app as init_api
    from .cli import init_app as init_cli
    init_web(app)
    init_api(app)
    init_cli(app)
    from .openid_provider.views import init_app as init_openid_provider
    init_openid_provider(app)
    for blueprints in pm.hook.keystead_blueprints(settings=settings):
        for bp in blueprints or ():
            app.register_blueprint(bp)
    apply_limits(app, limiter)

    with app.app_context():
        from .bootstrap import ensure_configured_admin
        from .initialisation import report_people_at_start
        from .totp import seal_clear_secrets
        seal_clear_secrets()  # after the migrations, which run without the key it needs
        ensure_configured_admin()
        report_people_at_start(schema_was_missing=schema_was_missing,
                               database_configured=settings["Server.DatabaseURL"] != DEFAULT_DATABASE_URL,
                               key_from_earlier_start=key_from_earlier_start, instance_path=instance_path)
    devmode.log_development_mode(app)
    return app


class ControlCharacterFilter(logging.Filter):
    """Escape control characters in log records, so input quoted in a message (a username,
    a path) cannot forge log lines or terminal escapes."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = message.translate(_CONTROL_ESCAPES)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


_CONTROL_ESCAPES = {c: f"\\x{c:02x}" for c in [*range(0, 32), 127] if c not in (9,)}


def _configure_logging(app: Flask) -> None:
    logger = logging.getLogger("keystead")
    if not any(isinstance(f, ControlCharacterFilter) for f in logger.filters):
        logger.addFilter(ControlCharacterFilter())
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
