"""Configuration: `keystead.toml` in the instance folder plus `KEYSTEAD_<SECTION>_<KEY>`
environment overrides, checked against one table of settings (SETTINGS below; docs/configuration.md).

Every setting is declared once in SETTINGS with its default and its check; an invalid
value raises ConfigError with one line naming the section, key, value and what is allowed.
"""
from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import re
import sys
import tomllib
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import urlsplit

log = logging.getLogger("keystead")

CONFIG_FILE = "keystead.toml"
ENV_PREFIX = "KEYSTEAD_"
# Variables a plugin reads for its own settings (KEYSTEAD_PLUGIN_<PLUGIN>_<KEY>, see
# docs/providers.md); the core neither reads them nor warns about them.
PLUGIN_ENV_PREFIX = "KEYSTEAD_PLUGIN_"
MIN_SECRET_KEY_LENGTH = 32
DEFAULT_DATABASE_URL = "sqlite:///keystead.db"  # in the instance folder


class ConfigError(Exception):
    """A setting that refuses start-up; str() is the one line shown to the operator."""


class DatabaseUnavailable(ConfigError):
    """The database could not be opened or brought up to date. Unlike a wrong setting this
    may pass (a database server restarting, another process holding SQLite's lock), so a
    server may try again."""


# ---------------------------------------------------------------- value checks
# Each check takes the raw value and returns the clean one, or raises ValueError with
# the "allowed" part of the message.

_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: Any) -> int:
    """'90s', '5m', '8h', '7d' (or a whole number of seconds) -> seconds, at least 1."""
    if isinstance(value, bool):
        raise ValueError("a duration such as 90s, 5m, 8h or 7d")
    if isinstance(value, int):
        seconds = value
    elif isinstance(value, str) and (m := _DURATION.match(value)):
        seconds = int(m.group(1)) * _UNIT_SECONDS[m.group(2)]
    else:
        raise ValueError("a duration such as 90s, 5m, 8h or 7d")
    if seconds < 1:
        raise ValueError("a duration of at least 1s")
    return seconds


def _integer(low: int | None = None, high: int | None = None) -> Callable[[Any], int]:
    if high is not None:
        allowed = f"a whole number from {low} to {high}"
    else:
        allowed = f"a whole number of at least {low}"

    def check(value):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(allowed)
        if (low is not None and value < low) or (high is not None and value > high):
            raise ValueError(allowed)
        return value
    return check


def _boolean(value):
    if isinstance(value, bool):
        return value
    raise ValueError("true or false")


def _text(value):
    if isinstance(value, str):
        return value
    raise ValueError("a string")


def _secret_key(value):
    # Unset: a key is generated. Set: 32 characters or more (the value is never shown).
    if value is None or isinstance(value, str) and len(value) >= MIN_SECRET_KEY_LENGTH:
        return value
    raise ValueError(f"a string of at least {MIN_SECRET_KEY_LENGTH} characters "
                     "(for example 64 hex characters from secrets.token_hex(32))")


def _optional_text(value):
    if value is None or isinstance(value, str):
        return value or None
    raise ValueError("a string")


def _choice(*options: str) -> Callable[[Any], str]:
    def check(value):
        if isinstance(value, str):
            for option in options:
                if value.lower() == option.lower():
                    return option
        raise ValueError("one of " + ", ".join(options))
    return check


def _http_url(value):
    if isinstance(value, str):
        parts = urlsplit(value)
        if parts.scheme in ("http", "https") and parts.netloc:
            return value.rstrip("/")
    raise ValueError("an http:// or https:// URL")


def _optional_http_url(value):
    return None if value in (None, "") else _http_url(value)


def _database_url(value):
    if isinstance(value, str) and re.match(r"^[a-z0-9+]+://", value):
        return value
    raise ValueError("a database URL such as sqlite:///keystead.db or postgresql://user@host/db")


