"""The plugin manager: one per app, kept in app.extensions["keystead"].

Built-in providers and third-party ones are found the same way, through the entry-point
group ``keystead.providers``; the core's own hook implementations (app/identities.py) are
registered beside them. Set KEYSTEAD_TRACE=1 to log every hook call.
"""
from __future__ import annotations

import logging
import os

import pluggy
from flask import abort, current_app

from . import hookspecs
from .config import ConfigError, Settings
from .identity import ProviderInfo, ProviderUnavailable

log = logging.getLogger("keystead")

ENTRY_POINT_GROUP = "keystead.providers"
CORE_PLUGINS = (".identities", ".audit.plugin", ".notices", ".apps.plugin")  # within this package, keystead


def make_plugin_manager(extra_plugins=()) -> pluggy.PluginManager:
    """Register the core's plugins, every installed entry point and `extra_plugins`
    (tests), then check every implementation against the specification."""
    import importlib

    pm = pluggy.PluginManager("keystead")
    pm.add_hookspecs(hookspecs)
    try:
        for name in CORE_PLUGINS:
            module = importlib.import_module(name, __package__)
            pm.register(module, name=module.__name__)
        pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
        for plugin in extra_plugins:
            pm.register(plugin)
        pm.check_pending()
    except pluggy.PluginValidationError as e:
        plugin_name = pm.get_name(e.plugin) if e.plugin in pm.get_plugins() else repr(e.plugin)
        raise ConfigError(f"provider plugin {plugin_name} refused: {e}") from None
    except ImportError as e:
        raise ConfigError(f"a provider plugin in '{ENTRY_POINT_GROUP}' failed to import: {e}") from None
    if os.environ.get("KEYSTEAD_TRACE"):
        pm.trace.root.setwriter(lambda text: log.info("hook: %s", text.rstrip()))
        pm.enable_tracing()
    return pm


def provider_infos(pm: pluggy.PluginManager) -> dict[str, ProviderInfo]:
    """Every provider the installed plugins offer, by name."""
    infos: dict[str, ProviderInfo] = {}
    for info in pm.hook.keystead_provider_info():
        if info is None:
            continue
        if info.name in infos:
            raise ConfigError(f"two plugins claim the provider name '{info.name}'")
        infos[info.name] = info
    return infos


def start_providers(app, pm: pluggy.PluginManager, settings: Settings) -> dict[str, ProviderInfo]:
    """Refuse start-up unless every provider named in Authentication.Provider is installed
    and available; then let every plugin prepare itself."""
    # Within an app context, so a provider can read its settings from current_app
    # (current_app.extensions["keystead.settings"]) to describe itself and start.
    with app.app_context():
        return _start_providers(app, pm, settings)


def _start_providers(app, pm: pluggy.PluginManager, settings: Settings) -> dict[str, ProviderInfo]:
    infos = provider_infos(pm)
    for name in settings.providers:
        info = infos.get(name)
        if info is None:
            raise ConfigError(f"invalid setting Authentication.Provider = \"{name}\": allowed is one "
                              f"of the installed providers ({', '.join(sorted(infos))}); a third-party "
                              f"provider is installed with pip and found through '{ENTRY_POINT_GROUP}'")
        if not info.available:
            raise ConfigError(f"invalid setting Authentication.Provider = \"{name}\": the {info.title} "
                              f"provider is not available: {info.unavailable_reason}")
    try:
        pm.hook.keystead_startup(app=app, settings=settings)
    except ProviderUnavailable as e:
        raise ConfigError(str(e)) from None
    return infos


def plugin_manager() -> pluggy.PluginManager:
    return current_app.extensions["keystead"]


def hook():
    """The hook caller of the current app: hook().keystead_event(...)."""
    return current_app.extensions["keystead"].hook


def provider_extension(name: str):
    """What a provider keeps in `app.extensions[name]` once started, for its own routes
    (which every app has): 404 when the provider is not active in this app."""
    found = current_app.extensions.get(name)
    if found is None:
        abort(404)
    return found


def active_providers() -> list[ProviderInfo]:
    """ProviderInfo of each active provider, in the configured order."""
    infos = current_app.extensions["keystead.providers"]
    return [infos[name] for name in current_app.extensions["keystead.settings"].providers]


def password_providers() -> list[str]:
    return [p.name for p in active_providers() if p.supports_password]
