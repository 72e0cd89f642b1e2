"""The checks of `keystead doctor`: each says ok, warn or FAIL, what it looked at and how to
fix a problem, without ever showing a secret (a database or storage URL is shown without
its password).

They never build the app: building it makes the instance folder private and applies the
migrations, which would hide two of the problems they are here to report.
"""
from __future__ import annotations

import ipaddress
import os
import smtplib
import stat
from dataclasses import dataclass
from urllib.parse import urlsplit

from .instance import FILE_MODE, FOLDER_MODE

OK, WARN, FAIL = "ok", "warn", "FAIL"


@dataclass(frozen=True)
class Check:
    status: str  # OK, WARN or FAIL
    name: str
    detail: str

    def line(self) -> str:
        return f"{self.status:4} {self.name}: {self.detail}"


def shown_url(url: str) -> str:
    """`url` without its password (user@host stays: it helps, and is no secret); the one
    masking of app/config.py, as the settings page and API show it."""
    from .config import masked_url
    return masked_url(url)


# ---------------------------------------------------------------- files

def permission_problems(folder: str) -> list[str]:
    """What is not private in the instance folder, by the rule applied at every start
    (app/instance.py): the folder 0700, each regular file directly in it 0600."""
    problems = []
    try:
        mode = stat.S_IMODE(os.stat(folder).st_mode)
    except FileNotFoundError:
        return [f"{folder} does not exist (run `keystead init`)"]
    except OSError as e:
        return [f"{folder}: {e.strerror}"]
    if mode != FOLDER_MODE:
        problems.append(f"{folder} is {mode:o} (chmod {FOLDER_MODE:o} {folder})")
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as e:
        return problems + [f"{folder}: {e.strerror}"]
    for entry in entries:
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) != FILE_MODE:
            problems.append(f"{entry.path} is {stat.S_IMODE(st.st_mode):o} "
                            f"(chmod {FILE_MODE:o} {entry.path})")
    return problems


def check_files(folder: str) -> Check:
    problems = permission_problems(folder)
    if problems:
        hint = "" if not os.path.isdir(folder) else " (or restart Keystead, which makes them private)"
        return Check(FAIL, "file permissions", "; ".join(problems) + hint)
    return Check(OK, "file permissions", f"{folder} is {FOLDER_MODE:o} and its files {FILE_MODE:o}")


# ---------------------------------------------------------------- database

def check_database(settings, instance_path: str):
    """(database check, migrations check, the open database or None)."""
    from .db import open_database, sqlite_path
    from .migrations import available_migrations, current_version
    url = settings["Server.DatabaseURL"]
    path = sqlite_path(url, instance_path)
    if path not in (None, ":memory:") and not os.path.exists(path):
        # Opening it would create an empty database: say so instead.
        return (Check(FAIL, "database", f"{path} does not exist (run `keystead init`, or check "
                      "Server.DatabaseURL)"),
                Check(FAIL, "migrations", "not checked: there is no database"), None)
    try:
        db = open_database(url, instance_path, settings["Server.SQLiteBusyTimeout"] * 1000,
                           settings["Server.StatementTimeout"] * 1000, settings["Server.LockTimeout"] * 1000)
        db.connect(reuse_if_open=True)
        db.execute_sql("SELECT 1")
    except Exception as e:
        message = str(e).replace(url, shown_url(url)).strip().splitlines()[0] if str(e) else type(e).__name__
        return (Check(FAIL, "database", f"{shown_url(url)} cannot be opened: {message} "
                      "(check Server.DatabaseURL and that the server is running)"),
                Check(FAIL, "migrations", "not checked: the database cannot be opened"), None)
    database = Check(OK, "database", f"{shown_url(url)} answers")
    latest = max((version for version, _, _ in available_migrations()), default=0)
    try:
        from .models import database as proxy
        proxy.initialize(db)
        version = current_version(db)
    except Exception as e:
        return database, Check(FAIL, "migrations", f"the schema version cannot be read: {e}"), db
    if version < latest:
        migrations = Check(FAIL, "migrations", f"schema version {version}, this Keystead needs {latest} "
                           "(start Keystead, or run `keystead init`, to apply the missing migrations)")
    elif version > latest:
        migrations = Check(FAIL, "migrations", f"schema version {version} is newer than this Keystead "
                           f"knows ({latest}): upgrade Keystead")
    else:
        migrations = Check(OK, "migrations", f"schema version {version}, up to date")
    return database, migrations, db


# ---------------------------------------------------------------- mail

def smtp_noop(settings) -> None:
    """Connect to the configured SMTP server (STARTTLS or TLS, log-in when set) and say
    NOOP; raises OSError or SMTPException."""
    from .mail import connect_smtp
    with connect_smtp(settings) as smtp:
        code, _ = smtp.noop()
        if code != 250:
            raise smtplib.SMTPResponseException(code, "NOOP refused")


def check_mail(settings, connect: bool) -> Check:
    host = settings["Email.Host"]
    if not host:
        return Check(OK, "mail", "not configured: links are shown to administrators instead of "
                     "mailed (set Email.Host to send mail)")
    from .mail import smtp_port
    port = smtp_port(settings)
    if not connect:
        return Check(OK, "mail", f"configured ({host}:{port}); `keystead doctor --mail` connects to it")
    try:
        smtp_noop(settings)
    except (OSError, smtplib.SMTPException) as e:
        return Check(FAIL, "mail", f"{host}:{port} does not answer: {e} (check the Email settings)")
    return Check(OK, "mail", f"{host}:{port} answers")


# ---------------------------------------------------------------- rate limits

