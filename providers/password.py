"""The password provider: people kept in Keystead's own table, with bcrypt passwords."""
from keystead import Identity, ProviderInfo, hookimpl
from keystead.accounts import check_user_password, find_user_by_login

NAME = "password"


@hookimpl
def keystead_provider_info():
    return ProviderInfo(name=NAME, title="Password", supports_password=True,
                        supports_registration=True, supports_password_change=True)


@hookimpl
def keystead_authenticate(provider, username, password):
    if provider != NAME:
        return None
    user = find_user_by_login(username)
    if user is not None and user.provider != NAME:
        user = None  # an account of another provider never logs in with a local password
    # check_user_password costs one bcrypt even for an unknown user (no enumeration by time).
    if not check_user_password(user, password):
        return None
    return Identity(provider=NAME, subject=str(user.id), username=user.username, email=user.email,
                    user_id=user.id)
