"""An app's OpenID Connect client credentials: the client id, and for a confidential client
a secret shown once and stored only as its SHA-256 (a 256-bit random secret needs no slow
hash: nobody can guess it, so there is nothing for bcrypt's cost to slow down)."""
from __future__ import annotations

import hashlib
import hmac
import secrets

from .models import App

CLIENT_ID_PREFIX = "ksc_"
SECRET_PREFIX = "kss_"


def _digest(secret: str) -> str:
    return hashlib.sha256(("client-secret:" + secret).encode()).hexdigest()


def new_client_credentials(public: bool) -> tuple[str, str | None, str | None]:
    """(client_id, secret, secret_hash) for a new client; a public client has no secret."""
    client_id = CLIENT_ID_PREFIX + secrets.token_urlsafe(18)
    if public:
        return client_id, None, None
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    return client_id, secret, _digest(secret)


def check_client_secret(app: App, secret: str | None) -> bool:
    """True when `secret` is this confidential client's secret (constant-time). A public
    client, or an app without a client, never matches."""
    if app.client_secret_hash is None or not isinstance(secret, str) or not secret:
        return False
    return hmac.compare_digest(app.client_secret_hash, _digest(secret))