def check_rate_limits(settings, database_ok: bool) -> Check:
    if not settings["Server.RateLimits"]:
        return Check(WARN, "rate-limit storage", "rate limits are turned off (Server.RateLimits)")
    uri = settings["Server.RateLimitStorage"]
    scheme = urlsplit(uri).scheme
    if scheme == "memory":
        return Check(OK, "rate-limit storage", "memory:// (each worker counts on its own)")
    if scheme == "database":
        if database_ok:
            return Check(OK, "rate-limit storage", "the database answers")
        return Check(FAIL, "rate-limit storage", "kept in the database, which cannot be opened")
    from limits.storage import storage_from_string
    from .ratelimits import _REDIS_TIMEOUT_SECONDS
    options = {}
    if scheme.startswith("redis"):
        options = {"socket_connect_timeout": _REDIS_TIMEOUT_SECONDS, "socket_timeout": _REDIS_TIMEOUT_SECONDS}
    try:
        answers = bool(storage_from_string(uri, **options).check())
    except Exception as e:  # a missing driver, a malformed address
        return Check(FAIL, "rate-limit storage", f"{shown_url(uri)}: {str(e).replace(uri, shown_url(uri))}")
    if not answers:
        return Check(FAIL, "rate-limit storage", f"{shown_url(uri)} does not answer (each worker "
                     "falls back to counting in memory; start it or fix Server.RateLimitStorage)")
    return Check(OK, "rate-limit storage", f"{shown_url(uri)} answers")


# ---------------------------------------------------------------- PublicURL

_ANY_HOST = {"0.0.0.0", "::", ""}
_LOOPBACK_NAMES = {"localhost"}


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def split_bind(bind: str) -> tuple[str, int] | None:
    """(host, port) of a gunicorn --bind address HOST:PORT or [IPv6]:PORT; None for a
    unix: socket (nothing to compare)."""
    if bind.startswith(("unix:", "fd://")):
        return None
    if "://" in bind:  # a --url given as a URL
        parts = urlsplit(bind)
        return (parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))
    host, _, port = bind.rpartition(":")
    if not host:
        host, port = port, "8000"
    return host.strip("[]"), int(port) if port.isdigit() else 8000


def public_url_problem(public_url: str, bind: str) -> str | None:
    """Why Server.PublicURL does not name the address served at `bind`, or None.

    A URL (`doctor --url`) must have PublicURL's scheme, host and port. With a --bind
    address, only an http:// PublicURL is compared: an https:// one is served by a TLS proxy in
    front of Keystead, at an address of its own. The host must be the bound one (any host
    when bound to 0.0.0.0 or ::; loopback addresses and localhost count as one) and the
    port the bound port."""
    served = split_bind(bind)
    parts = urlsplit(public_url)
    if "://" in bind:  # an address people use (--url): the same scheme, host and port
        given = urlsplit(bind)
        default = {"http": 80, "https": 443}
        if ((given.scheme, (given.hostname or "").lower(), given.port or default.get(given.scheme))
                == (parts.scheme, (parts.hostname or "").lower(), parts.port or default.get(parts.scheme))):
            return None
        return (f"Server.PublicURL is {public_url} but Keystead is reached at {bind}: links in mail "
                "and redirects will lead elsewhere (set Server.PublicURL to the address people use)")
    if served is None or parts.scheme != "http":
        return None
    host, port = served
    public_host, public_port = parts.hostname or "", parts.port or 80
    same_host = (host in _ANY_HOST or public_host == host
                 or (_is_loopback(host) and _is_loopback(public_host)))
    if same_host and public_port == port:
        return None
    return (f"Server.PublicURL is {public_url} but Keystead is served at {bind}: links in mail and "
            "redirects will lead elsewhere (set Server.PublicURL to the address people use)")


def check_public_url(settings, served_at: str | None) -> Check:
    public_url = settings["Server.PublicURL"]
    if not served_at:
        return Check(OK, "PublicURL", f"{public_url} (give --bind or --url to compare it with the "
                     "address served)")
    if split_bind(served_at) is None:
        return Check(OK, "PublicURL", f"{public_url} (not compared with the socket {served_at})")
    problem = public_url_problem(public_url, served_at)
    if problem:
        return Check(FAIL, "PublicURL", problem)
    if "://" not in served_at and urlsplit(public_url).scheme != "http":
        return Check(OK, "PublicURL", f"{public_url} (https: served by a proxy, not compared with {served_at})")
    return Check(OK, "PublicURL", f"{public_url} matches {served_at}")


# ---------------------------------------------------------------- all

def run_checks(instance_path: str, *, served_at: str | None = None, connect_mail: bool = False,
               read_settings=None) -> list[Check]:
    """Every check, in order; a configuration that cannot be read stops after the
    permissions (the other checks need the settings)."""
    from .config import ConfigError
    from .config import read_settings as read_instance_settings
    checks = []
    try:
        settings = (read_settings or read_instance_settings)(instance_path)
        checks.append(Check(OK, "configuration", f"{os.path.join(instance_path, 'keystead.toml')} "
                            "and KEYSTEAD_* settings are valid"))
    except ConfigError as e:
        settings = None
        checks.append(Check(FAIL, "configuration", str(e)))
    checks.append(check_files(instance_path))
    if settings is None:
        return checks
    database, migrations, db = check_database(settings, instance_path)
    checks += [database, migrations]
    if db is not None and not db.is_closed():
        db.close()
    checks.append(check_mail(settings, connect_mail))
    checks.append(check_rate_limits(settings, database.status == OK))
    checks.append(check_public_url(settings, served_at))
    return checks