def _providers(value):
    names = [value] if isinstance(value, str) else value
    if (isinstance(names, list) and names
            and all(isinstance(n, str) and re.match(r"^[a-z][a-z0-9_-]*$", n) for n in names)):
        return list(dict.fromkeys(names))  # keep order, drop repeats
    raise ValueError('a provider name such as "password", or a list such as ["password", "oidc"]')


def _email_tls(value):
    # Accepted spellings: none/false (plain SMTP), starttls/true, tls/ssl (implicit TLS).
    if value is None or value is False:
        return "none"
    if value is True:
        return "starttls"
    if isinstance(value, str):
        low = value.lower()
        if low in ("none", "false", "off", ""):
            return "none"
        if low in ("starttls", "true"):
            return "starttls"
        if low in ("tls", "ssl"):
            return "tls"
    raise ValueError("none, starttls or tls")


def _optional_port(value):
    if value is None:
        return None
    return _integer(1, 65535)(value)


_HOST_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
_HOST_NAME = re.compile(rf"^\.?{_HOST_LABEL}(\.{_HOST_LABEL})*$", re.IGNORECASE)


def _host_names(value):
    """A host name or a list of them, without ports; a leading dot also accepts every
    subdomain (Flask's TRUSTED_HOSTS). IPv6 addresses are kept in brackets, [::1]."""
    allowed = ('a list of host names without ports, such as ["auth.example.com", ".example.com"] '
               '(a leading dot also accepts subdomains)')
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list):
        raise ValueError(allowed)
    clean = []
    for name in names:
        if not isinstance(name, str):
            raise ValueError(allowed)
        name = name.strip().rstrip(".").lower()
        if ":" in name:
            try:
                name = f"[{ipaddress.IPv6Address(name.strip('[]')).compressed}]"
            except ValueError:
                raise ValueError(allowed) from None
        else:
            try:
                name = name.encode("idna").decode("ascii") if not name.isascii() else name
            except UnicodeError:
                raise ValueError(allowed) from None
            if len(name) > 254 or not _HOST_NAME.match(name):
                raise ValueError(allowed)
        clean.append(name)
    return list(dict.fromkeys(clean))


# Storages that keep a moving window (app/ratelimits.py): Keystead's database, one
# process's memory, or Redis.
RATE_LIMIT_SCHEMES = ("database", "memory", "redis", "rediss", "redis+unix", "redis+sentinel",
                      "redis+cluster")


def _rate_limit_storage(value):
    if isinstance(value, str) and urlsplit(value).scheme in RATE_LIMIT_SCHEMES and "://" in value:
        return value
    raise ValueError("database:// (the default), memory:// (one worker only) or a Redis URL "
                     "such as redis://host:6379/0")


def _domains(value):
    allowed = 'a list of email domains such as ["example.com", "example.org"] (empty: any)'
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not all(isinstance(n, str) and n.strip() for n in names):
        raise ValueError(allowed)
    clean = []
    for name in names:
        name = name.strip().lstrip("@").rstrip(".").lower()
        try:
            name = name.encode("idna").decode("ascii") if not name.isascii() else name
        except UnicodeError:
            raise ValueError(allowed) from None
        if len(name) > 254 or not _HOST_NAME.match(name) or name.startswith("."):
            raise ValueError(allowed)
        clean.append(name)
    return list(dict.fromkeys(clean))


def _cookie_domain(value):
    """None (a host-only cookie) or a parent domain such as ".example.com"."""
    if value in (None, ""):
        return None
    allowed = 'a parent domain of the PublicURL\'s host, such as ".example.com" (empty: this host only)'
    if not isinstance(value, str):
        raise ValueError(allowed)
    name = value.strip().lower().lstrip(".").rstrip(".")
    if "." not in name or not _HOST_NAME.match(name):
        raise ValueError(allowed)
    return "." + name


