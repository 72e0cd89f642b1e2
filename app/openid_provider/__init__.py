"""Keystead as an OpenID Provider: discovery, JWKS, the authorization code flow with PKCE,
tokens, UserInfo, revocation, introspection and RP-initiated logout, for the apps of
app/apps that have an OpenID Connect client."""
