"""Issue 18: the login flow shared by the API and the pages answers and records exactly as
documented. The first active provider that vouches for the password wins, in the configured
order, and a password that is not text reaches none; a provider's crash is a short 502
(its traceback logged), its own refusal passes unchanged and a busy database stays a 503;
an identity that maps to nobody is a 401; only the right password learns of an
administrator's lock, a pending sign-up or an unverified first address (password accounts
only, when verification is required); two-factor accounts are asked for the code (an empty
one too), and owed terms are asked before the code is spent; the browser's second step and
terms step refuse people gone or locked, count wrong codes on the account's counter and
record the login; a lockout answers 423 with the seconds left and records why; every login
and failure is recorded with the client's address, the provider and the name typed (cut to
64 characters); a redirect login (OIDC, SAML) maps, checks and records the same way.
Written to kill the mutants mutmut found surviving in app/login.py (docs/testing.md)."""
from __future__ import annotations

import logging

import pytest
import time_machine
from api_support import API, assert_error, in_db, users_of
from conftest import STRONG_PASSWORD
from plugins import static_provider
from plugins.recorder import Recorder
from totp_support import code_for, enable_for, wrong_code

from keystead import Identity, ProviderInfo, hookimpl
from keystead.errors import AccountLocked, AuthenticationFailed, EmailNotVerified, ProviderError
from keystead.login import (SecondFactorRequired, WrongSecondFactor, client_address, complete_second_factor,
                            complete_terms_acceptance, log_in_as_identity, log_in_with_password)
from keystead.models import User
from keystead.signup.approval import ApprovalPending, ApprovalRejected
from keystead.signup.terms import TermsNotAccepted

CLIENT = "203.0.113.9"
TERMS = {"Password.TermsURL": "https://example.com/terms", "Password.TermsVersion": "2"}


class Odd:
    """A password provider "odd" whose answers the test sets: an Identity to return, or an
    exception to raise; it records the passwords it was asked about."""

    def __init__(self, answer=None):
        self.answer = answer
        self.asked: list = []

    @hookimpl
    def keystead_provider_info(self):
        return ProviderInfo(name="odd", title="Odd directory", supports_password=True)

    @hookimpl
    def keystead_authenticate(self, provider, username, password):
        if provider != "odd":
            return None
        self.asked.append(password)
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer


class MapCrash:
    """keystead_map_identity fails the way a buggy mapping plugin does."""

    @hookimpl
    def keystead_map_identity(self, identity):
        raise RuntimeError("map boom")


def _get(username: str) -> User:
    return User.get(User.username_key == username)


def _request(app):
    return app.test_request_context(environ_base={"REMOTE_ADDR": CLIENT})


def _events(recorder: Recorder, name: str) -> list[tuple]:
    return [e for e in recorder.events if e[0] == name]


# ---------------------------------------------------------------- providers

def test_the_client_address_is_that_of_the_request_and_none_outside_one(app):
    with app.app_context():
        assert client_address() is None
    with _request(app):
        assert client_address() == CLIENT


def test_providers_are_asked_in_order_and_the_first_that_vouches_logs_in(make_app):
    recorder = Recorder()
    app = make_app({"Authentication.Provider": ["static", "password"]}, plugins=[static_provider, recorder])
    users_of(app).create("ada")
    with _request(app):
        assert log_in_with_password("robot", "beep-boop-1234").email == "robot@example.com"
        assert log_in_with_password("ada", STRONG_PASSWORD).username == "ada"
        with pytest.raises(AuthenticationFailed):
            log_in_with_password("robot", STRONG_PASSWORD)
    logins = _events(recorder, "login")
    assert [(e[1], e[2], e[3], e[4]) for e in logins] == [
        ("Robot_Smith", "Robot_Smith", "success", {"client": CLIENT, "provider": "static"}),
        ("ada", "ada", "success", {"client": CLIENT, "provider": "password"})]


def test_a_password_that_is_not_text_reaches_no_provider_and_counts_as_a_failure(make_app):
    odd, recorder = Odd(), Recorder()
    app = make_app({"Authentication.Provider": ["odd", "password"]}, plugins=[odd, recorder])
    with _request(app):
        for password in (None, 12345678, ["x"]):
            with pytest.raises(AuthenticationFailed):
                log_in_with_password("ada", password)
        with pytest.raises(AuthenticationFailed):
            log_in_with_password("ada", "a-text-password")
    assert odd.asked == ["a-text-password"]
    assert [e[4] for e in _events(recorder, "login_failed")] == [{"client": CLIENT, "username": "ada"}] * 4


