"""Issue 18: two-factor codes pass only inside the window of one step either side of now,
only later than the last accepted step, only as six ASCII digits (spaces allowed; digits of
other scripts are a wrong code, never an error); recovery codes read as six groups of four,
pass in any case and spelling, up to 64 characters, once, and enabling replaces any left
behind; each has its own 128-bit salt; the secret is sealed for its person with the
documented purpose (a secret moved to another person gives no codes) and clear ones are
sealed once, with a log line; the messages and audit rows are the ones people read.
Written to kill the mutants mutmut found surviving in app/totp.py (docs/testing.md)."""
from __future__ import annotations

import hashlib
import logging
import re
import time

import pyotp
import pytest
import time_machine
from api_support import API, assert_error, bearer, in_db, login
from conftest import STRONG_PASSWORD, UserFactory
from totp_support import code_for, enable_for, wrong_code

from keystead import hookimpl, totp
from keystead.audit.models import AuditEvent
from keystead.encryption import SecretBox
from keystead.errors import Conflict, ValidationFailed
from keystead.models import User

TOTP = f"{API}/users/me/totp"


def _user(name: str) -> User:
    return User.get(User.username == name)


def _in(app, fn):
    """fn() in a request context with a database connection (the service functions' home)."""
    with app.test_request_context():
        with app.extensions["keystead.db"].connection_context():
            return fn()


def _api_login(client, otp):
    return client.post(f"{API}/auth/login", json={"username": "ada", "password": STRONG_PASSWORD, "otp": otp})


@pytest.fixture
def ada(users):
    return users.create("ada")[0]


# ---------------------------------------------------------------- the secret at rest

def test_the_secret_is_sealed_for_its_person_with_the_documented_purpose(app, ada):
    def begin():
        secret, _ = totp.begin_setup(_user("ada"))
        stored = totp.TotpSetup.get(totp.TotpSetup.user == ada.id).secret
        return secret, stored
    secret, stored = _in(app, begin)
    box = SecretBox(app.extensions["keystead.secret_key"], b"keystead totp secret")
    assert box.open(stored, f"totp:{ada.id}") == secret
    assert _in(app, lambda: totp.pending_secret(_user("ada"))) == secret
    _in(app, lambda: totp.confirm_setup(_user("ada"), code_for(secret)))
    assert _in(app, lambda: totp.pending_secret(_user("ada"))) is None


def test_the_box_is_made_once_per_app(app):
    with app.app_context():
        assert totp._box() is totp._box()


def test_a_sealed_secret_moved_to_another_person_gives_no_codes(app, client, users, ada, caplog):
    grace = users.create("grace")[0]
    ada_secret, _ = enable_for(app, "ada")
    enable_for(app, "grace")
    sealed_for_ada = in_db(app, lambda: totp.TotpSetup.get(totp.TotpSetup.user == ada.id).secret)
    in_db(app, lambda: totp.TotpSetup.update(secret=sealed_for_ada)
          .where(totp.TotpSetup.user == grace.id).execute())
    r = client.post(f"{API}/auth/login", json={"username": "grace", "password": STRONG_PASSWORD,
                                                "otp": code_for(ada_secret, 1)})
    assert_error(r, 401, "invalid_otp")
    warnings = [rec.getMessage() for rec in caplog.records if rec.levelno == logging.WARNING]
    assert warnings == [
        f"the two-factor secret of person id {grace.id} cannot be decrypted with the current "
        "Server.SecretKey (was the key changed?); their authenticator codes are refused "
        "until an administrator resets their two-factor authentication"]