def _custom_roles(value):
    """[Authorization.Roles.<name>] tables with `permissions = [...]`. Whether each
    permission exists is checked at start-up, once plugins have added theirs
    (app/authorization)."""
    allowed = ('tables such as [Authorization.Roles.auditor] with permissions = '
               '["audit.read", "people.read"]')
    if not isinstance(value, dict):
        raise ValueError(allowed)
    roles = {}
    for name, table in value.items():
        if (not re.match(r"^[a-z][a-z0-9_.-]{0,19}$", name) or not isinstance(table, dict)
                or set(table) - {"permissions", "title"}
                or not isinstance(table.get("permissions", []), list)
                or not all(isinstance(p, str) for p in table.get("permissions", []))):
            raise ValueError(allowed + " (role names: lower-case letters, digits, _ . -, "
                             "at most 20 characters)")
        roles[name] = {"permissions": list(dict.fromkeys(table.get("permissions", []))),
                       "title": table.get("title") or name}
    return roles


def _profile_fields(value):
    """[[Profile.Fields]] tables; each is checked in full by app/userfields."""
    if isinstance(value, list) and all(isinstance(t, dict) for t in value):
        return value
    raise ValueError('[[Profile.Fields]] tables such as name = "team", label = "Team", type = "text"')


# ---- directory providers (LDAP, PAM): providers/ldap.py, providers/pam.py

_LDAP_URI = re.compile(r"^ldaps?://[^\s/?#]+/?$", re.IGNORECASE)


def _ldap_uris(value):
    """None, or one ldap:// / ldaps:// URI or a list of them (tried in order: failover)."""
    if value in (None, "", []):
        return None
    uris = [value] if isinstance(value, str) else value
    if isinstance(uris, list) and all(isinstance(u, str) and _LDAP_URI.match(u.strip()) for u in uris):
        return list(dict.fromkeys(u.strip().rstrip("/") for u in uris))
    raise ValueError('an ldap:// or ldaps:// URI with a host (and port), or a list of them tried in '
                     'order, such as ["ldaps://dc1.example.com", "ldaps://dc2.example.com"]')


def _ldap_filter(*placeholders: str) -> Callable[[Any], str]:
    """An LDAP filter in parentheses holding at least one of `placeholders`."""
    example = "(uid={username})" if placeholders[0] == "username" else "(member={dn})"
    needed = " or ".join("{" + p + "}" for p in placeholders)

    def check(value):
        if (isinstance(value, str) and value.strip().startswith("(") and value.strip().endswith(")")
                and value.count("(") == value.count(")")
                and any("{" + p + "}" in value for p in placeholders)):
            return value.strip()
        raise ValueError(f'an LDAP filter in parentheses holding {needed}, such as "{example}"')
    return check


def _ldap_attribute(value):
    if isinstance(value, str) and re.match(r"^[A-Za-z][A-Za-z0-9-]{0,63}$", value):
        return value
    raise ValueError("an LDAP attribute name such as uid, mail or memberOf")


def _optional_ldap_attribute(value):
    return None if value in (None, "") else _ldap_attribute(value)


def _pam_service(value):
    if isinstance(value, str) and re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", value):
        return value
    raise ValueError("the name of a PAM service (a file in /etc/pam.d), such as login")


@dataclass(frozen=True)
class Setting:
    default: Any
    check: Callable[[Any], Any]
    # A duration setting is kept as seconds.
    # A secret is never shown (errors, logs, the settings page and API, the CLI): declaring
    # a new setting with secret=True is all it takes. The password part of a URL is
    # hidden in every setting, secret or not (masked_value).
    secret: bool = False


