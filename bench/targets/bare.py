"""The limit: a bare Flask app doing only what a workload cannot avoid.

- GET /json: a JSON body the shape of Keystead's user, no database, no authentication:
  the fastest an authenticated GET could ever be in Flask under the same gunicorn.
- POST /bcrypt: parses `{username, password}` and does exactly one bcrypt check at the
  bench cost (BENCH_BCRYPT_ROUNDS): the fastest a password login could ever be.
- POST /hash: one bcrypt hash at the same cost: the fastest a sign-up could be.
- GET /ready: readiness probe.
"""
from __future__ import annotations

import os

import bcrypt
from flask import Flask, jsonify, request

ROUNDS = int(os.environ.get("BENCH_BCRYPT_ROUNDS", "12"))
PASSWORD = os.environ.get("BENCH_PASSWORD", "bench-Password-42").encode()
# Computed once per worker at start-up, like a stored hash read from a database.
STORED_HASH = bcrypt.hashpw(PASSWORD, bcrypt.gensalt(ROUNDS))

USER = {"id": 1, "username": "person1", "email": "person1@example.com", "first_name": "Ada",
        "last_name": "Bench", "role": "viewer", "locked": False, "email_verified": True,
        "created_at": "2025-01-01T00:00:00Z", "last_login_at": "2025-01-01T00:00:00Z",
        "groups": [], "provider": "password"}

app = Flask(__name__)


@app.get("/ready")
def ready():
    return jsonify(status="ok")


@app.get("/json")
def json_route():
    return jsonify(USER)


@app.post("/bcrypt")
def bcrypt_route():
    data = request.get_json(silent=True) or {}
    password = data.get("password")
    if isinstance(password, str) and bcrypt.checkpw(password.encode(), STORED_HASH):
        return jsonify(ok=True)
    return jsonify(error="invalid credentials"), 401


@app.post("/hash")
def hash_route():
    data = request.get_json(silent=True) or {}
    password = data.get("password") or ""
    hashed = bcrypt.hashpw(str(password).encode(), bcrypt.gensalt(ROUNDS))
    return jsonify(ok=bool(hashed)), 201
