"""The LDAP provider: a stub. Installed and listed as not available; naming it in
Authentication.Provider refuses start-up with what is missing."""
from keystead import ProviderInfo, hookimpl

NAME = "ldap"


@hookimpl
def keystead_provider_info():
    return ProviderInfo(name=NAME, title="LDAP", available=False,
                        unavailable_reason="it needs python-ldap (pip install python-ldap) and an LDAP provider implementation; this stub only reserves the name")
