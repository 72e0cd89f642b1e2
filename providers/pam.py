"""The PAM provider (docs/providers.md): a password provider for the host's own accounts,
checked by a PAM service (PAM.Service, default `login`).

Root and accounts below PAM.MinimumUID never log in; with PAM.GroupsFrom = "unix" the
person's Unix groups are created and synced at each login. python-pam is imported lazily:
without it (pip install 'keystead[pam]') the provider is listed as not available with that
install line as the reason. The work is in app/directory/unix_accounts.py.
"""
from __future__ import annotations

from flask import current_app

from keystead import ProviderInfo, ProviderUnavailable, hookimpl

NAME = "pam"
TITLE = "PAM"
EXTENSION = "keystead.pam"
INSTALL = "it needs python-pam (pip install 'keystead[pam]')"


@hookimpl
def keystead_provider_info():
    problem = unavailable_reason()
    return ProviderInfo(name=NAME, title=TITLE, available=problem is None, unavailable_reason=problem,
                        supports_password=True, supports_registration=False,
                        supports_password_change=False)


def unavailable_reason() -> str | None:
    """What keeps the provider from serving (None: nothing): python-pam and libpam."""
    try:
        import pam  # noqa: F401
    except ImportError:
        return INSTALL
    import ctypes.util
    if ctypes.util.find_library("pam") is None:
        return "it needs the system's PAM library (apt-get install libpam0g)"
    return None


@hookimpl
def keystead_startup(app, settings):
    if NAME not in settings.providers:
        return
    import os
    service = settings["PAM.Service"]
    if not any(os.path.isfile(os.path.join(folder, service)) for folder in ("/etc/pam.d", "/usr/lib/pam.d")):
        raise ProviderUnavailable(f'invalid setting PAM.Service = "{service}": allowed is the name of a '
                                  "PAM service, a file in /etc/pam.d")
    from keystead.directory.unix_accounts import UnixAccounts
    app.extensions[EXTENSION] = UnixAccounts(settings, provider=NAME)


@hookimpl
def keystead_authenticate(provider, username, password):
    if provider != NAME:
        return None
    accounts = current_app.extensions.get(EXTENSION)
    if accounts is None:
        return None
    return accounts.authenticate(username, password)