def test_a_crashing_provider_is_a_short_502_with_its_traceback_in_the_log(make_app, caplog):
    app = make_app({"Authentication.Provider": ["odd", "password"]}, plugins=[Odd(RuntimeError("boom 42"))])
    users_of(app).create("ada")
    caplog.set_level(logging.ERROR, logger="keystead")
    r = app.test_client().post(f"{API}/auth/login", json={"username": "ada", "password": STRONG_PASSWORD})
    error = assert_error(r, 502, "provider_error")
    assert error["message"] == ("The sign-in provider failed. Try again later, or tell an administrator "
                                "if it keeps happening.")
    assert "boom 42" not in r.get_data(as_text=True)
    logged = [rec for rec in caplog.records if rec.getMessage() == "provider odd failed in keystead_authenticate"]
    assert logged and logged[0].exc_info and "boom 42" in str(logged[0].exc_info[1])


def test_a_providers_own_refusal_passes_unchanged(make_app):
    refusal = ProviderError("The directory says no.")
    app = make_app({"Authentication.Provider": ["odd", "password"]}, plugins=[Odd(refusal)])
    with _request(app):
        with pytest.raises(ProviderError) as raised:
            log_in_with_password("ada", STRONG_PASSWORD)
    assert raised.value is refusal


def test_a_busy_database_inside_a_provider_stays_a_database_failure(make_app):
    import sqlite3
    busy = sqlite3.OperationalError("database is locked")
    app = make_app({"Authentication.Provider": ["odd", "password"]}, plugins=[Odd(busy)])
    with _request(app):
        with pytest.raises(sqlite3.OperationalError) as raised:
            log_in_with_password("ada", STRONG_PASSWORD)
    assert raised.value is busy


def test_an_identity_that_maps_to_nobody_is_refused(make_app):
    odd = Odd(Identity(provider="odd", subject=""))
    app = make_app({"Authentication.Provider": ["odd", "password"]}, plugins=[odd])
    with _request(app):
        with pytest.raises(AuthenticationFailed) as refused:
            log_in_with_password("ada", STRONG_PASSWORD)
        assert refused.value.message == "Invalid username or password."
        with pytest.raises(AuthenticationFailed) as refused:
            log_in_as_identity(Identity(provider="odd", subject=""))
        assert refused.value.message == "Your sign-in provider did not give a usable identity."


def test_a_crashing_identity_mapping_is_a_short_502_naming_the_hook_in_the_log(make_app, caplog):
    app = make_app(plugins=[MapCrash()])
    users_of(app).create("ada")
    caplog.set_level(logging.ERROR, logger="keystead")
    with _request(app):
        with pytest.raises(ProviderError):
            log_in_with_password("ada", STRONG_PASSWORD)
        with pytest.raises(ProviderError):
            log_in_as_identity(Identity(provider="static", subject="robot-1", username="robot"))
    assert [rec.getMessage() for rec in caplog.records if rec.exc_info] == [
        "provider password failed in keystead_map_identity", "provider static failed in keystead_map_identity"]


# ---------------------------------------------------------------- only the right password learns

def test_an_unverified_first_address_refuses_only_password_accounts_and_only_when_required(make_app):
    app = make_app({"Password.RequireEmailVerification": True, "Authentication.Provider": ["static", "password"]},
                   plugins=[static_provider])
    users = users_of(app)
    users.create("ada")
    with app.app_context():
        from keystead.accounts import create_user
        create_user("una", "una@example.com", STRONG_PASSWORD)  # never verified
    with _request(app):
        assert log_in_with_password("ada", STRONG_PASSWORD).username == "ada"
        with pytest.raises(EmailNotVerified):
            log_in_with_password("una", STRONG_PASSWORD)
        with pytest.raises(AuthenticationFailed):
            log_in_with_password("una", "wrong-password-1")
        robot = log_in_with_password("robot", "beep-boop-1234")  # the directory vouches for its address
        assert robot.provider == "static" and not robot.email_ever_verified
    relaxed = make_app({"Password.RequireEmailVerification": False})
    with relaxed.app_context():
        assert log_in_with_password("una", STRONG_PASSWORD).username == "una"


