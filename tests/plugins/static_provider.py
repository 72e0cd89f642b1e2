"""A provider that knows one outside person, as a directory server would."""
from keystead import Identity, ProviderInfo, hookimpl

PEOPLE = {"robot": ("beep-boop-1234", Identity(provider="static", subject="robot-1", username="Robot Smith",
                                              email="robot@example.com", first_name="Robot",
                                              last_name="Smith", groups=["Engineers", "Ops"]))}


@hookimpl
def keystead_provider_info():
    return ProviderInfo(name="static", title="Static directory", supports_password=True)


@hookimpl
def keystead_authenticate(provider, username, password):
    if provider != "static":
        return None
    found = PEOPLE.get(username)
    if found and found[0] == password:
        return found[1]
    return None
