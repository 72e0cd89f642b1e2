"""The LDAP / Active Directory provider (docs/providers.md): a password provider that
checks the username and password against a directory server.

Configured by the LDAP.* settings (docs/configuration.md). At each login Keystead binds as
LDAP.BindDN (or anonymously), searches LDAP.UserSearchBase with LDAP.UserFilter for the
person, then binds as the person with the password typed (it never reads or compares a
password hash); groups found are created and synced at each login, as OpenID Connect's
are. A directory that cannot be reached answers 503 `provider_unavailable`.

ldap3 is imported lazily: without it (pip install 'keystead[ldap]') the provider is listed
as not available with that install line as the reason. The work is in
app/directory/ldap_directory.py.
"""
from __future__ import annotations

import ipaddress
import logging
import os
import warnings
from urllib.parse import urlsplit

from flask import current_app, has_app_context

from keystead import ProviderInfo, ProviderUnavailable, hookimpl

log = logging.getLogger("keystead")

NAME = "ldap"
TITLE = "LDAP"
EXTENSION = "keystead.ldap"
INSTALL = "it needs ldap3 (pip install 'keystead[ldap]')"
REQUIRED_SETTINGS = ("LDAP.ServerURI", "LDAP.UserSearchBase")


@hookimpl
def keystead_provider_info():
    settings = current_app.extensions["keystead.settings"] if has_app_context() else None
    problem = unavailable_reason(settings)
    return ProviderInfo(name=NAME, title=TITLE, available=problem is None, unavailable_reason=problem,
                        supports_password=True, supports_registration=False,
                        supports_password_change=False)


def unavailable_reason(settings) -> str | None:
    """What keeps the provider from serving (None: nothing): ldap3, and the settings."""
    try:
        with warnings.catch_warnings():  # ldap3 2.9 imports names pyasn1 deprecates
            warnings.simplefilter("ignore", DeprecationWarning)
            import ldap3  # noqa: F401
    except ImportError:
        return INSTALL
    if settings is None:
        return "its settings are read within an app"
    missing = [name for name in REQUIRED_SETTINGS if not settings[name]]
    if missing:
        return f"set {' and '.join(missing)} (docs/providers.md, \"LDAP\")"
    return None


@hookimpl
def keystead_startup(app, settings):
    if NAME not in settings.providers:
        return
    check_settings(settings)
    from keystead.directory.ldap_directory import LDAPDirectory
    app.extensions[EXTENSION] = LDAPDirectory(settings, provider=NAME)


def check_settings(settings) -> None:
    """Refuse start-up, in one line, on settings that cannot work together (each value
    alone was checked by app/config.py). Never contacts the directory."""
    ca_file = settings["LDAP.CAFile"]
    if ca_file and not os.path.isfile(ca_file):
        raise ProviderUnavailable(f'invalid setting LDAP.CAFile = "{ca_file}": allowed is the path of a '
                                  "readable PEM file of CA certificates")
    uris = settings["LDAP.ServerURI"]
    if settings["LDAP.StartTLS"] and any(u.lower().startswith("ldaps://") for u in uris):
        raise ProviderUnavailable("invalid setting LDAP.StartTLS = true: allowed only with ldap:// URIs "
                                  "(an ldaps:// server is already TLS from the start)")
    if bool(settings["LDAP.BindDN"]) != bool(settings["LDAP.BindPassword"]):
        raise ProviderUnavailable("invalid setting LDAP.BindDN: set both LDAP.BindDN and LDAP.BindPassword, "
                                  "or neither (an anonymous search)")
    if settings["LDAP.NestedGroups"] and not (settings["LDAP.GroupSearchBase"]
                                              or settings["LDAP.GroupMembershipAttribute"]):
        raise ProviderUnavailable("invalid setting LDAP.NestedGroups = true: allowed only with "
                                  "LDAP.GroupSearchBase or LDAP.GroupMembershipAttribute set")
    for uri in uris:
        host = urlsplit(uri).hostname
        if uri.lower().startswith("ldap://") and not settings["LDAP.StartTLS"] and not _is_loopback(host):
            log.warning("LDAP: %s is plain LDAP without StartTLS: passwords cross the network "
                        "unencrypted (set LDAP.StartTLS = true or use ldaps://)", uri)


def _is_loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


@hookimpl
def keystead_authenticate(provider, username, password):
    if provider != NAME:
        return None
    directory = current_app.extensions.get(EXTENSION)
    if directory is None:
        return None
    return directory.authenticate(username, password)
