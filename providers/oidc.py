"""The OpenID Connect provider (docs/providers.md): people log in at an outside identity
provider and come back with a code, which Keystead exchanges for an ID token.

Configured by the OIDC.* settings: Issuer (its discovery document is read from
<Issuer>/.well-known/openid-configuration at the first login, then cached, so start-up
never needs the identity provider to be up), ClientId, ClientSecret, Scopes,
UsernameClaim, EmailClaim, GroupsClaim and Title. The redirect URI to register at the
identity provider is <Server.PublicURL>/auth/oidc/callback.

The flow is the authorization code flow with PKCE (S256), a state and a nonce kept in
the browser session. The ID token's signature is checked against the provider's JWKS,
and its iss, aud, exp, nonce (and azp, at_hash when present) are checked; claims are
read from the ID token and the UserInfo endpoint together (the ID token wins where both
have a claim). A refused sign-in shows a short page (400, or 502 when the identity
provider cannot be reached or answers nonsense) and logs why.

Authlib is imported lazily: without it the provider is listed as not available.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import threading
import time
from urllib.parse import urlsplit

from flask import Blueprint, current_app, has_app_context, redirect, render_template, request, session

from keystead import Identity, ProviderInfo, hookimpl
from keystead.identities import IdentityProviderUnavailable, SignInRefused
from keystead.plugins import provider_extension

log = logging.getLogger("keystead")

NAME = "oidc"
DEFAULT_TITLE = "Log in with OpenID Connect"
LOGIN_PATH = "/auth/oidc/login"
CALLBACK_PATH = "/auth/oidc/callback"
EXTENSION = "keystead.oidc"

PENDING_KEY = "oidc_pending"   # in the browser session between the login start and the callback
PENDING_SECONDS = 10 * 60      # a sign-in must come back within this
HTTP_TIMEOUT = 10              # seconds, for every request to the identity provider
CLOCK_LEEWAY = 60              # seconds of clock difference allowed on exp, iat, nbf
METADATA_MAX_AGE = 24 * 3600   # the discovery document is read again after a day
DISCOVERY_RETRY = 10           # seconds after a failed discovery before it is tried again
JWKS_MIN_REFETCH = 60          # an unknown key id refetches the JWKS at most once a minute
# Asymmetric signatures only: an ID token signed with the client secret (HS256) is refused.
ID_TOKEN_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384",
                       "ES512", "EdDSA"]
# Claims about the token itself, never taken from UserInfo.
TOKEN_CLAIMS = {"iss", "sub", "aud", "exp", "iat", "nbf", "nonce", "azp", "at_hash", "c_hash",
                "auth_time", "acr", "amr", "jti", "sid"}
REQUIRED_SETTINGS = ("OIDC.Issuer", "OIDC.ClientId", "OIDC.ClientSecret")


# ---------------------------------------------------------------- hooks

@hookimpl
def keystead_provider_info():
    settings = current_app.extensions["keystead.settings"] if has_app_context() else None
    problem = unavailable_reason(settings)
    return ProviderInfo(name=NAME, title=settings["OIDC.Title"] if settings else DEFAULT_TITLE,
                        available=problem is None, unavailable_reason=problem,
                        supports_password=False, supports_registration=False,
                        supports_password_change=False, login_url=LOGIN_PATH)


@hookimpl
def keystead_startup(app, settings):
    if NAME in settings.providers:
        app.extensions[EXTENSION] = OIDCClient(settings)


@hookimpl
def keystead_blueprints(settings):
    return [_blueprint()]


def unavailable_reason(settings) -> str | None:
    """What keeps the provider from serving (None: nothing): Authlib, and the settings."""
    try:
        import authlib
        import requests  # noqa: F401  (Authlib's HTTP client)
    except ImportError:
        return "it needs Authlib (pip install 'Authlib>=1.3' requests)"
    if settings is None:
        return "its settings are read within an app"
    missing = [name for name in REQUIRED_SETTINGS if not settings[name]]
    if missing:
        return (f"set {', '.join(missing)} (Authlib {authlib.__version__} is installed; the redirect "
                f"URI to register at the identity provider is {redirect_uri(settings)})")
    issuer = urlsplit(settings["OIDC.Issuer"])
    if issuer.scheme != "https" and not _is_loopback(issuer.hostname):
        return f"OIDC.Issuer = \"{settings['OIDC.Issuer']}\" must be an https:// URL (http:// only on loopback)"
    return None


def redirect_uri(settings) -> str:
    return settings["Server.PublicURL"].rstrip("/") + CALLBACK_PATH


def _is_loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


# ---------------------------------------------------------------- the client

class OIDCClient:
    """One per app (app.extensions["keystead.oidc"]): the settings, and the discovery
    document and JWKS, each fetched when first needed and cached."""

    def __init__(self, settings):
        self.issuer = settings["OIDC.Issuer"]
        self.client_id = settings["OIDC.ClientId"]
        self.client_secret = settings["OIDC.ClientSecret"]
        self.scopes = settings["OIDC.Scopes"]
        self.username_claim = settings["OIDC.UsernameClaim"]
        self.email_claim = settings["OIDC.EmailClaim"]
        self.groups_claim = settings["OIDC.GroupsClaim"]
        self.redirect_uri = redirect_uri(settings)
        self._lock = threading.Lock()
        self._metadata: dict | None = None
        self._metadata_at = 0.0
        self._discovery_failure: tuple[float, str] | None = None  # (when, why)
        self._jwks: dict | None = None
        self._jwks_at = 0.0

    # ---- discovery and keys

    def metadata(self) -> dict:
        with self._lock:
            if self._metadata is not None and time.time() - self._metadata_at < METADATA_MAX_AGE:
                return self._metadata
            failure = self._discovery_failure
            if failure is not None and time.time() - failure[0] < DISCOVERY_RETRY:
                # Do not make every login wait on an identity provider that just failed.
                raise IdentityProviderUnavailable(f"{failure[1]} (not tried again for {DISCOVERY_RETRY}s)")
        try:
            meta = self._discover()
        except IdentityProviderUnavailable as e:
            with self._lock:
                self._discovery_failure = (time.time(), e.reason)
            raise
        with self._lock:
            self._metadata, self._metadata_at, self._discovery_failure = meta, time.time(), None
        return meta

    def _discover(self) -> dict:
        url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
        meta = self._get_json(url, "discovery document")
        for field in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(meta.get(field), str) or not meta[field]:
                raise IdentityProviderUnavailable(f"the discovery document at {url} has no {field}")
        if meta["issuer"].rstrip("/") != self.issuer.rstrip("/"):
            raise IdentityProviderUnavailable(f"the discovery document names the issuer {meta['issuer']!r}, "
                                              f"not OIDC.Issuer {self.issuer!r}")
        return meta

    def jwks(self, refresh: bool = False) -> dict:
        with self._lock:
            fresh = time.time() - self._jwks_at < JWKS_MIN_REFETCH
            if self._jwks is not None and (not refresh or fresh):
                return self._jwks
        keys = self._get_json(self.metadata()["jwks_uri"], "JWKS")
        if not isinstance(keys.get("keys"), list):
            raise IdentityProviderUnavailable("the JWKS document has no keys")
        with self._lock:
            self._jwks, self._jwks_at = keys, time.time()
        return keys

    def _get_json(self, url: str, what: str) -> dict:
        import requests
        try:
            response = requests.get(url, timeout=HTTP_TIMEOUT, headers={"Accept": "application/json"})
        except requests.RequestException as e:
            raise IdentityProviderUnavailable(f"cannot fetch the {what} from {url}: {e}") from None
        if response.status_code != 200:
            raise IdentityProviderUnavailable(f"the {what} at {url} answered HTTP {response.status_code}")
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise IdentityProviderUnavailable(f"the {what} at {url} is not a JSON object")
        return data

    # ---- the flow

    def _session(self, **kw):
        from authlib.integrations.requests_client import OAuth2Session
        methods = (self._metadata or {}).get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
        auth_method = "client_secret_basic" if "client_secret_basic" in methods else "client_secret_post"
        return OAuth2Session(self.client_id, self.client_secret, scope=self.scopes,
                             redirect_uri=self.redirect_uri, code_challenge_method="S256",
                             token_endpoint_auth_method=auth_method, **kw)

    def authorization_url(self, state: str, nonce: str, code_verifier: str) -> str:
        meta = self.metadata()
        with self._session() as client:
            url, _ = client.create_authorization_url(meta["authorization_endpoint"], state=state,
                                                     code_verifier=code_verifier, nonce=nonce)
        return url

    def claims_for(self, code: str, code_verifier: str, nonce: str) -> dict:
        """Exchange the code, check the ID token and read UserInfo: the person's claims."""
        import requests
        from authlib.integrations.base_client import OAuthError
        meta = self.metadata()
        with self._session() as client:
            try:
                token = client.fetch_token(meta["token_endpoint"], grant_type="authorization_code",
                                           code=code, code_verifier=code_verifier, timeout=HTTP_TIMEOUT)
            except OAuthError as e:
                raise SignInRefused(f"the token endpoint refused the code: {e.error}: {e.description}") from None
            except (requests.RequestException, ValueError) as e:
                raise IdentityProviderUnavailable(f"the token request failed: {e}") from None
            if not isinstance(token.get("id_token"), str):
                raise IdentityProviderUnavailable("the token response has no id_token")
            claims = self.validate_id_token(token["id_token"], nonce, token.get("access_token"))
            if meta.get("userinfo_endpoint") and token.get("access_token"):
                for name, value in self._userinfo(client, meta["userinfo_endpoint"], claims["sub"]).items():
                    if name not in TOKEN_CLAIMS:
                        claims.setdefault(name, value)
        return claims

    def validate_id_token(self, id_token: str, nonce: str, access_token: str | None = None) -> dict:
        """The ID token's claims once its signature, issuer, audience, expiry and nonce
        (and azp and at_hash, when present) are right; SignInRefused saying what was wrong
        otherwise (OpenID Connect Core 3.1.3.7)."""
        from joserfc.errors import ExpiredTokenError, JoseError
        from joserfc.jwt import JWTClaimsRegistry
        token = self._decode(id_token)
        claims = token.claims
        registry = JWTClaimsRegistry(
            leeway=CLOCK_LEEWAY, iss={"essential": True, "values": [self.metadata()["issuer"]]},
            aud={"essential": True, "values": [self.client_id]}, sub={"essential": True},
            exp={"essential": True}, iat={"essential": True}, nonce={"essential": True})
        try:
            registry.validate(claims)
        except ExpiredTokenError:
            raise SignInRefused(f"the ID token has expired (exp {claims.get('exp')!r})") from None
        except JoseError as e:
            raise SignInRefused(f"the ID token was refused: {type(e).__name__}: {e.description}") from None
        if not hmac.compare_digest(str(claims["nonce"]).encode(), nonce.encode()):
            raise SignInRefused("the ID token was refused: its nonce is not the one sent")
        if not isinstance(claims["sub"], str) or len(claims["sub"]) > 255:
            raise SignInRefused("the ID token's subject is not a string of at most 255 characters")
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if ("azp" in claims or len(audiences) > 1) and claims.get("azp") != self.client_id:
            raise SignInRefused("the ID token was refused: it was issued to another party (azp)")
        if "at_hash" in claims and access_token and not _hash_matches(
                claims["at_hash"], access_token, token.header.get("alg", "")):
            raise SignInRefused("the ID token was refused: at_hash does not match the access token")
        return dict(claims)

    def _decode(self, value: str, what: str = "ID token"):
        """Check a JWT's signature against the provider's keys (fetched again once when
        it names a key id they do not have: the provider may have rotated its keys)."""
        from joserfc import jwt
        from joserfc.errors import BadSignatureError, JoseError
        from joserfc.jwk import KeySet
        header = _jwt_header(value)
        if header is None:
            raise SignInRefused(f"the {what} is not a signed JWT")
        jwks = self.jwks()
        if header.get("kid") and header["kid"] not in {k.get("kid") for k in jwks["keys"] if isinstance(k, dict)}:
            jwks = self.jwks(refresh=True)
        try:
            keys = KeySet.import_key_set(jwks)
        except (JoseError, ValueError, TypeError, KeyError) as e:
            raise IdentityProviderUnavailable(f"the JWKS cannot be read: {type(e).__name__}: {e}") from None
        try:
            return jwt.decode(value, keys, algorithms=ID_TOKEN_ALGORITHMS)
        except BadSignatureError:
            raise SignInRefused(f"the {what}'s signature does not match the provider's keys") from None
        except (JoseError, ValueError, TypeError, KeyError) as e:
            raise SignInRefused(f"the {what} cannot be verified: {type(e).__name__}: {e}") from None

    def _userinfo(self, client, url: str, subject: str) -> dict:
        import requests
        try:
            response = client.get(url, timeout=HTTP_TIMEOUT)
        except requests.RequestException as e:
            raise IdentityProviderUnavailable(f"the UserInfo request failed: {e}") from None
        if response.status_code != 200:
            raise IdentityProviderUnavailable(f"the UserInfo endpoint answered HTTP {response.status_code}")
        if response.headers.get("Content-Type", "").startswith("application/jwt"):
            info = dict(self._decode(response.text, "UserInfo response").claims)
        else:
            try:
                info = response.json()
            except ValueError:
                info = None
        if not isinstance(info, dict):
            raise IdentityProviderUnavailable("the UserInfo response is not a JSON object")
        if info.get("sub") != subject:  # OpenID Connect Core 5.3.2: it must be the same person
            raise IdentityProviderUnavailable("the UserInfo response is about another subject")
        return info

    # ---- the person

    def identity(self, claims: dict) -> Identity:
        """The Identity the claims describe, as the OIDC.*Claim settings map them."""
        email = claim(claims, self.email_claim)
        if not isinstance(email, str) or not email_verified(claims):
            email = None  # an address the provider has not verified is not taken here
        username = claim(claims, self.username_claim)
        if not isinstance(username, str) or not username.strip():
            username = email or claims["sub"]
        first, last = claims.get("given_name"), claims.get("family_name")
        if first is None and last is None and isinstance(claims.get("name"), str):
            first, _, last = claims["name"].strip().partition(" ")
        groups = claim(claims, self.groups_claim)
        if isinstance(groups, str):
            groups = [groups]
        elif isinstance(groups, list):
            groups = [g for g in groups if isinstance(g, str)]
        else:
            groups = None  # no claim: memberships stay as they are
        return Identity(provider=NAME, subject=claims["sub"], username=username, email=email,
                        first_name=first if isinstance(first, str) else None,
                        last_name=last if isinstance(last, str) else None, groups=groups,
                        extra={"issuer": claims.get("iss")})