SETTINGS: dict[str, Setting] = {
    "Server.DatabaseURL": Setting(DEFAULT_DATABASE_URL, _database_url),
    "Server.PublicURL": Setting("http://127.0.0.1:8000", _http_url),
    "Server.RequireAuthentication": Setting(True, _boolean),
    "Server.RateLimits": Setting(True, _boolean),
    "Server.RateLimitStorage": Setting("database://", _rate_limit_storage),
    "Server.TrustedProxies": Setting(0, _integer(0, 10)),
    "Server.TrustedHosts": Setting([], _host_names),
    # A parent domain for the session cookie, so one sign-in serves the apps on sibling hosts.
    "Server.CookieDomain": Setting(None, _cookie_domain),
    # How long a SQLite writer waits for another's lock before the request answers 503.
    "Server.SQLiteBusyTimeout": Setting("5s", parse_duration),
    "Server.SecretKey": Setting(None, _secret_key, secret=True),
    # PostgreSQL's statement_timeout and lock_timeout for every connection.
    "Server.StatementTimeout": Setting("30s", parse_duration),
    "Server.LockTimeout": Setting("5s", parse_duration),
    "Authentication.Provider": Setting(["password"], _providers),
    "Authentication.Lifetime": Setting("24h", parse_duration),
    "Authentication.Inactivity": Setting("8h", parse_duration),
    "Authentication.AccessTokenLifetime": Setting("60m", parse_duration),
    "Authentication.RefreshTokenLifetime": Setting("7d", parse_duration),
    "Password.MinimumScore": Setting(0, _integer(0, 4)),
    "Password.MinimumLength": Setting(8, _integer(6, 1024)),
    "Password.RejectCommon": Setting(True, _boolean),
    "Password.SelfRegistration": Setting(True, _boolean),
    "Password.RequireEmailVerification": Setting(False, _boolean),
    "Password.WebSudoMode": Setting(True, _boolean),
    "Password.WebSudoModeDuration": Setting("5m", parse_duration),
    "Password.BcryptRounds": Setting(12, _integer(4, 16)),
    "Password.LockoutThreshold": Setting(10, _integer(0, 100)),
    "Password.LockoutDuration": Setting("15m", parse_duration),
    "Password.SignupApproval": Setting(False, _boolean),
    "Password.AllowedEmailDomains": Setting([], _domains),
    "Password.TermsURL": Setting(None, _optional_http_url),
    "Password.TermsVersion": Setting(None, _optional_text),
    "Password.SignupChallenge": Setting(False, _boolean),
    "Authorization.DefaultUserRole": Setting("viewer", _choice("viewer", "publisher")),
    "Authorization.UserInfoEditableBy": Setting("AdminAndSelf", _choice("AdminAndSelf", "Admin")),
    "Authorization.Roles": Setting({}, _custom_roles),
    "Profile.Fields": Setting([], _profile_fields),
    "Bootstrap.AdminUsername": Setting("admin", _text),
    "Bootstrap.AdminEmail": Setting(None, _optional_text),
    "Bootstrap.AdminPassword": Setting(None, _optional_text, secret=True),
    "Email.Host": Setting(None, _optional_text),
    "Email.Port": Setting(None, _optional_port),
    "Email.Username": Setting(None, _optional_text),
    "Email.Password": Setting(None, _optional_text, secret=True),
    "Email.Sender": Setting(None, _optional_text),
    "Email.TLS": Setting("none", _email_tls),
    "Documents.MaxBytes": Setting(10485760, _integer(1)),
    # Bounds on reading a PDF's text (app/documents/pdf_text.py); its characters are
    # bounded by MaxBytes.
    "Documents.PdfMaxPages": Setting(2000, _integer(1)),
    "Documents.PdfTimeLimit": Setting("10s", parse_duration),
    "OIDC.Issuer": Setting(None, _optional_http_url),
    "OIDC.ClientId": Setting(None, _optional_text),
    "OIDC.ClientSecret": Setting(None, _optional_text, secret=True),
    "OIDC.Scopes": Setting("openid email profile", _text),
    "OIDC.UsernameClaim": Setting("preferred_username", _text),
    "OIDC.EmailClaim": Setting("email", _text),
    "OIDC.GroupsClaim": Setting("groups", _text),
    "OIDC.Title": Setting("Log in with OpenID Connect", _text),
    # Keystead as an OpenID Provider for the apps it signs people into (app/openid_provider).
    "OpenIDProvider.CodeLifetime": Setting("1m", parse_duration),
    "OpenIDProvider.AccessTokenLifetime": Setting("10m", parse_duration),
    "OpenIDProvider.IDTokenLifetime": Setting("1h", parse_duration),
    "OpenIDProvider.RefreshTokenLifetime": Setting("30d", parse_duration),
    "OpenIDProvider.SigningAlgorithm": Setting("RS256", _choice("RS256", "ES256")),
    # The SAML 2.0 service provider (providers/saml.py, docs/providers.md).
    "SAML.IdPMetadataURL": Setting(None, _optional_http_url),
    "SAML.IdPMetadataFile": Setting(None, _optional_text),
    "SAML.EntityID": Setting(None, _optional_text),  # none: <PublicURL>/auth/saml/metadata
    "SAML.CertFile": Setting(None, _optional_text),
    "SAML.KeyFile": Setting(None, _optional_text, secret=True),  # the key's place is not shown either
    "SAML.UsernameAttribute": Setting("uid", _text),
    "SAML.EmailAttribute": Setting("mail", _text),
    "SAML.FirstNameAttribute": Setting("givenName", _text),
    "SAML.LastNameAttribute": Setting("sn", _text),
    "SAML.GroupsAttribute": Setting("groups", _text),
    "SAML.WantAssertionsSigned": Setting(True, _boolean),
    "SAML.WantAssertionsEncrypted": Setting(False, _boolean),
    "SAML.ClockSkew": Setting("60s", parse_duration),
    "SAML.Title": Setting("Log in with SAML", _text),
    # The LDAP / Active Directory provider (providers/ldap.py, docs/providers.md).
    "LDAP.ServerURI": Setting(None, _ldap_uris),
    "LDAP.StartTLS": Setting(False, _boolean),
    "LDAP.CAFile": Setting(None, _optional_text),
    "LDAP.BindDN": Setting(None, _optional_text),
    "LDAP.BindPassword": Setting(None, _optional_text, secret=True),
    "LDAP.UserSearchBase": Setting(None, _optional_text),
    "LDAP.UserFilter": Setting("(uid={username})", _ldap_filter("username")),
    "LDAP.UsernameAttribute": Setting("uid", _ldap_attribute),
    "LDAP.EmailAttribute": Setting("mail", _ldap_attribute),
    "LDAP.FirstNameAttribute": Setting("givenName", _ldap_attribute),
    "LDAP.LastNameAttribute": Setting("sn", _ldap_attribute),
    "LDAP.GroupSearchBase": Setting(None, _optional_text),
    "LDAP.GroupFilter": Setting("(member={dn})", _ldap_filter("dn", "username")),
    "LDAP.GroupNameAttribute": Setting("cn", _ldap_attribute),
    "LDAP.GroupMembershipAttribute": Setting(None, _optional_ldap_attribute),
    "LDAP.NestedGroups": Setting(False, _boolean),
    "LDAP.Timeout": Setting("5s", parse_duration),
    "LDAP.OperationTimeout": Setting("10s", parse_duration),
    # The PAM provider (providers/pam.py): the host's own accounts.
    "PAM.Service": Setting("login", _pam_service),
    "PAM.MinimumUID": Setting(1000, _integer(0, 2**32 - 1)),
    "PAM.GroupsFrom": Setting("none", _choice("none", "unix")),
}

