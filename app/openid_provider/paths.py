"""The OpenID Provider's addresses (a module of constants: app/web reads CLIENT_PATHS
before the views exist)."""
PREFIX = "/oidc"
# Client endpoints: apps call them with client credentials or an access token, never a
# browser session, so no CSRF token is asked there.
CLIENT_PATHS = frozenset((f"{PREFIX}/token", f"{PREFIX}/userinfo", f"{PREFIX}/revoke", f"{PREFIX}/introspect"))
