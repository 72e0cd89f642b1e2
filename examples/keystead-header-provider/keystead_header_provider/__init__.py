"""keystead-header-provider: log people in by the user name an authenticating reverse proxy
(oauth2-proxy, Authelia, Apache mod_auth_*, a corporate SSO gateway) puts in a request
header, as Posit Connect's "proxy" authentication does.

A third-party Keystead provider, installed with pip and found through the entry point
``header`` in the ``keystead.providers`` group; it touches nothing in the core. Made
active by configuration alone (``Authentication.Provider = ["password", "header"]``), it
adds a "Log in with single sign-on" button leading to ``/auth/header/login``.

It trusts the user-name header only on requests that prove they come from the proxy: by
a shared secret the proxy adds in its own header (compared in constant time), and/or by
coming straight from an address listed as the proxy's. Neither is set by default, and
then it trusts no request at all (and says so in the log): a header any client can send
is no proof of anything.

Its own settings are environment variables under ``KEYSTEAD_PLUGIN_HEADER_`` (the prefix
Keystead leaves to plugins; see README.md):

- ``KEYSTEAD_PLUGIN_HEADER_NAME``: the header with the user name (``X-Forwarded-User``)
- ``KEYSTEAD_PLUGIN_HEADER_EMAIL``: a header with the email address (none)
- ``KEYSTEAD_PLUGIN_HEADER_GROUPS``: a header with comma-separated group names (none)
- ``KEYSTEAD_PLUGIN_HEADER_SECRET``: the shared secret the proxy sends, 32 characters or
  more (none)
- ``KEYSTEAD_PLUGIN_HEADER_SECRET_HEADER``: the header the proxy sends it in
  (``X-Keystead-Proxy-Secret``)
- ``KEYSTEAD_PLUGIN_HEADER_TRUSTED_PROXIES``: comma-separated addresses or networks the
  proxy connects from (none)
- ``KEYSTEAD_PLUGIN_HEADER_TITLE``: the login button's text (``Log in with single sign-on``)
"""
from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import unicodedata
from dataclasses import dataclass

from flask import Blueprint, abort, current_app, redirect, render_template, request

from keystead import Identity, ProviderInfo, ProviderUnavailable, hookimpl

log = logging.getLogger("keystead")

NAME = "header"
LOGIN_PATH = "/auth/header/login"
ENV = "KEYSTEAD_PLUGIN_HEADER_"
EXTENSION = "keystead_header_provider"
DEFAULTS = {"NAME": "X-Forwarded-User", "EMAIL": "", "GROUPS": "", "SECRET": "",
            "SECRET_HEADER": "X-Keystead-Proxy-Secret", "TRUSTED_PROXIES": "", "TITLE": "Log in with single sign-on"}
VALUE_MAX = 255
SECRET_MIN = 32


def setting(key: str, environ=None) -> str:
    environ = os.environ if environ is None else environ
    return environ.get(ENV + key, DEFAULTS[key]).strip()


def _header_name(key: str, environ) -> str:
    name = setting(key, environ)
    if not name or not all(c.isalnum() or c == "-" for c in name):
        raise ProviderUnavailable(f'invalid setting {ENV}{key} = "{name}": allowed is a header name '
                                  "such as X-Forwarded-User")
    return name


@dataclass(frozen=True)
class HeaderConfig:
    header: str
    email_header: str | None
    groups_header: str | None
    secret: bytes | None  # the proxy's shared secret, when one is set
    secret_header: str
    proxies: tuple  # of ipaddress networks; empty: any address (the secret decides)

    @classmethod
    def from_environment(cls, environ=None) -> "HeaderConfig":
        """The configuration, or ProviderUnavailable naming the variable that is wrong."""
        proxies = []
        raw = setting("TRUSTED_PROXIES", environ)
        for part in filter(None, (p.strip() for p in raw.split(","))):
            try:
                proxies.append(ipaddress.ip_network(part, strict=False))
            except ValueError:
                raise ProviderUnavailable(
                    f'invalid setting {ENV}TRUSTED_PROXIES = "{raw}": allowed is a comma-separated list '
                    f'of addresses or networks such as "127.0.0.1, 10.0.0.0/8" ("{part}" is neither)') from None
        secret = setting("SECRET", environ)
        if secret and (len(secret) < SECRET_MIN or not secret.isascii() or not secret.isprintable()):
            # Never shown: it is a secret.
            raise ProviderUnavailable(f"invalid setting {ENV}SECRET: allowed is a random string of "
                                      f"{SECRET_MIN} or more printable ASCII characters, such as the "
                                      "output of: python3 -c 'import secrets; print(secrets.token_urlsafe(32))'")
        return cls(header=_header_name("NAME", environ),
                   email_header=setting("EMAIL", environ) and _header_name("EMAIL", environ) or None,
                   groups_header=setting("GROUPS", environ) and _header_name("GROUPS", environ) or None,
                   secret=secret.encode() if secret else None,
                   secret_header=_header_name("SECRET_HEADER", environ), proxies=tuple(proxies))

    @property
    def trusts_nothing(self) -> bool:
        return self.secret is None and not self.proxies

    def refusal(self, peer: str | None, sent_secret: str | None) -> str | None:
        """Why this request is not trusted to name the person (for the log), or None."""
        if self.trusts_nothing:
            return f"neither {ENV}SECRET nor {ENV}TRUSTED_PROXIES is set, so no request is trusted"
        if self.proxies and not self._from_proxy(peer):
            return f"request from {peer}, which is not a trusted proxy"
        if self.secret is not None and not self._has_secret(sent_secret):
            return f"request from {peer} without the proxy's shared secret in {self.secret_header}"
        return None

    def _has_secret(self, sent: str | None) -> bool:
        # Header values arrive as latin-1 text; compared as bytes, in constant time.
        return sent is not None and hmac.compare_digest(sent.encode("latin-1", "replace"), self.secret)

    def _from_proxy(self, address: str | None) -> bool:
        try:
            ip = ipaddress.ip_address(address or "")
        except ValueError:
            return False
        if ip.version == 6 and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        return any(ip in network for network in self.proxies)


