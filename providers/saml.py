"""The SAML provider: a stub. Installed and listed as not available; naming it in
Authentication.Provider refuses start-up with what is missing."""
from keystead import ProviderInfo, hookimpl

NAME = "saml"


@hookimpl
def keystead_provider_info():
    return ProviderInfo(name=NAME, title="SAML", available=False,
                        unavailable_reason="it needs python3-saml (pip install python3-saml) and a SAML provider implementation; this stub only reserves the name")