# Settings whose values are never shown (declared with secret=True above).
SECRET_SETTINGS = frozenset(name for name, setting in SETTINGS.items() if setting.secret)
HIDDEN = "(hidden)"

_BY_LOWER = {name.lower(): name for name in SETTINGS}


#: Where an effective value came from: not set anywhere, keystead.toml, a KEYSTEAD_*
#: variable, or the settings a program passed to create_app (tests, an embedding program).
SOURCES = ("default", "file", "environment", "overrides")


class Settings:
    """The checked settings of one app, read as settings["Password.MinimumScore"]."""

    def __init__(self, values: dict[str, Any], instance_path: str,
                 sources: dict[str, str] | None = None):
        self._values = values
        self.instance_path = instance_path
        self._sources = sources or {}

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def items(self):
        return self._values.items()

    def source(self, name: str) -> str:
        """Where the value of `name` came from: one of SOURCES."""
        return self._sources.get(name, "default")

    @property
    def providers(self) -> list[str]:
        return self._values["Authentication.Provider"]

    @property
    def public_https(self) -> bool:
        return self._values["Server.PublicURL"].startswith("https://")


# ---------------------------------------------------------------- never showing a secret

# Query parameters that carry a credential (postgresql://host/db?password=…).
_SECRET_PARAMETER = re.compile(r"pass|secret|token", re.IGNORECASE)