def test_clear_secrets_are_sealed_once_and_the_count_is_logged(app, users, ada, caplog):
    grace = users.create("grace")[0]
    ada_secret, _ = enable_for(app, "ada")
    grace_secret, _ = enable_for(app, "grace")
    for person, secret in ((ada, ada_secret), (grace, grace_secret)):
        in_db(app, lambda: totp.TotpSetup.update(secret=secret).where(totp.TotpSetup.user == person.id).execute())
    caplog.set_level(logging.INFO, logger="keystead")
    assert _in(app, totp.seal_clear_secrets) == 2
    assert [rec.getMessage() for rec in caplog.records if "two-factor" in rec.getMessage()] == [
        "encrypted 2 two-factor secret(s) stored in clear by an older release"]
    caplog.clear()
    assert _in(app, totp.seal_clear_secrets) == 0
    assert not [rec for rec in caplog.records if "two-factor" in rec.getMessage()]
    box = SecretBox(app.extensions["keystead.secret_key"], b"keystead totp secret")
    for person, secret in ((ada, ada_secret), (grace, grace_secret)):
        stored = in_db(app, lambda: totp.TotpSetup.get(totp.TotpSetup.user == person.id).secret)
        assert box.open(stored, f"totp:{person.id}") == secret


def test_a_clear_secret_is_sealed_only_where_it_is_still_that_clear_secret(app, ada):
    secret, _ = enable_for(app, "ada")
    in_db(app, lambda: totp.TotpSetup.update(secret=secret).where(totp.TotpSetup.user == ada.id).execute())
    row = in_db(app, lambda: totp.TotpSetup.get(totp.TotpSetup.user == ada.id))
    assert _in(app, lambda: totp._seal_row(row.id, ada.id, "ANOTHERCLEARSECRET")) is False
    assert in_db(app, lambda: totp.TotpSetup.get_by_id(row.id).secret) == secret
    assert _in(app, lambda: totp._seal_row(row.id, ada.id, secret)) is True
    assert in_db(app, lambda: totp.TotpSetup.get_by_id(row.id).secret) != secret


# ---------------------------------------------------------------- TOTP codes