def test_an_administrators_lock_and_a_pending_or_rejected_sign_up_answer_only_the_right_password(app):
    users = users_of(app)
    for name in ("lee", "pat", "rex"):
        users.create(name)
    in_db(app, lambda: User.update(locked=True).where(User.username == "lee").execute())
    in_db(app, lambda: User.update(status="pending").where(User.username == "pat").execute())
    in_db(app, lambda: User.update(status="rejected").where(User.username == "rex").execute())
    with _request(app):
        for name, refusal in (("lee", AccountLocked), ("pat", ApprovalPending), ("rex", ApprovalRejected)):
            with pytest.raises(AuthenticationFailed):
                log_in_with_password(name, "wrong-password-1")
            with pytest.raises(refusal) as refused:
                log_in_with_password(name, STRONG_PASSWORD)
            assert getattr(refused.value, "retry_after", None) is None


# ---------------------------------------------------------------- second factor and terms

def test_two_factor_accounts_are_asked_for_the_code_and_a_wrong_one_is_counted(make_app):
    recorder = Recorder()
    app = make_app({"Password.LockoutThreshold": 5}, plugins=[recorder])
    users_of(app).create("ada")
    secret, _ = enable_for(app, "ada")
    client = app.test_client()
    body = {"username": "ada", "password": STRONG_PASSWORD}
    for otp in ({}, {"otp": ""}):
        error = assert_error(client.post(f"{API}/auth/login", json={**body, **otp}), 401, "otp_required")
        assert error["message"] == "Enter the code from your authenticator app (or a recovery code)."
        assert error["fields"] == {"otp": "Enter the code from your authenticator app."}
    error = assert_error(client.post(f"{API}/auth/login", json={**body, "otp": wrong_code(secret)}),
                         401, "invalid_otp")
    assert error["message"] == "The code is not correct." and error["fields"] == {"otp": "The code is not correct."}
    failed = _events(recorder, "login_failed")
    assert [(e[1], e[2], e[4]["username"], e[4]["reason"]) for e in failed] == \
        [(None, "ada", "ada", "wrong_second_factor")]
    assert client.post(f"{API}/auth/login", json={**body, "otp": code_for(secret, 1)}).status_code == 200
    with _request(app):
        with pytest.raises(SecondFactorRequired) as asked:
            log_in_with_password("ada", STRONG_PASSWORD)
        assert asked.value.user.username == "ada"


def test_owed_terms_are_asked_before_the_code_is_spent_and_only_true_accepts(make_app):
    app = make_app(TERMS)
    users_of(app).create("ada")
    secret, _ = enable_for(app, "ada")
    code = code_for(secret, 1)
    with _request(app):
        for accept in (False, 1, "true"):
            with pytest.raises(TermsNotAccepted) as asked:
                log_in_with_password("ada", STRONG_PASSWORD, otp=code, accept_terms=accept)
            assert asked.value.user.username == "ada"  # whose acceptance the browser awaits
        user = log_in_with_password("ada", STRONG_PASSWORD, otp=code, accept_terms=True)  # the code unspent
        assert user.terms_accepted_version == "2"


def test_owed_terms_are_asked_unless_the_login_accepts_them(make_app):
    recorder = Recorder()
    app = make_app(TERMS, plugins=[recorder])
    users_of(app).create("ada")
    with _request(app):
        with pytest.raises(TermsNotAccepted):
            log_in_with_password("ada", STRONG_PASSWORD)
        assert _events(recorder, "login") == []
        assert log_in_with_password("ada", STRONG_PASSWORD, accept_terms=True).terms_accepted_version == "2"
    assert [e[0] for e in recorder.events if e[0] in ("terms_accept", "login")] == ["terms_accept", "login"]


# ---------------------------------------------------------------- the browser's second and terms steps

def test_the_second_step_refuses_people_gone_or_locked_and_records_the_login(make_app):
    recorder = Recorder()
    app = make_app(plugins=[recorder])
    users = users_of(app)
    ada, _ = users.create("ada")
    lee, _ = users.create("lee")
    secret, _ = enable_for(app, "ada")
    enable_for(app, "lee")
    in_db(app, lambda: User.update(locked=True).where(User.id == lee.id).execute())
    with _request(app):
        with pytest.raises(AuthenticationFailed):
            complete_second_factor(10_000, code_for(secret, 1))
        with pytest.raises(AuthenticationFailed):
            complete_second_factor(lee.id, code_for(secret, 1))
        with pytest.raises(WrongSecondFactor):
            complete_second_factor(ada.id, wrong_code(secret))
        assert complete_second_factor(ada.id, code_for(secret, 1)).username == "ada"
    assert [(e[2], e[4]) for e in _events(recorder, "login_failed")] == \
        [("ada", {"client": CLIENT, "username": "ada", "reason": "wrong_second_factor"})]
    assert [(e[1], e[4]) for e in _events(recorder, "login")] == [("ada", {"client": CLIENT, "provider": "password"})]


