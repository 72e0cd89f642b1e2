"""Issue 12 items 9, 10 and 16 (the 423 part): the failed-login lockout counts per account,
whichever of its names is typed, and wrong second-factor codes and re-entered passwords on
the same counter; names that belong to nobody are counted per name and answer exactly like
accounts; an administrator's unlock (API, page, CLI) ends a lockout, and the person's page
shows it; Retry-After comes only with a lockout's 423, never with an administrator's lock.
Browser and API alike, through the test client on a real database."""
from __future__ import annotations

import re
import time
from datetime import datetime, timezone

import pytest
from api_support import API, bearer, in_db, login, users_of
from conftest import STRONG_PASSWORD, AuthActions
from pages import blank_tokens, flashes, submit
from totp_support import code_for, enable_for, wrong_code

from keystead import accounts
from keystead.models import User

THRESHOLD = 3
DURATION = 15 * 60
WRONG = "not-the-password-at-all"
# What the right password answers when the login goes through.
LOGGED_IN = {"api": 200, "browser": 303}


@pytest.fixture(params=["api", "browser"])
def channel(request):
    return request.param


@pytest.fixture
def locking_app(make_app):
    """Lockout after THRESHOLD failures; the rate limits stay on, as deployed (their headers
    are what put Retry-After on every answer)."""
    return make_app({"Password.LockoutThreshold": THRESHOLD, "Password.LockoutDuration": "15m"})


@pytest.fixture
def alan(locking_app):
    """The person "alan" (alan@example.com), and an administrator "root"."""
    factory = users_of(locking_app)
    factory.create("root", role="administrator")
    return factory.create("alan", email="alan@example.com")[0]


def attempt(app, channel: str, name: str, password: str = STRONG_PASSWORD, otp: str | None = None):
    """One login from a fresh client; with `otp`, the browser's second step too."""
    client = app.test_client()
    if channel == "api":
        body = {"username": name, "password": password}
        if otp is not None:
            body["otp"] = otp
        return client.post(f"{API}/auth/login", json=body)
    r = submit(client, "/login", {"username": name, "password": password})
    if otp is not None and r.status_code == 303 and r.headers["Location"] == "/login/two-factor":
        r = submit(client, "/login/two-factor", {"code": otp})
    return r


def fail(app, channel: str, *names: str) -> None:
    for name in names:
        assert attempt(app, channel, name, WRONG).status_code == 401, name


def assert_locked_out(response) -> None:
    """A lockout's answer: 423 with the seconds left of it."""
    assert response.status_code == 423, response.get_data(as_text=True)
    assert 0 < int(response.headers["Retry-After"]) <= DURATION


# ---------------------------------------------------------------- item 9: one counter per account

def test_failures_by_username_lock_out_the_right_password_by_email(locking_app, alan, channel):
    """Issue 12 item 9: the username and the address share the account's counter."""
    fail(locking_app, channel, *["alan"] * THRESHOLD)
    assert_locked_out(attempt(locking_app, channel, "alan@example.com"))
    assert_locked_out(attempt(locking_app, channel, "ALAN@Example.com"))


def test_failures_by_email_lock_out_the_right_password_by_username(locking_app, alan, channel):
    """Issue 12 item 9: and the other way round."""
    fail(locking_app, channel, *["alan@example.com"] * THRESHOLD)
    assert_locked_out(attempt(locking_app, channel, "alan"))


def test_failures_through_both_names_add_up_to_one_count(locking_app, alan, channel):
    """Issue 12 item 9: no name reaches the threshold alone; together they lock the account."""
    fail(locking_app, channel, "alan", "alan@example.com", "Alan")
    assert_locked_out(attempt(locking_app, channel, "alan"))
    assert_locked_out(attempt(locking_app, channel, "alan@example.com"))


def test_wrong_second_factor_codes_count_on_the_accounts_counter(locking_app, alan, channel):
    """Issue 12 item 9: a wrong code counts like a wrong password, on the same counter,
    whichever name the password step used."""
    secret, _ = enable_for(locking_app, "alan")
    bad = wrong_code(secret)
    assert attempt(locking_app, channel, "alan", otp=bad).status_code == 401
    fail(locking_app, channel, "alan@example.com")
    assert attempt(locking_app, channel, "alan@example.com", otp=bad).status_code == 401
    # Three failures, at most two through any one name: the right password and code are refused.
    assert_locked_out(attempt(locking_app, channel, "alan", otp=code_for(secret, 1)))


