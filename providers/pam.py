"""The PAM provider: a stub. Installed and listed as not available; naming it in
Authentication.Provider refuses start-up with what is missing."""
from keystead import ProviderInfo, hookimpl

NAME = "pam"


@hookimpl
def keystead_provider_info():
    return ProviderInfo(name=NAME, title="PAM", available=False,
                        unavailable_reason="it needs python-pam (pip install python-pam) and a PAM provider implementation; this stub only reserves the name")