# ---------------------------------------------------------------- hooks

@hookimpl
def keystead_provider_info():
    return ProviderInfo(name=NAME, title=setting("TITLE"), supports_password=False,
                        supports_registration=False, supports_password_change=False, login_url=LOGIN_PATH)


@hookimpl
def keystead_startup(app, settings):
    """Read the configuration when the provider is active; a wrong value refuses start-up."""
    if NAME in settings.providers:
        config = app.extensions[EXTENSION] = HeaderConfig.from_environment()
        if config.trusts_nothing:
            log.warning("header provider: neither %sSECRET nor %sTRUSTED_PROXIES is set, so it trusts "
                        "no request and every sign-in through it is refused", ENV, ENV)
        elif config.secret is None:
            log.warning("header provider: no %sSECRET is set; it trusts any request from %s, so the proxy "
                        "there must remove %s from every request it receives", ENV,
                        ", ".join(map(str, config.proxies)), config.header)


@hookimpl
def keystead_blueprints(settings):
    bp = Blueprint("header_provider", __name__)
    bp.add_url_rule(LOGIN_PATH, "login", login)
    return [bp]


# ---------------------------------------------------------------- the route

def peer_address() -> str | None:
    """The address the request came from directly: the proxy's, even when Keystead's own
    Server.TrustedProxies has rewritten remote_addr to the client's (ProxyFix keeps the
    original)."""
    original = request.environ.get("werkzeug.proxy_fix.orig") or {}
    return original.get("REMOTE_ADDR") or request.environ.get("REMOTE_ADDR")


def login():
    """Log in as the person the proxy vouches for, then go on to `next` (or /profile)."""
    from keystead.errors import ServiceError
    from keystead.login import log_in_as_identity
    from keystead.web.session import safe_next, start_session
    config = current_app.extensions.get(EXTENSION)
    if config is None:
        abort(404)  # installed, not active
    reason = config.refusal(peer_address(), request.headers.get(config.secret_header))
    if reason:
        return _refused(403, reason, "Single sign-on works only through the sign-on proxy.")
    username = _value(request.headers.get(config.header))
    if username is None:
        return _refused(401, f"the proxy sent no usable {config.header} header",
                        "The sign-on proxy did not say who you are.")
    email = _value(request.headers.get(config.email_header)) if config.email_header else None
    groups = None
    if config.groups_header:
        raw = _value(request.headers.get(config.groups_header), limit=4096) or ""
        groups = [g.strip() for g in raw.split(",") if g.strip()]
    identity = Identity(provider=NAME, subject=username, username=username, email=email, groups=groups)
    from keystead.signup.terms import TermsNotAccepted
    try:
        user = log_in_as_identity(identity)
    except TermsNotAccepted as e:  # new terms of service: the terms step, then the session
        from keystead.web.auth import await_terms
        return await_terms(e.user, safe_next(request.args.get("next")))
    except ServiceError as e:
        if e.status >= 500:
            raise
        return _refused(e.status, f"{username!r}: {e.code}", e.message)
    start_session(user)
    return redirect(safe_next(request.args.get("next")), 302)


def _value(raw: str | None, limit: int = VALUE_MAX) -> str | None:
    if raw is None:
        return None
    value = raw.strip()
    if not value or len(value) > limit or any(unicodedata.category(c) == "Cc" for c in value):
        return None
    return value


def _refused(status: int, reason: str, message: str):
    from keystead.login import client_address
    from keystead.plugins import hook
    log.warning("header sign-in refused: %s", reason)
    hook().keystead_event(event="login_failed", actor=None, target=None, outcome="failure",
                          details={"client": client_address(), "provider": NAME, "reason": reason[:200]})
    return render_template("error.html", status=status, title="Sign-in failed", message=message), status