def masked_url(url: str) -> str:
    """`url` with the password of its user part, and any query parameter named like a
    password, shown as (hidden); the user name and the host stay (they help, and are no
    secret): postgresql://app:s3cret@db/keystead -> postgresql://app:(hidden)@db/keystead."""
    scheme, separator, rest = url.partition("://")
    if not separator:
        return url
    # The password runs from the first colon to the last @. A password holding characters
    # that should have been percent-encoded (/ ? # @) thus never shows; an @ left raw in a
    # path or query hides more than the password, which is the safe side to err on.
    colon, at, slash = rest.find(":"), rest.rfind("@"), rest.find("/")
    if at > colon >= 0 and (slash < 0 or colon < slash):
        rest = f"{rest[:colon]}:{HIDDEN}{rest[at:]}"
    path, question, query = rest.partition("?")
    if question:
        query, hash_, fragment = query.partition("#")
        query = "&".join(
            f"{pair.partition('=')[0]}={HIDDEN}" if _SECRET_PARAMETER.search(pair.partition("=")[0])
            else pair for pair in query.split("&"))
        rest = f"{path}?{query}{hash_}{fragment}"
    return f"{scheme}://{rest}"


def _without_url_passwords(value: Any) -> Any:
    if isinstance(value, str):
        return masked_url(value) if "://" in value else value
    if isinstance(value, list):
        return [_without_url_passwords(v) for v in value]
    if isinstance(value, dict):
        return {k: _without_url_passwords(v) for k, v in value.items()}
    return value


def masked_value(name: str, value: Any) -> Any:
    """`value` of setting `name` as it may be shown (the settings page and API, the CLI,
    error messages): a secret setting that is set is "(hidden)", and the password part of
    every URL in any setting is hidden (masked_url). None (not set) stays None."""
    if value is None:
        return None
    if name in SECRET_SETTINGS:
        return HIDDEN
    return _without_url_passwords(value)


def _shown(name: str, value: Any) -> str:
    """A raw value quoted in an error message, masked as masked_value says."""
    if name in SECRET_SETTINGS:
        return HIDDEN
    value = masked_value(name, value)
    return repr(value) if not isinstance(value, str) else f'"{value}"'


def env_value(raw: str) -> Any:
    """An environment value is TOML when it parses as one (2, true, ["a"]), else a plain string."""
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _flatten_toml(data: dict, source: str) -> dict[str, Any]:
    flat = {}
    for section, keys in data.items():
        if not isinstance(keys, dict):
            raise ConfigError(f"{source}: '{section}' must be a [section] of settings")
        for key, value in keys.items():
            name = _BY_LOWER.get(f"{section}.{key}".lower())
            if name is None:
                raise ConfigError(f"{source}: unknown setting {section}.{key}; "
                                  f"see docs/configuration.md for every setting")
            flat[name] = value
    return flat


