"""Lockout (SPEC 3/4): counted in the database per account, or per submitted name when the
name belongs to no account; during a lockout even the right password is refused. (Counting
per account across username and email: tests/test_trust_lockout.py.)"""
import pytest

from keystead import throttle
from keystead.accounts import set_locked
from keystead.errors import AccountLocked, AuthenticationFailed
from keystead.login import log_in_with_password
from keystead.models import LoginThrottle


@pytest.fixture
def locking_app(make_app):
    return make_app({"Password.LockoutThreshold": 3, "Password.LockoutDuration": "15m"})


def _fail(times, login, password="wrong-password-x"):
    for _ in range(times):
        with pytest.raises(AuthenticationFailed):
            log_in_with_password(login, password)


def test_threshold_failures_lock_out_even_the_right_password(locking_app):
    from conftest import UserFactory
    user, password = UserFactory(locking_app).create("victim")
    with locking_app.test_request_context():
        _fail(3, "victim")
        with pytest.raises(AccountLocked) as e:
            log_in_with_password("victim", password)
        assert 0 < e.value.retry_after <= 900


def test_unknown_names_lock_out_the_same_way(locking_app):
    with locking_app.test_request_context():
        _fail(3, "nobody-here")
        with pytest.raises(AccountLocked):
            log_in_with_password("nobody-here", "anything-at-all")


def test_the_count_is_per_normalised_name_and_kept_in_the_database(locking_app, make_app):
    with locking_app.test_request_context():
        _fail(2, "Victim")
        _fail(1, "ＶＩＣＴＩＭ")
    # a new app on the same database (a restart, another worker or host) sees the lockout
    other = make_app({"Password.LockoutThreshold": 3})
    with other.test_request_context():
        with pytest.raises(AccountLocked):
            log_in_with_password("victim", "whatever-it-is")
        assert LoginThrottle.get(LoginThrottle.key == throttle.name_throttle_key("victim")).locked_until > 0


def test_a_success_resets_the_count(locking_app):
    from conftest import UserFactory
    user, password = UserFactory(locking_app).create("ada")
    with locking_app.test_request_context():
        _fail(2, "ada")
        log_in_with_password("ada", password)
        _fail(2, "ada")
        assert log_in_with_password("ada", password).username == "ada"


def test_the_lockout_ends_after_its_duration(locking_app):
    from conftest import UserFactory
    user, password = UserFactory(locking_app).create("ada")
    with locking_app.test_request_context():
        _fail(3, "ada")
        LoginThrottle.update(locked_until=LoginThrottle.locked_until - 901).execute()
        assert log_in_with_password("ada", password).username == "ada"


def test_threshold_zero_disables_the_lockout_but_not_the_hourly_cap(make_app):
    app = make_app({"Password.LockoutThreshold": 0})
    with app.test_request_context():
        _fail(throttle.HOURLY_CAP - 1, "target")
        with pytest.raises(AuthenticationFailed):
            log_in_with_password("target", "still-counting")
        with pytest.raises(AccountLocked):
            log_in_with_password("target", "one-more-try")


def test_an_administrator_lock_answers_423_only_to_the_right_password(app, users):
    user, password = users.create("locked")
    with app.test_request_context():
        set_locked(user, True)
        with pytest.raises(AuthenticationFailed):
            log_in_with_password("locked", "not-the-password")
        with pytest.raises(AccountLocked):
            log_in_with_password("locked", password)