def _jwt_header(value) -> dict | None:
    """The JOSE header of a compact JWS, unverified (to pick the key), or None."""
    if not isinstance(value, str) or value.count(".") != 2:
        return None
    segment = value.split(".", 1)[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, UnicodeDecodeError):
        return None
    return header if isinstance(header, dict) else None


def _hash_matches(expected, token: str, alg: str) -> bool:
    """OpenID Connect's at_hash: the left half of the token's hash by the ID token's
    algorithm (SHA-2 of the size its name gives; SHA-512 for EdDSA), base64url."""
    size = alg[-3:] if alg[-3:] in ("256", "384", "512") else "512"
    digest = hashlib.new(f"sha{size}", token.encode("ascii", "replace")).digest()
    computed = base64.urlsafe_b64encode(digest[:len(digest) // 2]).rstrip(b"=").decode()
    return isinstance(expected, str) and hmac.compare_digest(computed, expected)


def email_verified(claims: dict) -> bool:
    """Whether the provider vouches for the address: only a JSON `true` in email_verified
    does. The string "false" (or "true"), a number or a missing claim do not, whichever
    claim OIDC.EmailClaim reads the address from: a provider that lets people type any
    address must not hand them a local account's email."""
    return claims.get("email_verified") is True


def claim(claims: dict, name: str):
    """A claim by name, or by a dotted path into nested claims ("realm_access.roles"); a
    name that is itself a key (such as "https://example.com/groups") wins."""
    if name in claims:
        return claims[name]
    value = claims
    for part in name.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


# ---------------------------------------------------------------- routes

def _blueprint() -> Blueprint:
    bp = Blueprint("oidc", __name__)
    bp.add_url_rule(LOGIN_PATH, "login", login)
    bp.add_url_rule(CALLBACK_PATH, "callback", callback)
    return bp


def login():
    """Start a sign-in: remember state, nonce and PKCE verifier, go to the identity provider."""
    from keystead.web.session import safe_next
    client = provider_extension(EXTENSION)
    pending = {"state": secrets.token_urlsafe(32), "nonce": secrets.token_urlsafe(32),
               "verifier": secrets.token_urlsafe(64), "next": safe_next(request.args.get("next")),
               "at": int(time.time())}
    try:
        url = client.authorization_url(pending["state"], pending["nonce"], pending["verifier"])
    except SignInRefused as e:
        return _refused(e)
    session[PENDING_KEY] = pending
    return redirect(url, 302)


def callback():
    """The identity provider sends the person back here with a code (or an error)."""
    from keystead.errors import ServiceError
    from keystead.login import SecondFactorRequired, log_in_as_identity
    from keystead.web.session import start_session
    client = provider_extension(EXTENSION)
    pending = session.pop(PENDING_KEY, None)
    try:
        if not isinstance(pending, dict):
            raise SignInRefused("no sign-in was in progress in this browser session")
        if not hmac.compare_digest(request.args.get("state", "").encode(), pending["state"].encode()):
            raise SignInRefused("the state does not match the one sent (a forged or replayed callback)")
        if not 0 <= time.time() - pending["at"] <= PENDING_SECONDS:
            raise SignInRefused("the sign-in took too long", "The sign-in took too long. Start again.")
        if request.args.get("error"):
            error = request.args["error"]
            shown = error if error.replace("_", "").isalpha() and len(error) <= 40 else "error"
            raise SignInRefused(f"the identity provider answered {error!r}: "
                                f"{request.args.get('error_description', '')[:300]!r}",
                                f"The identity provider did not sign you in ({shown}).")
        code = request.args.get("code")
        if not code:
            raise SignInRefused("the callback has no code")
        claims = client.claims_for(code, pending["verifier"], pending["nonce"])
    except SignInRefused as e:
        return _refused(e)
    from keystead.signup.terms import TermsNotAccepted
    try:
        user = log_in_as_identity(client.identity(claims), ask_second_factor=True)
    except SecondFactorRequired as e:  # their own second factor here, then the session
        from keystead.web.auth import await_second_factor
        return await_second_factor(e.user, pending["next"])
    except TermsNotAccepted as e:  # the current terms of service first, then the session
        from keystead.web.auth import await_terms
        return await_terms(e.user, pending["next"])
    except ServiceError as e:  # locked, waiting for approval, or no usable identity; ProviderError has its own page
        if e.status >= 500:
            raise
        _record_failure(f"the local account refused the login: {e.code}")
        return _page(e.status, e.message)
    start_session(user)
    return redirect(pending["next"], 302)


def _refused(e: SignInRefused):
    log.warning("OpenID Connect sign-in refused: %s", e.reason)
    _record_failure(e.reason)
    return _page(e.status, e.message)


def _record_failure(reason: str) -> None:
    from keystead.login import client_address
    from keystead.plugins import hook
    hook().keystead_event(event="login_failed", actor=None, target=None, outcome="failure",
                          details={"client": client_address(), "provider": NAME, "reason": reason[:200]})


def _page(status: int, message: str):
    return render_template("error.html", status=status, title="Sign-in failed", message=message), status
