"""Issue 18: the password checks do the work they claim. A failed login of an unknown name,
or of an account without a password, still costs one bcrypt check at the configured cost
(counted through the real bcrypt, not timed); an account of another provider never logs
in with a password hash stored here; the rules' messages are the ones people read; and
the prehash keeps every password (lone surrogates included) usable. Written to kill the
mutants mutmut found surviving in app/passwords.py (docs/testing.md)."""
from __future__ import annotations

import bcrypt
import pytest
from api_support import API, in_db, users_of
from plugins import static_provider
from zxcvbn import zxcvbn

from keystead import passwords
from keystead.models import User

ROUNDS = 5  # not the suite's 4, so a check at a default or wrong cost shows


@pytest.fixture
def bcrypt_checks(monkeypatch):
    """Every bcrypt.checkpw made, as the cost of the hash it was checked against (the call
    goes through to the real bcrypt)."""
    costs: list[int] = []
    real = bcrypt.checkpw

    def counting(password: bytes, hashed: bytes) -> bool:
        costs.append(int(hashed.split(b"$")[2]))
        return real(password, hashed)
    monkeypatch.setattr(bcrypt, "checkpw", counting)
    return costs


@pytest.fixture
def costly_app(make_app):
    app = make_app({"Password.BcryptRounds": ROUNDS})
    users_of(app).create("ada")
    users_of(app).create("nopass", password=None)  # invited, no password set yet
    return app


@pytest.mark.parametrize("name", ["nobody-at-all", "nopass", "ada"])
def test_every_failed_login_costs_one_bcrypt_check_at_the_configured_cost(costly_app, bcrypt_checks, name):
    r = costly_app.test_client().post(f"{API}/auth/login", json={"username": name, "password": "wrong-password-1"})
    assert r.status_code == 401
    assert bcrypt_checks == [ROUNDS]


def test_checking_against_no_hash_runs_bcrypt_on_a_dummy_hash_of_the_same_cost(bcrypt_checks):
    assert passwords.check_password("anything", None, ROUNDS) is False
    assert passwords.check_password("anything", "", 6) is False
    assert bcrypt_checks == [ROUNDS, 6]


def test_a_corrupt_stored_hash_never_matches():
    assert passwords.check_password("anything", "not-a-bcrypt-hash", 4) is False


def test_a_password_that_is_not_text_is_checked_as_no_password_and_never_matches():
    hashed = passwords.hash_password("correct-horse-battery", 4)
    assert passwords.check_password(None, hashed, 4) is False
    assert passwords.check_password(12345678, hashed, 4) is False


def test_a_password_with_a_lone_surrogate_hashes_and_checks():
    """JSON can carry a lone surrogate ("\\ud800"); it is hashed, never a 500."""
    odd = "abc\ud800def-long-enough"
    hashed = passwords.hash_password(odd, 4)
    assert passwords.check_password(odd, hashed, 4)
    assert not passwords.check_password("abc\ud801def-long-enough", hashed, 4)


def test_an_account_of_another_provider_never_logs_in_with_a_password_hash_kept_here(make_app):
    """Even a hash left in its row (from before the account moved to the outside provider)
    does not let the password provider log it in."""
    app = make_app({"Authentication.Provider": ["password", "static"]}, plugins=[static_provider])
    client = app.test_client()
    assert client.post(f"{API}/auth/login", json={"username": "robot", "password": "beep-boop-1234"}).status_code == 200
    from keystead.accounts import hash_new_password
    robot = in_db(app, lambda: User.get(User.email == "robot@example.com"))
    assert robot.provider == "static"
    in_db(app, lambda: User.update(password_hash=hash_new_password("Local-Password-123"))
          .where(User.id == robot.id).execute())
    for name in (robot.username, "robot@example.com"):
        r = app.test_client().post(f"{API}/auth/login", json={"username": name, "password": "Local-Password-123"})
        assert r.status_code == 401, name


def test_fingerprints_tell_hashes_apart_and_cover_no_hash():
    one, two = passwords.hash_password("first-password", 4), passwords.hash_password("second-password", 4)
    assert passwords.fingerprint(one) != passwords.fingerprint(two)
    assert passwords.fingerprint(None) == passwords.fingerprint("") != passwords.fingerprint(one)
    assert len(passwords.fingerprint(one)) == 32


RULES = {"minimum_length": 10, "minimum_score": 0, "reject_common": False}


def test_the_rules_say_what_is_wrong_in_the_words_people_read():
    assert passwords.password_problem("", **RULES) == "Enter a password."
    assert passwords.password_problem(None, **RULES) == "Enter a password."
    assert passwords.password_problem("long-enough\x00pass", **RULES) == "A password cannot contain the NUL character."
    assert passwords.password_problem("password123", **{**RULES, "reject_common": True}) == (
        "This password is too common; choose one that is harder to guess.")


def test_a_password_of_exactly_the_minimum_length_is_long_enough():
    assert passwords.password_problem("x7#kq9@vlm", **RULES) is None
    assert passwords.password_problem("x7#kq9@vl", **RULES) == "Use at least 10 characters."


def test_a_minimum_score_of_one_refuses_a_password_of_score_zero():
    assert zxcvbn("aaaaaaaaaa")["score"] == 0
    assert passwords.password_problem("aaaaaaaaaa", **{**RULES, "minimum_score": 1})
    assert passwords.password_problem("aaaaaaaaaa", **RULES) is None


@pytest.mark.parametrize("weak", ["aaaaaaaaaa", "Correcthorse"])
def test_a_weak_password_is_refused_with_zxcvbns_warning_or_else_its_suggestions(weak):
    feedback = zxcvbn(weak)["feedback"]
    hint = feedback["warning"] or " ".join(feedback["suggestions"])
    assert hint  # the two cases: a warning ("aaa..."), only suggestions, two of them ("Correcthorse")
    assert feedback["warning"] or len(feedback["suggestions"]) == 2
    assert bool(feedback["warning"]) == (weak == "aaaaaaaaaa")
    assert passwords.password_problem(weak, **{**RULES, "minimum_score": 4}) == (
        f"This password is too easy to guess. {hint}")
