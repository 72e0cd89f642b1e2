"""What an administrator sees of the running configuration: /admin/settings,
`GET /api/v1/settings` and `keystead settings` all show `settings_report()`.

Every effective setting with where it came from, each value masked by
app/config.masked_value (a secret is "(hidden)", so is the password part of any URL);
the installed providers and plugins with their versions; the database kind and schema
version; mail; the rate-limit storage; and a keystead.toml of the values that differ from
the defaults, in which a secret (or a URL with its password hidden) is a comment to fill
in, never the value. Read-only: settings are changed in keystead.toml or the environment.
"""
from __future__ import annotations

import json
from urllib.parse import urlsplit

from flask import Flask

from .config import SECRET_SETTINGS, SETTINGS, Settings, masked_value, parse_duration

_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def _duration_text(seconds: int) -> str:
    """86400 -> "1d", 300 -> "5m": the largest unit that holds it whole."""
    for unit, size in _UNITS:
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"  # pragma: no cover - the last unit always divides


def _readable(name: str, value):
    """The value as a person writes it: a duration as 5m rather than 300 (seconds)."""
    setting = SETTINGS[name]
    if setting.check is parse_duration and isinstance(value, int):
        # The default as documented ("24h" rather than "1d"), any other value in its largest unit.
        return setting.default if value == _default_of(name) else _duration_text(value)
    return value


def _default_of(name: str):
    setting = SETTINGS[name]
    return setting.check(setting.default)


def effective_settings(settings: Settings) -> list[dict]:
    """[{key, value, source}] for every setting, in the order they are documented."""
    return [{"key": name, "value": masked_value(name, _readable(name, settings[name])),
             "source": settings.source(name)} for name in SETTINGS]


# ---------------------------------------------------------------- keystead.toml

def _toml_string(text: str) -> str:
    # A JSON string is a TOML basic string, once DEL (allowed raw by JSON) is escaped too.
    return json.dumps(text).replace("\x7f", "\\u007f")


def toml_value(value) -> str:
    """`value` written as in keystead.toml (strings quoted, tables inline)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        pairs = [f"{_toml_string(str(k))} = {toml_value(v)}" for k, v in value.items() if v is not None]
        return "{ " + ", ".join(pairs) + " }" if pairs else "{}"
    raise TypeError(f"no TOML form for {type(value).__name__}")


def settings_toml(settings: Settings) -> str:
    """keystead.toml holding the settings whose effective value differs from the default.
    A secret, or a URL whose password is hidden, is written as a comment to fill in: the
    file never carries a secret."""
    lines = ["# keystead.toml: the settings of this server that differ from the defaults.",
             "# Secrets are not shown: fill in the commented lines (or set them in the environment)."]
    section_now = None
    for name in SETTINGS:
        value = settings[name]
        if value is None or value == _default_of(name):
            continue
        section, key = name.split(".")
        if section != section_now:
            lines += ["", f"[{section}]"]
            section_now = section
        readable = _readable(name, value)
        shown = masked_value(name, readable)
        if name in SECRET_SETTINGS:
            lines.append(f"# {key} = \"…\"  # secret: set, not shown")
        elif shown != readable:
            lines.append(f"# {key} = {toml_value(shown)}  # put the password in place of (hidden)")
        else:
            lines.append(f"{key} = {toml_value(shown)}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- what is installed

def _keystead_version() -> str:
    from . import __version__
    return __version__


def plugins(pm) -> list[dict]:
    """[{name, distribution, version, hooks}] for every registered plugin: the distribution
    that installed it (importlib.metadata), Keystead itself for the core's own plugins, none
    for one registered by the program that built the app."""
    by_plugin = {plugin: dist for plugin, dist in pm.list_plugin_distinfo()}
    core = __name__.rpartition(".")[0] + "."
    found = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None:  # blocked
            continue
        dist = by_plugin.get(plugin)
        if dist is not None:
            distribution, version = dist.metadata["Name"], dist.version
        elif name.startswith(core):
            distribution, version = "keystead", _keystead_version()
        else:
            distribution = version = None
        hooks = sorted(caller.name for caller in pm.get_hookcallers(plugin) or [])
        found.append({"name": name, "distribution": distribution, "version": version, "hooks": hooks})
    return sorted(found, key=lambda p: p["name"])


def providers(app: Flask) -> list[dict]:
    """[{name, title, available, active, plugin, version}] for every installed provider."""
    pm = app.extensions["keystead"]
    active = app.extensions["keystead.settings"].providers
    by_name = {p["name"]: p for p in plugins(pm)}
    offered_by = {}
    for impl in pm.hook.keystead_provider_info.get_hookimpls():
        if getattr(impl, "hookwrapper", False) or getattr(impl, "wrapper", False):
            continue
        info = impl.function()
        if info is not None:
            offered_by[info.name] = impl.plugin_name
    rows = []
    for name, info in sorted(app.extensions["keystead.providers"].items()):
        plugin = offered_by.get(name)
        rows.append({"name": name, "title": info.title, "available": info.available,
                     "active": name in active, "plugin": plugin,
                     "version": by_name.get(plugin, {}).get("version")})
    return rows


# ---------------------------------------------------------------- database, mail, rate limits

def database_status(app: Flask) -> dict:
    """{kind, schema_version}: sqlite or postgresql, and the newest migration applied."""
    from peewee import MySQLDatabase, PostgresqlDatabase, SqliteDatabase

    from .migrations import current_version
    db = app.extensions["keystead.db"]
    for kind, cls in (("sqlite", SqliteDatabase), ("postgresql", PostgresqlDatabase),
                      ("mysql", MySQLDatabase)):
        if isinstance(db, cls):
            break
    else:
        kind = urlsplit(app.extensions["keystead.settings"]["Server.DatabaseURL"]).scheme
    return {"kind": kind, "schema_version": current_version(db)}


def mail_status(settings: Settings) -> dict:
    """{configured, host, port, tls, username, sender}: never the password."""
    from .mail import smtp_port
    configured = bool(settings["Email.Host"])
    return {"configured": configured, "host": settings["Email.Host"],
            "port": smtp_port(settings) if configured else None, "tls": settings["Email.TLS"],
            "username": settings["Email.Username"], "sender": settings["Email.Sender"]}


def rate_limit_status(app: Flask) -> dict:
    """{enabled, storage, degraded}: the storage URL with its password hidden, and whether
    it fails to answer (requests are then counted per process, as /api/v1/health says)."""
    from .ratelimits import rate_limit_storage_answers
    settings = app.extensions["keystead.settings"]
    enabled = settings["Server.RateLimits"]
    return {"enabled": enabled,
            "storage": masked_value("Server.RateLimitStorage", settings["Server.RateLimitStorage"]),
            "degraded": enabled and not rate_limit_storage_answers(app)}


def settings_report(app: Flask) -> dict:
    """Everything above, as GET /api/v1/settings answers it (within an app context)."""
    settings = app.extensions["keystead.settings"]
    return {"settings": effective_settings(settings),
            "providers": providers(app),
            "plugins": plugins(app.extensions["keystead"]),
            "database": database_status(app),
            "mail": mail_status(settings),
            "rate_limits": rate_limit_status(app),
            "toml": settings_toml(settings)}
