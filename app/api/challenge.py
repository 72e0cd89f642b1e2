"""GET /api/v1/auth/challenge: a proof-of-work challenge for sign-up and the requests that
mail a link (app/signup/challenge.py), while Password.SignupChallenge is true."""
from __future__ import annotations

from flask import Blueprint, jsonify

from ..errors import NotFound
from ..signup import challenge
from .openapi import obj, operation, string

bp = Blueprint("api_challenge", __name__)


@bp.get("/auth/challenge")
def new_challenge():
    if not challenge.required():
        raise NotFound("Sign-up needs no challenge here (Password.SignupChallenge is off).")
    return jsonify(challenge.new_challenge())


_PARAMETERS = obj(
    ("algorithm", "nonce", "salt", "cost", "keyLength", "keyPrefix", "keySignature", "expiresAt"),
    algorithm=string(const=challenge.ALGORITHM), nonce=string("Hex."), salt=string("Hex."),
    cost={"type": "integer"}, keyLength={"type": "integer"},
    keyPrefix=string("Hex: the start of the key the counter must give."),
    keySignature=string("Hex: lets the server check a solution with one HMAC."),
    expiresAt={"type": "integer", "description": "Unix time after which a solution is refused."})

OPENAPI_PATHS: dict = {
    "/api/v1/auth/challenge": {"get": operation(
        "A proof-of-work challenge for sign-up and reset requests", tag="auth",
        operation_id="challenge", secured=False,
        description="Only while Password.SignupChallenge is true (404 otherwise). An ALTCHA "
                    "challenge (version 2 parameters, SHA-256): find the counter `n` (from 0) "
                    "for which SHA-256(salt + nonce + n as 4 big-endian bytes) starts with "
                    "`keyPrefix`, then send base64(JSON {\"challenge\": <this object>, "
                    "\"solution\": {\"counter\": n, \"derivedKey\": <hex>}}) as `challenge` "
                    "in `POST /auth/register`, `/auth/request-password-reset` or "
                    "`/auth/resend-verification`. The ALTCHA libraries (the `altcha` package "
                    "on PyPI and npm) solve it. Each challenge is accepted once, within "
                    f"{challenge.EXPIRES_SECONDS // 60} minutes.",
        responses={200: ("A signed challenge.", obj(("parameters", "signature"),
                                                   parameters=_PARAMETERS,
                                                   signature=string("Hex HMAC of the parameters."))),
                   404: ("No challenge is needed here.", None)})},
}
