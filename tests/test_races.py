"""Issue 18: the single-use claims hold when the uses race. Real threads, lined up by a
barrier, send the same refresh token (or the same second-factor code) to a live threaded
server at once: exactly one wins, every other answer is the documented refusal, never a
second success and never a 5xx."""
from __future__ import annotations

import threading
import time

import pyotp
import requests

from api_support import API, bearer
from conftest import STRONG_PASSWORD, UserFactory
from live import make_live_server  # noqa: F401  (pytest fixture)

RACERS = 8


def race(send) -> list[tuple[int, str | None]]:
    """Run `send(session)` in RACERS threads released at once; their (status, error code)."""
    barrier = threading.Barrier(RACERS)
    answers: list = [None] * RACERS

    def run(i):
        with requests.Session() as session:
            barrier.wait(timeout=30)
            r = send(session)
            body = r.json() if r.headers.get("Content-Type", "").startswith("application/json") else {}
            answers[i] = (r.status_code, (body.get("error") or {}).get("code"))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(RACERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers


def test_racing_exchanges_of_one_refresh_token_give_one_new_pair(make_live_server):
    server = make_live_server({"Server.RateLimits": False})
    UserFactory(server.app).create("ada")
    pair = requests.post(server(f"{API}/auth/login"), json={"username": "ada", "password": STRONG_PASSWORD},
                         timeout=30).json()
    answers = race(lambda s: s.post(server(f"{API}/auth/refresh"), timeout=60,
                                    json={"refresh_token": pair["refresh_token"]}))
    assert sorted(answers)[0] == (200, None), answers
    assert [a for a in answers if a[0] == 200] == [(200, None)], answers
    assert {a for a in answers if a[0] != 200} <= {(401, "invalid_token")}, answers


def test_racing_logins_with_one_second_factor_code_let_one_in(make_live_server):
    server = make_live_server({"Server.RateLimits": False})
    UserFactory(server.app).create("ada")
    s = requests.Session()
    login = {"username": "ada", "password": STRONG_PASSWORD}
    token = s.post(server(f"{API}/auth/login"), json=login, timeout=30).json()["access_token"]
    secret = s.post(server(f"{API}/users/me/totp"), json={"password": STRONG_PASSWORD},
                    headers=bearer(token), timeout=30).json()["secret"]
    totp = pyotp.TOTP(secret)
    confirmed = s.post(server(f"{API}/users/me/totp/confirm"), json={"code": totp.now()},
                       headers=bearer(token), timeout=30)
    assert confirmed.status_code == 200, confirmed.text
    # A fresh code: the one used to confirm is spent already.
    code = totp.at(int(time.time()) + totp.interval)
    answers = race(lambda session: session.post(server(f"{API}/auth/login"), timeout=60,
                                                json={**login, "otp": code}))
    assert [a for a in answers if a[0] == 200] == [(200, None)], answers
    assert {a for a in answers if a[0] != 200} <= {(401, "invalid_otp")}, answers
