"""The keys that sign ID tokens, kept in the database so every host serves the same JWKS.

One current key per algorithm (RS256 and ES256), made when first needed. `rotate` makes a
new current key of each algorithm and retires the old ones: a retired key signs nothing
more but stays in the JWKS for OpenIDProvider.IDTokenLifetime, so the ID tokens it signed
still verify until they expire; then it is deleted. The private parts are sealed with a key
derived from Server.SecretKey (app/encryption.py), bound to the key's id.
"""
from __future__ import annotations

import json
import time

from flask import current_app
from joserfc.jwk import ECKey, KeySet, RSAKey

from ..db import write_transaction
from ..encryption import SecretBox
from .models import SigningKey

ALGORITHMS = ("RS256", "ES256")
_PURPOSE = b"keystead.openid-provider.signing-key"


def _box() -> SecretBox:
    cache = current_app.extensions
    if "keystead.signing_key_box" not in cache:
        cache["keystead.signing_key_box"] = SecretBox(cache["keystead.secret_key"], _PURPOSE)
    return cache["keystead.signing_key_box"]


def _settings():
    return current_app.extensions["keystead.settings"]


def _generate(alg: str):
    if alg == "RS256":
        return RSAKey.generate_key(2048, private=True)
    return ECKey.generate_key("P-256", private=True)


def new_key(alg: str) -> SigningKey:
    """Make and store a new current key for `alg`."""
    key = _generate(alg)
    kid = key.thumbprint()[:32]
    public = {**key.as_dict(private=False), "kid": kid, "alg": alg, "use": "sig"}
    pem = key.as_pem(private=True).decode("ascii")
    return SigningKey.create(kid=kid, alg=alg, public_jwk=json.dumps(public),
                             private_sealed=_box().seal(pem, kid), created_at=int(time.time()))


def _current(alg: str) -> SigningKey | None:
    return (SigningKey.select().where((SigningKey.alg == alg) & SigningKey.retired_at.is_null())
            .order_by(SigningKey.created_at.desc()).first())


def current_key(alg: str) -> SigningKey:
    """The key that signs with `alg` now (made on first use)."""
    key = _current(alg)
    if key is None:
        with write_transaction():  # two workers starting together make one key
            key = _current(alg) or new_key(alg)
    return key


def ensure_keys() -> None:
    for alg in ALGORITHMS:
        current_key(alg)


def private_key(row: SigningKey):
    """The joserfc key that signs with `row` (its id set, for the JWS header)."""
    pem = _box().open(row.private_sealed, row.kid)
    cls = RSAKey if row.alg == "RS256" else ECKey
    return cls.import_key(pem, {"kid": row.kid, "alg": row.alg, "use": "sig"})


def _prune() -> None:
    """Delete retired keys whose ID tokens have all expired."""
    cutoff = int(time.time()) - _settings()["OpenIDProvider.IDTokenLifetime"]
    SigningKey.delete().where(SigningKey.retired_at.is_null(False) & (SigningKey.retired_at < cutoff)).execute()


def published_keys() -> list[SigningKey]:
    """The keys in the JWKS: current ones and those retired less than an ID token
    lifetime ago, newest first."""
    ensure_keys()
    cutoff = int(time.time()) - _settings()["OpenIDProvider.IDTokenLifetime"]
    return list(SigningKey.select().where(SigningKey.retired_at.is_null() | (SigningKey.retired_at >= cutoff))
                .order_by(SigningKey.created_at.desc()))


def jwks() -> dict:
    """The JSON Web Key Set: public parts only."""
    return {"keys": [json.loads(k.public_jwk) for k in published_keys()]}


def key_set() -> KeySet:
    return KeySet.import_key_set(jwks())


def rotate() -> list[SigningKey]:
    """New current keys for every algorithm; the old ones retire (kept for verification
    until the ID tokens they signed expire). Returns the new keys."""
    now = int(time.time())
    with write_transaction():
        SigningKey.update(retired_at=now).where(SigningKey.retired_at.is_null()).execute()
        made = [new_key(alg) for alg in ALGORITHMS]
    _prune()
    return made


def list_keys() -> list[dict]:
    """Every stored key, for `keystead keys list`: id, algorithm, state, dates."""
    lifetime = _settings()["OpenIDProvider.IDTokenLifetime"]
    out = []
    for k in SigningKey.select().order_by(SigningKey.created_at.desc()):
        state = "current" if k.retired_at is None else "retired"
        out.append({"kid": k.kid, "alg": k.alg, "state": state, "created_at": k.created_at,
                    "dropped_at": None if k.retired_at is None else k.retired_at + lifetime})
    return out
