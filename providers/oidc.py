"""The OpenID Connect provider: a stub. Installed and listed as not available; naming it in
Authentication.Provider refuses start-up with what is missing."""
from app import ProviderInfo, hookimpl

NAME = "oidc"


@hookimpl
def keystead_provider_info():
    return ProviderInfo(name=NAME, title="OpenID Connect", available=False,
                        unavailable_reason="it needs Authlib (pip install Authlib) and the OIDC.Issuer, OIDC.ClientId and OIDC.ClientSecret settings; the OpenID Connect provider is not implemented in this version")
