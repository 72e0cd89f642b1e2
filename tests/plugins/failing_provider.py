"""A provider whose hooks fail the way a bug or a dead directory server makes them fail:
keystead_authenticate raises RuntimeError (with a secret-looking detail in its message)."""
from keystead import ProviderInfo, hookimpl

SECRET_DETAIL = "ldap://admin:hunter2@10.0.0.7 exploded"


@hookimpl
def keystead_provider_info():
    return ProviderInfo(name="failing", title="Failing directory", supports_password=True)


@hookimpl
def keystead_authenticate(provider, username, password):
    if provider != "failing":
        return None
    raise RuntimeError(SECRET_DETAIL)
