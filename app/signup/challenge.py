"""A proof-of-work challenge on sign-up and on requests that send mail to an address typed
by an anonymous visitor (reset links, verification links), when Password.SignupChallenge
is true: ALTCHA (https://altcha.org), computed by the visitor's browser, checked here; no
outside service.

The server hands out a challenge (GET /api/v1/auth/challenge): random parameters, an
expiry and an HMAC signature made with a key derived from Server.SecretKey. The browser's
widget (app/static/altcha.min.js) searches for the counter that gives the signed key
prefix: 55,000 SHA-256 hashes on average, about a second in a person's browser. The form or the API call then carries the solution, `challenge`, and `check()`
accepts it once: signature, expiry, solution, and not spent before. It slows a script
down; it does not stop one that pays the price.

Spent challenges are remembered, until they expire, as rows of the rate-limit table
(`rate_limit_hit`, app/ratelimit_storage.py: a bucket and an expiry, swept once a minute):
a challenge's bucket accepts one entry, taken under the same lock as a rate-limit count,
so two requests racing with one solution cannot both pass.
"""
from __future__ import annotations

import secrets
import time

import altcha
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

from ..errors import ValidationFailed
from ..ratelimit_storage import DatabaseStorage
from ..request_text import text_problem

FIELD = "challenge"  # the form field and JSON key that carry the solution
ALGORITHM = "SHA-256"  # the widget's SHA worker (app/static/altcha-sha-worker.js) computes it
# The browser tries counters from 0 up to a secret one drawn between these, so its work is
# their mean on average: about 55,000 hashes, a second or so (longer on an old phone).
MIN_NUMBER = 10_000
MAX_NUMBER = 100_000
EXPIRES_SECONDS = 10 * 60  # a form filled in slowly still has a valid challenge
SPENT_PREFIX = "keystead-challenge/"  # the rate-limit buckets of spent challenges

# HKDF `info` of the two keys: one signs the challenge's parameters, the other the key
# the solution must find (so a check is one HMAC, not a search).
SIGNING_PURPOSE = b"keystead altcha challenge signature"
ANSWER_PURPOSE = b"keystead altcha answer signature"

MISSING = "A solved challenge is needed: tick “I'm not a robot” and wait until it says Verified."
INVALID = "The challenge was not solved, has expired or was already used: tick “I'm not a robot” again."


def required() -> bool:
    """Whether sign-up and the mail-sending requests need a solved challenge."""
    return bool(current_app.extensions["keystead.settings"]["Password.SignupChallenge"])


def new_challenge(expires_in: float = EXPIRES_SECONDS, max_number: int = MAX_NUMBER) -> dict:
    """A fresh signed challenge, as the ALTCHA widget reads it (the JSON of
    GET /api/v1/auth/challenge). `expires_in` seconds from now it is refused."""
    signing, answer = _keys()
    low = min(MIN_NUMBER, max_number)
    counter = low + secrets.randbelow(max_number - low + 1)
    made = altcha.create_challenge(ALGORITHM, 1, counter=counter,
                                   expires_at=int(time.time() + expires_in),
                                   hmac_secret=signing, hmac_key_secret=answer)
    return made.to_dict()


def check(payload) -> None:
    """Accept a solved challenge once, when Password.SignupChallenge is on (otherwise do
    nothing). A missing, malformed, tampered, expired, wrong or already used solution
    raises ValidationFailed naming `challenge`."""
    if not required():
        return
    if not isinstance(payload, str) or not payload.strip():
        raise ValidationFailed({FIELD: MISSING})
    if problem := text_problem(payload):  # a form's field is read apart from its form's checks
        raise ValidationFailed({FIELD: problem})
    signing, answer = _keys()
    try:
        result = altcha.verify_solution(payload.strip(), signing, hmac_key_secret=answer)
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError):  # a hostile payload
        raise ValidationFailed({FIELD: INVALID}) from None
    if not result.verified:
        raise ValidationFailed({FIELD: INVALID})
    challenge = altcha.Payload.from_base64(payload.strip()).challenge
    if not challenge.parameters.key_signature:  # signed without an answer: not one of ours
        raise ValidationFailed({FIELD: INVALID})
    if not _spend(challenge.signature, challenge.parameters.expires_at):
        raise ValidationFailed({FIELD: INVALID})


def _spend(signature: str, expires_at) -> bool:
    """Record the challenge as used until it expires; False when it already was."""
    if isinstance(expires_at, (int, float)):
        seconds = max(1, int(expires_at - time.time()) + 1)  # a second past the expiry
    else:
        seconds = EXPIRES_SECONDS
    return _spent_store().acquire_entry(SPENT_PREFIX + signature, 1, seconds)


def _spent_store() -> DatabaseStorage:
    store = current_app.extensions.get("keystead.spent_challenges")
    if store is None:
        store = current_app.extensions["keystead.spent_challenges"] = DatabaseStorage(
            "database://", database=current_app.extensions["keystead.db"])
    return store


def _keys() -> tuple[bytes, bytes]:
    """The app's two challenge keys, derived from Server.SecretKey (made once per app)."""
    keys = current_app.extensions.get("keystead.challenge_keys")
    if keys is None:
        secret = current_app.extensions["keystead.secret_key"]
        secret = secret.encode() if isinstance(secret, str) else secret
        keys = current_app.extensions["keystead.challenge_keys"] = tuple(
            HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(secret)
            for purpose in (SIGNING_PURPOSE, ANSWER_PURPOSE))
    return keys
