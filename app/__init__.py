"""Keystead: a self-hosted authentication and user-management server.

`create_app` is the application factory; plugins write
`from keystead import hookimpl, Identity, ProviderInfo`. (This package is the folder app/
of the repository, installed under the name keystead.)
"""
from .hookspecs import hookimpl
from .identity import Identity, ProviderInfo, ProviderUnavailable

__version__ = "0.2.0"

__all__ = ["__version__", "create_app", "hookimpl", "Identity", "ProviderInfo", "ProviderUnavailable"]


def create_app(test_config: dict | None = None, instance_path: str | None = None, plugins=()):
    """Build the Flask app: settings from the instance folder (or `instance_path`) and the
    environment, `test_config` settings on top ({"Password.BcryptRounds": 4, ...}), the
    database brought up to date, providers checked, blueprints registered.

    Raises app.config.ConfigError (one line) when the configuration cannot serve.
    """
    from .factory import build_app
    return build_app(test_config, instance_path, plugins)
