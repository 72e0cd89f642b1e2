"""Issue 18: the lockout counts, locks, resets and unlocks one account's (or one name's)
counter only, and the hourly cap's window starts over after an hour (on a controllable
clock). Written to kill the mutants mutmut found surviving in app/throttle.py
(docs/testing.md): each test names the behaviour it proves."""
from __future__ import annotations

import time

import pytest
import time_machine
from conftest import STRONG_PASSWORD, UserFactory

from keystead import throttle
from keystead.audit.models import AuditEvent
from keystead.errors import AccountLocked, AuthenticationFailed
from keystead.login import log_in_with_password
from keystead.models import User

THRESHOLD = 3
DURATION = 15 * 60


@pytest.fixture
def locking_app(make_app):
    app = make_app({"Password.LockoutThreshold": THRESHOLD, "Password.LockoutDuration": "15m"})
    factory = UserFactory(app)
    for name in ("alan", "grace"):
        factory.create(name)
    return app


def _fail(times: int, name: str) -> None:
    for _ in range(times):
        with pytest.raises((AuthenticationFailed, AccountLocked)):
            log_in_with_password(name, "wrong-password-x")


def _logs_in(name: str) -> bool:
    try:
        return log_in_with_password(name, STRONG_PASSWORD).username == name
    except AccountLocked:
        return False


def test_one_accounts_failures_and_lockout_leave_anothers_counter_alone(locking_app):
    with locking_app.test_request_context():
        _fail(1, "grace")
        _fail(THRESHOLD, "alan")
        assert not _logs_in("alan")
        _fail(1, "grace")  # her second: still under the threshold
        assert _logs_in("grace")


def test_one_accounts_success_resets_only_its_own_count(locking_app):
    with locking_app.test_request_context():
        _fail(THRESHOLD - 1, "alan")
        assert _logs_in("grace")
        _fail(1, "alan")
        assert not _logs_in("alan")


def test_a_success_after_a_single_failure_resets_the_count(locking_app):
    with locking_app.test_request_context():
        _fail(1, "alan")
        assert _logs_in("alan")
        _fail(THRESHOLD - 1, "alan")
        assert _logs_in("alan")


def test_after_a_lockout_ends_the_full_threshold_applies_again(locking_app):
    with time_machine.travel(time.time(), tick=False) as clock, locking_app.test_request_context():
        _fail(THRESHOLD, "alan")
        assert not _logs_in("alan")
        clock.shift(DURATION + 1)
        _fail(THRESHOLD - 1, "alan")
        assert _logs_in("alan")


def test_a_lockout_is_recorded_once_when_it_starts(locking_app):
    with locking_app.test_request_context():
        _fail(THRESHOLD - 1, "alan")
        assert AuditEvent.select().where(AuditEvent.event == "lockout").count() == 0
        _fail(1, "alan")
        assert AuditEvent.select().where(AuditEvent.event == "lockout").count() == 1
        _fail(1, "alan")  # refused while locked out: no second lockout
        assert AuditEvent.select().where(AuditEvent.event == "lockout").count() == 1


def test_a_reentry_during_a_lockout_is_refused_with_the_seconds_left(locking_app):
    from keystead.errors import ValidationFailed
    with locking_app.test_request_context():
        alan = User.get(User.username == "alan")
        _fail(THRESHOLD, "alan")
        checked = []
        with pytest.raises(AccountLocked) as refused:
            throttle.guarded(alan, lambda: checked.append(True))
        assert checked == []  # the password is not even looked at
        assert str(refused.value) == "Too many failed attempts. Try again later."
        assert 0 < refused.value.retry_after <= DURATION
        grace = User.get(User.username == "grace")

        def wrong():
            raise ValidationFailed({"password": "wrong"})
        for _ in range(THRESHOLD - 1):
            with pytest.raises(ValidationFailed):
                throttle.guarded(grace, wrong)
        assert _logs_in("grace")


def test_the_lockout_of_one_account_is_shown_and_cleared_for_that_account_only(locking_app):
    with locking_app.test_request_context():
        alan, grace = (User.get(User.username == n) for n in ("alan", "grace"))
        _fail(THRESHOLD, "grace")
        _fail(THRESHOLD, "alan")
        assert throttle.lockout_ends_at(alan) > time.time()
        throttle.clear_lockout(alan)
        assert throttle.lockout_ends_at(alan) == 0
        assert throttle.lockout_ends_at(grace) > time.time()
        assert _logs_in("alan") and not _logs_in("grace")


def test_lockout_ends_at_is_zero_for_an_account_that_never_failed(locking_app):
    with locking_app.test_request_context():
        _fail(THRESHOLD, "grace")
        assert throttle.lockout_ends_at(User.get(User.username == "alan")) == 0


@pytest.fixture
def capped_app(make_app):
    return make_app({"Password.LockoutThreshold": 0})  # only the hourly cap


def test_the_hourly_caps_window_starts_over_after_an_hour(capped_app):
    UserFactory(capped_app).create("alan")
    with time_machine.travel(time.time(), tick=False) as clock, capped_app.test_request_context():
        _fail(throttle.HOURLY_CAP - 1, "alan")
        assert _logs_in("alan")
        clock.shift(throttle.WINDOW + 1)
        _fail(throttle.HOURLY_CAP - 1, "alan")  # a new window: 99 of 100
        assert _logs_in("alan")
        _fail(1, "alan")  # the 100th of this window
        assert not _logs_in("alan")


def test_a_lockout_is_over_in_the_very_second_it_ends(locking_app):
    with time_machine.travel(int(time.time()), tick=False) as clock, locking_app.test_request_context():
        alan = User.get(User.username == "alan")
        _fail(THRESHOLD, "alan")
        ends = throttle.lockout_ends_at(alan)
        assert ends == int(time.time()) + DURATION
        clock.shift(DURATION - 1)
        assert throttle.lockout_ends_at(alan) == ends
        clock.shift(1)
        assert throttle.lockout_ends_at(alan) == 0
        assert _logs_in("alan")

