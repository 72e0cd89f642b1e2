"""Account rules (SPEC 4) as the plain functions every entry point calls."""
import secrets

import bcrypt
import pytest

from keystead import accounts, passwords
from keystead.errors import Conflict, ValidationFailed
from keystead.models import User

RULES = dict(minimum_length=8, minimum_score=0, reject_common=True)


@pytest.mark.parametrize("name", ["ada", "Ada.Lovelace", "a_1", "Zoë", "x" * 64, "ｆｕｌｌwidth"])
def test_valid_usernames(name):
    assert accounts.username_problem(name) is None


@pytest.mark.parametrize("name, why", [
    ("ab", "3 to 64"), ("x" * 65, "3 to 64"), ("1abc", "Start with a letter"), ("_abc", "Start with a letter"),
    ("ab-c", "only letters"), ("ab c", "only letters"), ("ab@c", "only letters"), ("", "Enter"),
    (None, "Enter"), (42, "Enter"),
    ("login", "reserved"), ("Settings", "reserved"), ("RESETPASSWORD", "reserved"), ("ｌｏｇｉｎ", "reserved"),
])
def test_invalid_usernames(name, why):
    problem = accounts.username_problem(name)
    assert problem and why in problem


def test_every_reserved_name_of_the_spec_is_refused():
    spec = ("connect apps users groups setpassword user-completion confirm recent reports plots "
            "unpublished settings metrics tokens help login welcome register resetpassword content").split()
    assert set(spec) == accounts.RESERVED_USERNAMES


def test_usernames_compare_after_nfkc_and_case_folding():
    assert accounts.normalise("ＡＤＡ") == accounts.normalise("ada") == "ada"
    assert accounts.normalise("Straße") == accounts.normalise("STRASSE")


@pytest.mark.parametrize("email", ["a@example.com", "First.Last+tag@Example.ORG"])
def test_valid_emails(email):
    assert "@" in accounts.clean_email(email)


@pytest.mark.parametrize("email", ["", "plain", "a@", "@b.com", "a@b", "a b@c.com", "x" * 330 + "@e.com"])
def test_invalid_emails(email):
    with pytest.raises(ValueError):
        accounts.clean_email(email)


def test_password_length_counts_code_points():
    assert passwords.password_problem("ééééééé", **RULES)  # 7 characters, 14 bytes
    assert passwords.password_problem("éééééééé" + "ü", **RULES) is None
    assert "at most 1024" in passwords.password_problem("a" * 1025, **RULES)
    assert passwords.password_problem("Zq" * 512, **RULES) is None


def test_common_passwords_are_refused_even_at_score_0():
    assert "common" in passwords.password_problem("password1", **RULES)
    assert "common" in passwords.password_problem("Qwertyuiop", **RULES)
    assert passwords.password_problem("password1", **{**RULES, "reject_common": False}) is None


def test_nul_is_refused_consistently():
    assert "NUL" in passwords.password_problem("abc\x00defghij", **RULES)


def test_minimum_score_uses_the_persons_own_data():
    rules = {**RULES, "minimum_score": 3}
    strong_alone = "gordonfreemanhl2"
    assert passwords.password_problem(strong_alone, **rules) is None
    assert passwords.password_problem(strong_alone, **rules, user_inputs=["gordonfreemanhl2"])


def test_a_1024_character_password_is_judged_without_error():
    # zxcvbn raises past its max_length and slows fast with length: it sees 100 characters.
    strong = secrets.token_urlsafe(800)[:1024]
    assert len(strong) == 1024
    assert passwords.password_problem(strong, **{**RULES, "minimum_score": 4}) is None
    weak_start = "aaaaaaaaaa" * 10 + strong[:924]
    assert passwords.password_problem(weak_start, **{**RULES, "minimum_score": 4})


def test_hash_uses_bcrypt_at_the_configured_cost():
    hashed = passwords.hash_password("correct horse", 5)
    assert hashed.startswith("$2b$05$")
    assert passwords.check_password("correct horse", hashed, 5)
    assert not passwords.check_password("correct horsE", hashed, 5)


def test_every_byte_counts_beyond_72():
    base = "x" * 100
    hashed = passwords.hash_password(base + "A", 4)
    assert passwords.check_password(base + "A", hashed, 4)
    assert not passwords.check_password(base + "B", hashed, 4)
    assert not passwords.check_password(base, hashed, 4)
    # The raw password never reaches bcrypt: bcrypt itself does not accept it.
    assert not bcrypt.checkpw((base + "A").encode()[:72], hashed.encode())


def test_unknown_user_still_costs_a_bcrypt_check():
    assert passwords.check_password("anything", None, 4) is False


def _create(app, *args, **kw):
    with app.app_context(), app.extensions["keystead.db"].connection_context():
        return accounts.create_user(*args, **kw)


def test_create_user_reports_every_problem_at_once(app):
    with pytest.raises(ValidationFailed) as e:
        _create(app, "1x", "not-an-email", "short")
    assert set(e.value.fields) == {"username", "email", "password"}
    with app.app_context(), app.extensions["keystead.db"].connection_context():
        assert User.select().count() == 0


def test_usernames_and_emails_are_unique_case_insensitively(app):
    _create(app, "Grace", "grace@example.com", "a-long-passphrase-1")
    with pytest.raises(Conflict) as e:
        _create(app, "ｇｒａｃｅ", "other@example.com", "a-long-passphrase-1")
    assert "username" in e.value.fields
    with pytest.raises(Conflict) as e:
        _create(app, "hopper", "GRACE@example.com", "a-long-passphrase-1")
    assert "email" in e.value.fields


def test_the_database_enforces_uniqueness_of_the_normalised_name(app):
    from peewee import IntegrityError
    _create(app, "grace", "g@example.com", None)
    with app.app_context(), app.extensions["keystead.db"].connection_context():
        with pytest.raises(IntegrityError):
            User.create(username="GRACE", username_key="grace")


def test_minimum_length_and_score_settings_apply_to_new_passwords(make_app):
    app = make_app({"Password.MinimumLength": 12, "Password.MinimumScore": 4})
    with pytest.raises(ValidationFailed) as e:
        _create(app, "ada", "ada@example.com", "elevenchars")
    assert "12" in e.value.fields["password"]
    with pytest.raises(ValidationFailed) as e:
        _create(app, "ada", "ada@example.com", "ada@example.com1")
    assert "guess" in e.value.fields["password"]
    assert _create(app, "ada", "ada@example.com", "vR7#kq-Lp2!wZ9xe-TbN4").username == "ada"


def test_roles_are_checked(app):
    with pytest.raises(ValidationFailed) as e:
        _create(app, "ada", "ada@example.com", None, role="superuser")
    assert "role" in e.value.fields