def test_reentered_passwords_count_on_the_accounts_counter(locking_app, alan):
    """Issue 12 item 9: a wrong current password (here the API's password change) is a
    guess like a login, and counts on the account's counter that logins by email share."""
    pair = login(locking_app.test_client(), "alan")
    client = locking_app.test_client()
    for _ in range(THRESHOLD):
        r = client.post(f"{API}/users/me/password", headers=bearer(pair["access_token"]),
                        json={"current_password": WRONG, "new_password": "Another-Long-Secret-456"})
        assert r.status_code == 422
    assert_locked_out(attempt(locking_app, "api", "alan@example.com"))
    assert_locked_out(attempt(locking_app, "browser", "alan@example.com"))


def test_a_lockout_of_one_account_leaves_other_names_alone(locking_app, alan, channel):
    """Issue 12 item 9: the counter is the account's, not everyone's: another person, and a
    name that belongs to nobody, still log in or get the usual 401."""
    users_of(locking_app).create("grace", email="grace@example.com")
    fail(locking_app, channel, *["alan"] * THRESHOLD)
    assert attempt(locking_app, channel, "grace@example.com").status_code == LOGGED_IN[channel]
    assert attempt(locking_app, channel, "alan.b", WRONG).status_code == 401


@pytest.fixture
def cast(make_app):
    """Accounts of every kind, and rate limits off: their X-RateLimit-* headers count the
    one test address's requests, which would differ from case to case."""
    app = make_app({"Password.LockoutThreshold": THRESHOLD, "Password.LockoutDuration": "15m",
                    "Server.RateLimits": False})
    factory = users_of(app)
    factory.create("root", role="administrator")
    factory.create("ada")
    factory.create("bea")
    locky = factory.create("locky")[0]
    in_db(app, lambda: accounts.set_locked(locky, True))
    return app


# Names that belong to an account (by username, by address, locked by an administrator;
# three accounts, since an account's names share one counter), and names of nobody.
NAMES = {"username": "ada", "email": "bea@example.com", "locked account": "locky",
         "unknown username": "nobody", "unknown email": "nobody@example.com"}


def _answer(response, name: str) -> tuple:
    """Status, body and headers, with what legitimately varies blanked: the name shown back
    in the form, CSRF tokens, the length (follows the name) and the seconds of Retry-After
    (checked apart: the clock may tick between two cases)."""
    body = blank_tokens(response.get_data(as_text=True)).replace(f'value="{name}"', 'value="…"')
    headers = []
    for key, value in sorted(response.headers.items()):
        if key.lower() in ("content-length", "set-cookie"):
            continue
        if key == "Retry-After":
            assert 0 < int(value) <= DURATION
            value = "…"
        headers.append((key, value))
    return response.status_code, body, headers


def test_unknown_names_are_counted_per_name_and_answer_like_accounts(cast, channel):
    """Issue 12 item 9: a name that belongs to nobody gets, attempt by attempt, the answers an
    account's name gets (the same statuses, bodies and headers): 401 up to the threshold,
    then 423 with Retry-After. So the 423 says nothing about whether a name is an account's."""
    sequences = {}
    for case, name in NAMES.items():
        sequences[case] = [_answer(attempt(cast, channel, name, WRONG), name) for _ in range(THRESHOLD + 1)]
    first = sequences["username"]
    assert [status for status, _, _ in first] == [401] * THRESHOLD + [423]
    assert ("Retry-After", "…") in first[-1][2]
    for case, sequence in sequences.items():
        assert sequence == first, case


# ---------------------------------------------------------------- item 10: unlock ends a lockout

def _lock_out(app, name="alan"):
    fail(app, "api", *[name] * THRESHOLD)
    assert_locked_out(attempt(app, "api", name))


def test_api_unlock_ends_a_failed_login_lockout(locking_app, alan, channel):
    """Issue 12 item 10: PATCH locked:false on an account the administrator never locked."""
    _lock_out(locking_app)
    admin_h = bearer(login(locking_app.test_client(), "root")["access_token"])
    r = locking_app.test_client().patch(f"{API}/users/{alan.id}", headers=admin_h, json={"locked": False})
    assert r.status_code == 200 and r.get_json()["locked"] is False
    assert attempt(locking_app, channel, "alan").status_code == LOGGED_IN[channel]
    assert attempt(locking_app, channel, "alan@example.com").status_code == LOGGED_IN[channel]