def test_the_second_step_of_a_locked_out_or_pending_person_is_refused(make_app):
    recorder = Recorder()
    app = make_app({"Password.LockoutThreshold": 2, "Password.LockoutDuration": "15m"}, plugins=[recorder])
    users = users_of(app)
    ada, _ = users.create("ada")
    pat, _ = users.create("pat")
    secret, _ = enable_for(app, "ada")
    pat_secret, _ = enable_for(app, "pat")
    in_db(app, lambda: User.update(status="pending").where(User.id == pat.id).execute())
    with time_machine.travel(1_900_000_000, tick=False), _request(app):
        for _ in range(2):
            with pytest.raises((WrongSecondFactor, AccountLocked)):
                complete_second_factor(ada.id, wrong_code(secret))
        with pytest.raises(AccountLocked) as refused:
            complete_second_factor(ada.id, code_for(secret, 1))
        assert refused.value.retry_after == 15 * 60
        assert refused.value.message == "Too many failed logins. Try again later."
        with pytest.raises(ApprovalPending):
            complete_second_factor(pat.id, code_for(pat_secret, 1))
    assert [(e[2], e[3], e[4]) for e in _events(recorder, "lockout")] == \
        [("ada", "failure", {"client": CLIENT, "username": "ada", "reason": "wrong_second_factor"})]
    assert _events(recorder, "login_failed")[-1][1:] == \
        (None, None, "failure", {"client": CLIENT, "username": "ada", "reason": "locked_out"})


def test_the_second_step_asks_for_owed_terms_before_recording_the_login(make_app):
    recorder = Recorder()
    app = make_app(TERMS, plugins=[recorder])
    ada, _ = users_of(app).create("ada")
    secret, _ = enable_for(app, "ada")
    with _request(app):
        with pytest.raises(TermsNotAccepted):
            complete_second_factor(ada.id, code_for(secret, 1))
    assert _events(recorder, "login") == []


def test_the_terms_step_refuses_people_gone_locked_or_pending_and_records_acceptance_and_login(make_app):
    recorder = Recorder()
    app = make_app(TERMS, plugins=[recorder])
    users = users_of(app)
    ada, _ = users.create("ada")
    lee, _ = users.create("lee")
    pat, _ = users.create("pat")
    in_db(app, lambda: User.update(locked=True).where(User.id == lee.id).execute())
    in_db(app, lambda: User.update(status="pending").where(User.id == pat.id).execute())
    with _request(app):
        for gone in (10_000, lee.id):
            with pytest.raises(AuthenticationFailed):
                complete_terms_acceptance(gone)
        with pytest.raises(ApprovalPending):
            complete_terms_acceptance(pat.id)
        assert complete_terms_acceptance(ada.id).terms_accepted_version == "2"
    assert [e[0] for e in recorder.events if e[0] in ("terms_accept", "login")] == ["terms_accept", "login"]
    assert _events(recorder, "login")[0][1:] == ("ada", "ada", "success", {"client": CLIENT, "provider": "password"})


# ---------------------------------------------------------------- lockout

def test_a_lockout_answers_423_with_the_seconds_left_and_records_the_name_typed(make_app):
    recorder = Recorder()
    app = make_app({"Password.LockoutThreshold": 2, "Password.LockoutDuration": "10m"}, plugins=[recorder])
    users_of(app).create("ada")
    typed = "ada" + "x" * 100
    with time_machine.travel(1_900_000_000, tick=False), _request(app):
        for _ in range(2):
            with pytest.raises(AuthenticationFailed):
                log_in_with_password(typed, "wrong-password-1")
        with pytest.raises(AccountLocked) as refused:
            log_in_with_password(typed, STRONG_PASSWORD)
        assert refused.value.retry_after == 600
        assert log_in_with_password("ada", STRONG_PASSWORD).username == "ada"  # another name, another count
    name = typed[:64]
    assert [e for e in recorder.events if e[0] in ("login_failed", "lockout")] == [
        ("login_failed", None, None, "failure", {"client": CLIENT, "username": name}),
        ("login_failed", None, None, "failure", {"client": CLIENT, "username": name}),
        ("lockout", None, None, "failure", {"client": CLIENT, "username": name}),
        ("login_failed", None, None, "failure", {"client": CLIENT, "username": name, "reason": "locked_out"})]