def test_codes_pass_one_step_either_side_of_now_and_only_later_than_the_last(app, ada):
    step = 30
    with time_machine.travel(int(time.time()) // step * step + 10, tick=False) as clock:
        now = time.time()
        totp_of = None

        def begin():
            return totp.begin_setup(_user("ada"))[0]
        secret = _in(app, begin)
        totp_of = pyotp.TOTP(secret)
        clock.move_to(now - 10 * step)
        _in(app, lambda: totp.confirm_setup(_user("ada"), totp_of.at(now - 10 * step)))
        clock.move_to(now)

        def check(offset_steps):
            return _in(app, lambda: totp.check_second_factor(_user("ada"), totp_of.at(now + offset_steps * step)))
        assert not check(-2)
        assert not check(2)
        assert check(-1)
        assert check(1)
        assert not check(0)  # older than the last accepted step
        assert not check(1)  # that step again


def test_a_code_is_read_without_its_spaces_tabs_and_line_breaks(app, ada):
    secret, _ = enable_for(app, "ada")
    code = code_for(secret, 1)
    spaced = f"  {code[:3]} {code[3:]}  "
    assert _in(app, lambda: totp.check_second_factor(_user("ada"), spaced))
    assert totp._accept_code(None, 123456) is False  # no string: refused before the row is read
    with time_machine.travel(time.time() + 2 * 30, tick=False):
        pasted = f"\t{code_for(secret)}\n"
        assert _in(app, lambda: totp.check_second_factor(_user("ada"), pasted))


def test_a_clear_secret_met_at_its_first_use_is_sealed_for_its_person_and_keeps_working(app, client, ada):
    secret, _ = enable_for(app, "ada")
    in_db(app, lambda: totp.TotpSetup.update(secret=secret).where(totp.TotpSetup.user == ada.id).execute())
    assert _api_login(client, code_for(secret, 1)).status_code == 200
    stored = in_db(app, lambda: totp.TotpSetup.get(totp.TotpSetup.user == ada.id).secret)
    box = SecretBox(app.extensions["keystead.secret_key"], b"keystead totp secret")
    assert box.open(stored, f"totp:{ada.id}") == secret
    with time_machine.travel(time.time() + 2 * 30, tick=False):
        assert _api_login(client, code_for(secret)).status_code == 200


@pytest.mark.parametrize("otp", ["١٢٣٤٥٦", "１２３４５６", "12345६"])
def test_digits_of_other_scripts_are_a_wrong_code_not_an_error(app, client, ada, otp):
    enable_for(app, "ada")
    assert_error(_api_login(client, otp), 401, "invalid_otp")


def test_a_code_that_is_no_string_is_refused_not_an_error(app, ada):
    def begin():
        return totp.begin_setup(_user("ada"))[0]
    secret = _in(app, begin)
    with pytest.raises(ValidationFailed):
        _in(app, lambda: totp.confirm_setup(_user("ada"), int(code_for(secret))))
    _in(app, lambda: totp.confirm_setup(_user("ada"), code_for(secret)))
    for code in (int(code_for(secret, 1)), None, ["123456"]):
        assert not _in(app, lambda: totp.check_second_factor(_user("ada"), code))


def test_no_code_passes_for_a_person_without_two_factor(app, ada):
    def begin():
        return totp.begin_setup(_user("ada"))[0]
    secret = _in(app, begin)  # begun, not confirmed
    assert not _in(app, lambda: totp.check_second_factor(_user("ada"), code_for(secret)))


# ---------------------------------------------------------------- recovery codes

def test_recovery_codes_read_as_six_groups_of_four(app, ada):
    _, codes = enable_for(app, "ada")
    for code in codes:
        assert re.fullmatch(r"[a-z2-7]{4}(-[a-z2-7]{4}){5}", code), code


def test_a_recovery_code_passes_in_any_case_and_spelling_once(app, client, ada):
    _, codes = enable_for(app, "ada")
    spellings = [codes[0].upper(), codes[1].replace("-", ""), codes[2].replace("-", " "),
                 f"  {codes[3]}  ", codes[4].replace("-", "").upper()]
    for spelled in spellings:
        assert _api_login(client, spelled).status_code == 200, spelled
        assert_error(_api_login(client, spelled), 401, "invalid_otp")
    assert _in(app, lambda: totp.recovery_codes_left(_user("ada"))) == 5


def test_a_code_of_64_characters_is_read_and_a_longer_one_is_not(app, ada):
    _, codes = enable_for(app, "ada")
    padded = codes[0].ljust(64)
    assert not _in(app, lambda: totp.check_second_factor(_user("ada"), padded + " "))
    assert _in(app, lambda: totp.check_second_factor(_user("ada"), padded))


@pytest.mark.parametrize("blank", ["", "   ", "\t"])
def test_a_blank_code_is_refused(app, ada, blank):
    enable_for(app, "ada")
    assert not _in(app, lambda: totp.check_second_factor(_user("ada"), blank))


def test_each_recovery_code_has_its_own_128_bit_salt(app, ada):
    enable_for(app, "ada")
    salts = in_db(app, lambda: [r.salt for r in totp.RecoveryCode.select()])
    assert len(salts) == 10 and len(set(salts)) == 10
    for salt in salts:
        assert re.fullmatch(r"[0-9a-f]{32}", salt)


def test_enabling_replaces_recovery_codes_left_behind(app, client, ada):
    """Codes an older release left after turning two-factor off never work again."""
    left = "left-behind-code"
    in_db(app, lambda: totp.RecoveryCode.create(
        user=ada.id, digest=hashlib.sha256(left.replace("-", "").encode()).hexdigest()))
    _, codes = enable_for(app, "ada")
    assert _in(app, lambda: totp.recovery_codes_left(_user("ada"))) == 10
    assert not _in(app, lambda: totp.has_weak_recovery_codes(_user("ada")))
    assert_error(_api_login(client, left), 401, "invalid_otp")


def test_older_40_bit_codes_pass_once_and_are_counted_as_weak(app, client, ada):
    _, codes = enable_for(app, "ada")
    old = ["1a2b3-c4d5e", "99f00-0ab12"]
    for code in old:
        in_db(app, lambda: totp.RecoveryCode.create(
            user=ada.id, digest=hashlib.sha256(code.replace("-", "").encode()).hexdigest()))
    assert _in(app, lambda: totp.has_weak_recovery_codes(_user("ada")))
    assert _in(app, lambda: totp.recovery_codes_left(_user("ada"))) == 12
    assert _api_login(client, old[0].upper()).status_code == 200
    assert_error(_api_login(client, old[0]), 401, "invalid_otp")
    assert _in(app, lambda: totp.has_weak_recovery_codes(_user("ada")))
    assert _api_login(client, old[1]).status_code == 200
    assert not _in(app, lambda: totp.has_weak_recovery_codes(_user("ada")))
    assert _in(app, lambda: totp.recovery_codes_left(_user("ada"))) == 10


# ---------------------------------------------------------------- set-up, messages, audit

def test_restarting_the_set_up_gives_a_new_secret_and_only_it_confirms(app, client, ada):
    token = login(client, "ada")["access_token"]
    first = client.post(TOTP, json={"password": STRONG_PASSWORD}, headers=bearer(token)).get_json()["secret"]
    second = client.post(TOTP, json={"password": STRONG_PASSWORD}, headers=bearer(token)).get_json()["secret"]
    assert first != second
    assert in_db(app, lambda: totp.TotpSetup.select().count()) == 1
    if code_for(first) != code_for(second):
        r = client.post(f"{TOTP}/confirm", json={"code": code_for(first)}, headers=bearer(token))
        assert_error(r, 422, "validation_failed")
    r = client.post(f"{TOTP}/confirm", json={"code": code_for(second)}, headers=bearer(token))
    assert r.status_code == 200


def test_the_messages_people_read(app, client, ada):
    token = login(client, "ada")["access_token"]
    h = bearer(token)
    e = assert_error(client.post(f"{TOTP}/confirm", json={"code": "123456"}, headers=h), 409, "totp_not_started")
    assert e["message"] == "Start the set-up first."
    e = assert_error(client.delete(TOTP, json={"password": STRONG_PASSWORD, "code": "123456"}, headers=h),
                     409, "totp_not_enabled")
    assert e["message"] == "Two-factor authentication is not on."
    secret = client.post(TOTP, json={"password": STRONG_PASSWORD}, headers=h).get_json()["secret"]
    e = assert_error(client.post(f"{TOTP}/confirm", json={"code": wrong_code(secret)}, headers=h), 422)
    assert e["fields"] == {"code": "The code is not correct. Check your device's clock and try again."}
    assert client.post(f"{TOTP}/confirm", json={"code": code_for(secret)}, headers=h).status_code == 200
    e = assert_error(client.post(TOTP, json={"password": STRONG_PASSWORD}, headers=h), 409, "totp_enabled")
    assert e["message"] == "Two-factor authentication is already on; turn it off first."
    e = assert_error(client.delete(TOTP, json={"password": STRONG_PASSWORD, "code": wrong_code(secret)},
                                   headers=h), 422)
    assert e["fields"] == {"code": "The code is not correct."}


class EventRecorder:
    """A plugin that keeps every event as plugins receive it."""
    def __init__(self):
        self.events = []

    @hookimpl
    def keystead_event(self, event, actor, target, outcome, details):
        self.events.append((event, actor.username if actor else None, target.username if target else None,
                            outcome, details))


def test_enabling_turning_off_and_resetting_reach_plugins_and_the_audit_with_who_did_it(make_app):
    recorder = EventRecorder()
    app = make_app(plugins=[recorder])
    users = UserFactory(app)
    users.create("ada")
    users.create("boss", role="administrator")
    totp_events = lambda: [e for e in recorder.events if e[0].startswith("totp")]  # noqa: E731
    secret, _ = enable_for(app, "ada")
    _in(app, lambda: totp.disable(_user("ada"), code_for(secret, 1)))
    secret, _ = enable_for(app, "ada")
    _in(app, lambda: totp.disable(_user("ada"), code_for(secret, 1), actor=_user("boss")))
    enable_for(app, "ada")
    _in(app, lambda: totp.reset_by_administrator(_user("ada"), _user("boss")))
    assert totp_events() == [
        ("totp_enable", "ada", "ada", "success", {}), ("totp_disable", "ada", "ada", "success", {}),
        ("totp_enable", "ada", "ada", "success", {}), ("totp_disable", "boss", "ada", "success", {}),
        ("totp_enable", "ada", "ada", "success", {}), ("totp_reset", "boss", "ada", "success", {})]
    audited = in_db(app, lambda: [(e.event, e.actor_name, e.target_name, e.outcome) for e in
                                  AuditEvent.select().where(AuditEvent.event.startswith("totp"))
                                  .order_by(AuditEvent.id)])
    assert audited == [e[:4] for e in totp_events()]
    assert not _in(app, lambda: totp.totp_enabled(_user("ada")))
    with pytest.raises(Conflict):
        _in(app, lambda: totp.disable(_user("ada"), "123456"))


def test_one_persons_codes_and_set_up_never_touch_anothers(app, users, ada):
    """ada, grace (two-factor on, with an older 40-bit code too) and hedy (set-up begun)."""
    users.create("grace")
    users.create("hedy")
    grace_secret, grace_codes = enable_for(app, "grace")
    weak = "1a2b3-c4d5e"
    in_db(app, lambda: totp.RecoveryCode.create(user=_user("grace").id,
                                                digest=hashlib.sha256(weak.replace("-", "").encode()).hexdigest()))

    def begin_hedy():
        return totp.begin_setup(_user("hedy"))[0]
    hedy_secret = _in(app, begin_hedy)

    def ada_sees_nothing():
        ada_now = _user("ada")
        assert not totp.totp_enabled(ada_now)
        assert totp.pending_secret(ada_now) is None
        assert not totp.has_weak_recovery_codes(ada_now)
        assert totp.recovery_codes_left(ada_now) == 0
        for code in (code_for(grace_secret, 1), grace_codes[0], weak, code_for(hedy_secret)):
            assert not totp.check_second_factor(ada_now, code)
    _in(app, ada_sees_nothing)

    ada_secret, ada_codes = enable_for(app, "ada")

    def neither_uses_the_others():
        assert not totp.has_weak_recovery_codes(_user("ada"))
        assert not totp.check_second_factor(_user("grace"), ada_codes[0])
        assert not totp.check_second_factor(_user("ada"), grace_codes[0])
        assert not totp.check_second_factor(_user("ada"), weak)
        assert totp.recovery_codes_left(_user("ada")) == 10
        assert totp.recovery_codes_left(_user("grace")) == 11
        assert totp.pending_secret(_user("ada")) is None
        assert totp.pending_secret(_user("hedy")) == hedy_secret
        assert not totp.totp_enabled(_user("hedy"))
        assert totp.check_second_factor(_user("ada"), code_for(ada_secret, 1))  # moves only ada's last step
        totp.disable(_user("ada"), ada_codes[1])
    _in(app, neither_uses_the_others)

    def the_others_go_on():
        assert totp.totp_enabled(_user("grace")) and totp.recovery_codes_left(_user("grace")) == 11
        assert totp.has_weak_recovery_codes(_user("grace"))
        assert totp.pending_secret(_user("hedy")) == hedy_secret
        assert totp.check_second_factor(_user("grace"), grace_codes[0])
        assert totp.check_second_factor(_user("grace"), code_for(grace_secret, 1))
    _in(app, the_others_go_on)


def test_the_qr_code_draws_the_data_given_in_8_pixel_modules():
    import qrcode
    data = "otpauth://totp/Keystead:ada?secret=ABCDEFGHIJKLMNOP&issuer=Keystead"
    svg = totp.qr_svg(data)
    assert svg != totp.qr_svg(data.replace("ada", "bob"))
    made = qrcode.QRCode(border=4)
    made.add_data(data)
    made.make(fit=True)
    side = (made.modules_count + 2 * 4) * 8 / 10  # millimetres: 8 pixels of 0.1 mm a module
    assert f'width="{side:g}mm" height="{side:g}mm"' in svg
