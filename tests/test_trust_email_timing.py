"""Issue 12 item 11: asking for a reset or a new verification link answers as fast for an
unknown address as for a known one, in the API and the browser alike.

Many samples of the real request through the test client, known and unknown addresses
interleaved in a shuffled order (so drift in the machine's load, and whatever one sample
leaves behind, such as the test's own SMTP server finishing a session, falls on both
alike), compared by median.
The work a known address causes happens after the answer (app/outbox.py); the test lets
it finish between samples, outside the timed span, so one sample's mail does not slow the
next one's answer."""
from __future__ import annotations

import random
import statistics
import time

import pytest

from api_support import API, in_db, users_of
from conftest import csrf_from, outbox_idle

SAMPLES = 200  # of each kind
TOLERANCE = 0.20  # medians within 20% of each other (before: known took about twice as long)
SLACK_MS = 0.1  # and a tenth of a millisecond, for the clock's and the scheduler's grain


def _known_accounts(app):
    from keystead.accounts import create_user
    users_of(app).create("ada", email="ada@example.com")  # verified: can reset
    in_db(app, lambda: create_user("grace", "grace@example.com", "correct-horse-battery-staple-42",
                                   email_verified=False))  # can ask for a new verification link


def _api(path: str):
    def send(client, email):
        return client.post(f"{API}/auth/{path}", json={"email": email})
    return send


def _browser(path: str):
    tokens = {}

    def send(client, email):
        if client not in tokens:
            tokens[client] = csrf_from(client.get(path).get_data(as_text=True))
        return client.post(path, data={"csrf_token": tokens[client], "email": email})
    return send


# (send, a known address, an unknown one of the same length, the answer's status)
CASES = {
    "api-reset": (_api("request-password-reset"), "ada@example.com", "zed@example.com", 202),
    "api-resend-verification": (_api("resend-verification"), "grace@example.com", "gavin@example.com", 202),
    "browser-reset": (_browser("/reset-password"), "ada@example.com", "zed@example.com", 200),
    "browser-resend-verification": (_browser("/verify-email"), "grace@example.com", "gavin@example.com", 200),
}


@pytest.mark.parametrize("case", list(CASES))
def test_item11_known_and_unknown_addresses_answer_in_the_same_time(make_app, smtp, case):
    """Issue 12 item 11: the medians of 200 interleaved samples each agree within 20%."""
    send, known_address, unknown_address, status = CASES[case]
    _, mail_settings = smtp
    # Verification required, so that a known unverified address did cost more before.
    app = make_app({**mail_settings, "Server.RateLimits": False, "Password.RequireEmailVerification": True})
    _known_accounts(app)
    client = app.test_client()
    for address in (known_address, unknown_address):  # warm up both paths
        assert send(client, address).status_code == status
    assert outbox_idle(app)
    timings: dict[str, list[float]] = {"known": [], "unknown": []}
    order = ["known", "unknown"] * SAMPLES
    random.Random(12).shuffle(order)  # what follows a known sample falls on both kinds alike
    for kind in order:
        address = known_address if kind == "known" else unknown_address
        start = time.perf_counter()
        r = send(client, address)
        elapsed = time.perf_counter() - start
        assert r.status_code == status
        timings[kind].append(elapsed * 1000)
        assert outbox_idle(app)  # the mail of this sample goes before the next is timed
    known, unknown = statistics.median(timings["known"]), statistics.median(timings["unknown"])
    assert abs(known - unknown) <= TOLERANCE * min(known, unknown) + SLACK_MS, (
        f"{case}: median {known:.2f} ms for a known address, {unknown:.2f} ms for an unknown one")
