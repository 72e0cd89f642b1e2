"""A directory provider whose login names are the people's usernames here (as LDAP's uid
usually is): for checking a re-entered password with the account's own provider."""
from keystead import Identity, ProviderInfo, hookimpl

PEOPLE = {"dora": ("dora-directory-pass-58", Identity(provider="directory", subject="uid=dora", username="dora",
                                                     email="dora@example.com", first_name="Dora"))}


@hookimpl
def keystead_provider_info():
    return ProviderInfo(name="directory", title="Test directory", supports_password=True)


@hookimpl
def keystead_authenticate(provider, username, password):
    if provider != "directory":
        return None
    found = PEOPLE.get(username)
    if found and found[0] == password:
        return found[1]
    return None