def test_a_password_login_starts_the_accounts_failure_count_over(make_app):
    app = make_app({"Password.LockoutThreshold": 3, "Password.LockoutDuration": "10m"})
    users_of(app).create("ada")
    with _request(app):
        for _ in range(2):
            for _ in range(2):  # a third failure in a row would lock
                with pytest.raises(AuthenticationFailed):
                    log_in_with_password("ada", "wrong-password-1")
            assert log_in_with_password("ada", STRONG_PASSWORD).username == "ada"


def test_a_login_starts_the_accounts_failure_count_over(make_app):
    app = make_app({"Password.LockoutThreshold": 3, "Password.LockoutDuration": "10m"})
    users_of(app).create("ada")
    ada_id = in_db(app, lambda: _get("ada").id)
    secret, recovery_codes = enable_for(app, "ada")
    with _request(app):
        for code in (code_for(secret, 1), recovery_codes[0]):
            for _ in range(2):
                with pytest.raises(AuthenticationFailed):
                    log_in_with_password("ada", "wrong-password-1")
            # a third failure would lock: the login in between starts the count over
            with pytest.raises(SecondFactorRequired):
                log_in_with_password("ada", STRONG_PASSWORD)
            assert complete_second_factor(ada_id, code).username == "ada"


# ---------------------------------------------------------------- redirect logins

def test_a_redirect_login_maps_checks_and_records_like_a_password_login(make_app):
    recorder = Recorder()
    app = make_app(plugins=[recorder])
    robot = Identity(provider="static", subject="robot-1", username="robot", email="robot@example.com")
    with _request(app):
        user = log_in_as_identity(robot)
        assert user.username == "robot" and user.provider == "static"
    assert _events(recorder, "login")[-1][1:] == ("robot", "robot", "success", {"client": CLIENT, "provider": "static"})
    secret, _ = enable_for(app, "robot")
    with _request(app):
        assert log_in_as_identity(robot).username == "robot"  # the provider's word is enough
        with pytest.raises(SecondFactorRequired) as asked:
            log_in_as_identity(robot, ask_second_factor=True)
        assert asked.value.user.username == "robot"
    assert len(_events(recorder, "login")) == 2
    in_db(app, lambda: User.update(locked=True).where(User.username == "robot").execute())
    with _request(app):
        with pytest.raises(AccountLocked):
            log_in_as_identity(robot)
    in_db(app, lambda: User.update(locked=False, status="rejected").where(User.username == "robot").execute())
    with _request(app):
        with pytest.raises(ApprovalRejected):
            log_in_as_identity(robot)


def test_a_redirect_login_asks_for_owed_terms(make_app):
    recorder = Recorder()
    app = make_app(TERMS, plugins=[recorder])
    with _request(app):
        with pytest.raises(TermsNotAccepted):
            log_in_as_identity(Identity(provider="static", subject="robot-1", username="robot",
                                        email="robot@example.com"))
    assert _events(recorder, "login") == []


def test_the_terms_step_starts_the_accounts_failure_count_over(make_app):
    app = make_app({**TERMS, "Password.LockoutThreshold": 3, "Password.LockoutDuration": "10m"})
    users_of(app).create("ada")
    ada_id = in_db(app, lambda: _get("ada").id)
    with _request(app):
        for _ in range(2):
            with pytest.raises(AuthenticationFailed):
                log_in_with_password("ada", "wrong-password-1")
        with pytest.raises(TermsNotAccepted):
            log_in_with_password("ada", STRONG_PASSWORD)
        assert complete_terms_acceptance(ada_id).username == "ada"
        for _ in range(2):  # two more: with the count not started over, the second would lock
            with pytest.raises(AuthenticationFailed):
                log_in_with_password("ada", "wrong-password-1")
        assert log_in_with_password("ada", STRONG_PASSWORD).username == "ada"