def read_settings(instance_path: str, environ=None, overrides: dict | None = None) -> Settings:
    """Defaults, then keystead.toml, then KEYSTEAD_* variables, then `overrides` (tests)."""
    environ = os.environ if environ is None else environ
    raw: dict[str, Any] = {name: s.default for name, s in SETTINGS.items()}
    sources: dict[str, str] = {}  # the settings not left at their default
    path = os.path.join(instance_path, CONFIG_FILE)
    if os.path.exists(path):
        try:
            with open(path, "rb") as f:
                data = tomllib.load(f)
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise ConfigError(f"{path}: not valid TOML: {e}") from None
        from_file = _flatten_toml(data, path)
        raw.update(from_file)
        sources.update(dict.fromkeys(from_file, "file"))
    for env_name, env_raw in environ.items():
        if (not env_name.startswith(ENV_PREFIX) or env_name == "KEYSTEAD_INSTANCE"
                or env_name.startswith(PLUGIN_ENV_PREFIX)):
            continue
        name = _env_setting(env_name)
        if name is None:
            if env_name not in ("KEYSTEAD_TRACE",):
                log.warning("ignoring %s: no such setting", env_name)
            continue
        raw[name] = env_value(env_raw)
        sources[name] = "environment"
    for name, value in (overrides or {}).items():
        if name not in SETTINGS:
            raise ConfigError(f"unknown setting {name}")
        raw[name] = value
        sources[name] = "overrides"
    values = {}
    for name, setting in SETTINGS.items():
        try:
            values[name] = setting.check(raw[name])
        except ValueError as e:
            section, key = name.split(".")
            raise ConfigError(f"invalid setting {section}.{key} = {_shown(name, raw[name])}: "
                              f"allowed is {e}") from None
    return Settings(values, instance_path, sources)


def _env_setting(env_name: str) -> str | None:
    rest = env_name[len(ENV_PREFIX):].lower()
    for name in SETTINGS:
        if name.replace(".", "_").lower() == rest:
            return name
    return None


def default_instance_path() -> str:
    """KEYSTEAD_INSTANCE, or instance/ in the working directory (the repository root for
    `make serve`); never a folder inside the installed package or its virtual environment,
    where an upgrade or a rebuilt environment would take the secret key and the database."""
    configured = os.environ.get("KEYSTEAD_INSTANCE")
    path = os.path.abspath(configured) if configured else os.path.join(os.getcwd(), "instance")
    package = os.path.dirname(os.path.abspath(__file__))
    environments = [package] + ([sys.prefix] if sys.prefix != sys.base_prefix else [])
    real = os.path.realpath(path)
    for place in environments:
        place = os.path.realpath(place)
        if real == place or real.startswith(place + os.sep):
            raise ConfigError(f"the instance folder {path} is inside the installed package or its "
                              "virtual environment; set KEYSTEAD_INSTANCE to a folder of its own")
    return path


def load_secret_key(settings: Settings) -> str:
    """Server.SecretKey, or the key generated once into the instance folder.

    Several workers may start at once: the file is written aside and linked into place,
    so exactly one key wins and every worker reads that one.
    """
    if settings["Server.SecretKey"] is not None:
        return settings["Server.SecretKey"]
    import secrets
    path = os.path.join(settings.instance_path, "secret_key")
    if not os.path.exists(path):
        tmp = f"{path}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    with open(path) as f:
        key = f.read().strip()
    if len(key) < MIN_SECRET_KEY_LENGTH:
        raise ConfigError(f"{path}: the secret key is shorter than 32 characters; "
                          "delete the file to generate a new one")
    return key


@contextlib.contextmanager
def exit_on_config_error(status: int = 2, unavailable_status: int | None = None):
    """Turn a ConfigError into its one line on stderr and exit `status` (2 for the CLI;
    wsgi.py exits 4, the status that stops gunicorn), or `unavailable_status` when given
    and the database could not be opened (DatabaseUnavailable: worth trying again)."""
    try:
        yield
    except ConfigError as e:
        print(f"keystead: configuration error: {e}", file=sys.stderr, flush=True)
        if unavailable_status is not None and isinstance(e, DatabaseUnavailable):
            raise SystemExit(unavailable_status) from None
        raise SystemExit(status) from None