def test_cli_unlock_ends_a_failed_login_lockout(locking_app, alan, channel):
    """Issue 12 item 10: `keystead users unlock alan` says unlocked, and it is."""
    _lock_out(locking_app)
    result = locking_app.test_cli_runner().invoke(args=["users", "unlock", "alan"])
    assert result.exit_code == 0 and result.output.strip() == "alan is unlocked."
    assert attempt(locking_app, channel, "alan").status_code == LOGGED_IN[channel]


def _lockout_shown(page: str) -> datetime | None:
    """The end of the lockout the person's page shows, or None."""
    m = re.search(r'<p id="lockout"[^>]*>\s*alan is locked out after failed logins\s+until '
                  r'(\d{4}-\d\d-\d\d \d\d:\d\d) UTC', page)
    return datetime.strptime(m.group(1), "%Y-%m-%d %H:%M").replace(tzinfo=timezone.utc) if m else None


def test_the_persons_page_shows_a_lockout_and_its_unlock_ends_it(locking_app, alan):
    """Issue 12 item 10: the page shows the active lockout with its end and an Unlock
    button (though no administrator locked alan); Unlock ends it and alan logs in."""
    browser = locking_app.test_client()
    AuthActions(browser).login("root")
    assert _lockout_shown(browser.get(f"/admin/people/{alan.id}").get_data(as_text=True)) is None
    started = time.time()
    _lock_out(locking_app)
    page = browser.get(f"/admin/people/{alan.id}").get_data(as_text=True)
    ends = _lockout_shown(page)
    assert ends is not None, page
    assert started + DURATION - 60 <= ends.timestamp() <= time.time() + DURATION
    assert f'action="/admin/people/{alan.id}/unlock"' in page and f'action="/admin/people/{alan.id}/lock"' in page

    r = submit(browser, f"/admin/people/{alan.id}/unlock", {}, page=f"/admin/people/{alan.id}",
               follow_redirects=True)
    assert r.status_code == 200
    assert "alan is unlocked: the lockout after failed logins has ended." in flashes(r.get_data(as_text=True))
    assert _lockout_shown(r.get_data(as_text=True)) is None
    assert in_db(locking_app, lambda: User.get_by_id(alan.id).locked) is False
    assert attempt(locking_app, "browser", "alan").status_code == 303


def test_unlocking_an_administrator_locked_account_in_a_lockout_ends_both(locking_app, alan, channel):
    """Issue 12 item 10: one unlock ends the administrator's lock and the lockout."""
    in_db(locking_app, lambda: accounts.set_locked(alan, True))
    _lock_out(locking_app)
    result = locking_app.test_cli_runner().invoke(args=["users", "unlock", "alan@example.com"])
    assert result.exit_code == 0, result.output
    assert attempt(locking_app, channel, "alan").status_code == LOGGED_IN[channel]


# ---------------------------------------------------------------- item 16: Retry-After on 423s

def test_an_administrators_lock_answers_423_without_retry_after_only_to_the_right_password(
        locking_app, alan, channel):
    """Issue 12 item 16: the lock lifts only when an administrator unlocks, so its 423 has
    no Retry-After; a wrong password gets the usual 401."""
    in_db(locking_app, lambda: accounts.set_locked(alan, True))
    right = attempt(locking_app, channel, "alan")
    assert right.status_code == 423 and "Retry-After" not in right.headers
    assert attempt(locking_app, channel, "alan@example.com").headers.get("Retry-After") is None
    assert attempt(locking_app, channel, "alan", WRONG).status_code == 401


def test_a_lockout_answers_423_with_retry_after_even_on_an_administrator_locked_account(
        locking_app, alan, channel):
    """Issue 12 item 16 (and SPEC 4): during a lockout every attempt, the right password
    included, gets 423 with Retry-After, whether or not an administrator locked the account;
    the seconds are the lockout's, not the rate limit's window."""
    in_db(locking_app, lambda: accounts.set_locked(alan, True))
    fail(locking_app, channel, "alan", "alan@example.com", "alan")
    for password in (STRONG_PASSWORD, WRONG):
        r = attempt(locking_app, channel, "alan@example.com", password)
        assert_locked_out(r)
        assert int(r.headers["Retry-After"]) > DURATION - 60
