"""Issue 18: durations tested as durations, against their configured values, with a
controllable clock (time-machine) instead of editing a stored expiry: web sudo lasts
Password.WebSudoModeDuration, a fresh login through an outside provider counts as
re-entry for as long, the two-factor step waits five minutes (a fixed wait in app/web/auth.py),
and a browser session ends after Authentication.Inactivity idle or Authentication.Lifetime
in all. Each is checked a second before its end and at its end (the clock starts on a whole
second, as the stored times are whole seconds)."""
from __future__ import annotations

import time

import pytest
import time_machine
from conftest import STRONG_PASSWORD, UserFactory, post_form
from pages import flashes, submit
from totp_support import code_for, enable_for

SUDO_SECONDS = 7 * 60  # not the default 5m: a hard-coded default shows
TWO_FACTOR_SECONDS = 5 * 60  # the documented wait of the second step


@pytest.fixture
def clock():
    """A frozen clock at now (a whole second), moved on with clock.shift(seconds)."""
    with time_machine.travel(int(time.time()), tick=False) as traveller:
        yield traveller


def _login(client, username="ada"):
    r = submit(client, "/login", {"username": username, "password": STRONG_PASSWORD})
    assert r.status_code == 303, r.status_code


def _asks_for_sudo(client, path="/profile/delete") -> bool:
    r = client.get(path)
    assert r.status_code in (200, 302), r.status_code
    return r.status_code == 302 and r.headers["Location"].startswith("/sudo")


def test_web_sudo_lasts_exactly_the_configured_duration(make_app, clock):
    app = make_app({"Password.WebSudoMode": True, "Password.WebSudoModeDuration": "7m"})
    UserFactory(app).create("ada")
    client = app.test_client()
    _login(client)
    assert _asks_for_sudo(client)
    assert submit(client, "/sudo", {"password": STRONG_PASSWORD}).status_code == 303
    clock.shift(SUDO_SECONDS - 1)
    assert not _asks_for_sudo(client)
    clock.shift(1)  # exactly WebSudoModeDuration: over
    assert _asks_for_sudo(client)


def test_a_fresh_outside_login_counts_as_reentry_for_the_configured_duration(make_app, clock):
    from plugins import static_provider
    app = make_app({"Authentication.Provider": ["password", "static"], "Password.WebSudoMode": True,
                    "Password.WebSudoModeDuration": "7m"}, plugins=[static_provider])
    client = app.test_client()
    assert post_form(client, "/login", {"username": "robot", "password": "beep-boop-1234"}).status_code == 303
    clock.shift(SUDO_SECONDS - 1)
    assert not _asks_for_sudo(client, "/profile/two-factor/setup")
    clock.shift(1)  # exactly WebSudoModeDuration after the login: over
    assert _asks_for_sudo(client, "/profile/two-factor/setup")


def _password_step(app, clock):
    client = app.test_client()
    r = submit(client, "/login", {"username": "ada", "password": STRONG_PASSWORD})
    assert r.status_code == 303 and r.headers["Location"] == "/login/two-factor"
    return client


def test_the_two_factor_step_waits_five_minutes_and_no_longer(make_app, clock):
    app = make_app()
    UserFactory(app).create("ada")
    secret, _ = enable_for(app, "ada")

    in_time = _password_step(app, clock)
    clock.shift(TWO_FACTOR_SECONDS - 1)
    r = submit(in_time, "/login/two-factor", {"code": code_for(secret, 1)})
    assert r.status_code == 303 and r.headers["Location"] == "/profile"

    clock.shift(60)  # a later step, so its code is new
    late = _password_step(app, clock)
    clock.shift(TWO_FACTOR_SECONDS + 1)
    r = submit(late, "/login/two-factor", {"code": code_for(secret, 0)}, page="/login")
    assert r.status_code == 303 and r.headers["Location"] == "/login"
    assert "That took too long. Log in again." in flashes(late.get("/login").get_data(as_text=True))
    assert late.get("/profile").status_code == 302


def _signed_in(client) -> bool:
    return client.get("/profile").status_code == 200


def test_a_session_ends_after_the_configured_inactivity(make_app, clock):
    app = make_app({"Authentication.Inactivity": "30m", "Authentication.Lifetime": "24h"})
    UserFactory(app).create("ada")
    client = app.test_client()
    _login(client)
    clock.shift(30 * 60 - 1)
    assert _signed_in(client)  # and this request counts as activity
    clock.shift(30 * 60)  # idle exactly Inactivity: not past it
    assert _signed_in(client)
    clock.shift(30 * 60 + 1)
    assert not _signed_in(client)
    assert "Your session has ended. Please log in again." in flashes(client.get("/login").get_data(as_text=True))


def test_a_session_ends_after_the_configured_lifetime_however_active(make_app, clock):
    app = make_app({"Authentication.Inactivity": "30m", "Authentication.Lifetime": "2h"})
    UserFactory(app).create("ada")
    client = app.test_client()
    _login(client)
    for _ in range(5):  # active every 20 minutes, to 1h40
        clock.shift(20 * 60)
        assert _signed_in(client)
    clock.shift(20 * 60 - 1)  # 2h less a second
    assert _signed_in(client)
    clock.shift(1)  # exactly Lifetime: not past it
    assert _signed_in(client)
    clock.shift(1)
    assert not _signed_in(client)


def test_activity_is_written_to_the_cookie_at_most_twice_a_minute(make_app, clock):
    """A request less than 30 seconds after the last one written leaves the session's
    last-seen time (and so the cookie's contents) alone; from 30 seconds on it moves it."""
    app = make_app({"Authentication.Inactivity": "30m"})
    UserFactory(app).create("ada")
    client = app.test_client()
    _login(client)
    started = _seen_at(client)
    clock.shift(29)
    assert _signed_in(client) and _seen_at(client) == started
    clock.shift(1)
    assert _signed_in(client) and _seen_at(client) == started + 30


def _seen_at(client) -> int:
    with client.session_transaction() as s:
        return s["seen_at"]


def test_a_signed_in_session_that_does_not_say_when_it_began_has_ended(make_app):
    app = make_app()
    UserFactory(app).create("ada")
    for missing in ("login_at", "seen_at"):
        client = app.test_client()
        _login(client)
        with client.session_transaction() as s:
            del s[missing]
        assert not _signed_in(client), missing
        page = client.get("/login").get_data(as_text=True)
        assert '<p class="flash flash-info" role="status">Your session has ended.' in page
