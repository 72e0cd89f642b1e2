"""Two-factor authentication (SPEC 9): set-up confirmed by a code, recovery codes shown
once and stored hashed, no code accepted twice, wrong codes count toward lockout."""
import time

import pyotp
import pytest

from keystead import totp
from keystead.errors import AccountLocked, AuthenticationFailed, Conflict, ValidationFailed
from keystead.login import SecondFactorRequired, WrongSecondFactor, complete_second_factor, log_in_with_password
from conftest import UserFactory


def code_for(secret, offset_steps=0):
    t = pyotp.TOTP(secret)
    return t.at(time.time() + offset_steps * t.interval)


def enable(app, user):
    with app.test_request_context():
        secret, url = totp.begin_setup(user)
        codes = totp.confirm_setup(user, code_for(secret))
    return secret, codes


def test_setup_needs_a_correct_code_and_gives_ten_hashed_recovery_codes(app, users):
    user, _ = users.create("ada")
    with app.test_request_context():
        secret, url = totp.begin_setup(user)
        assert url.startswith("otpauth://totp/Keystead:ada?") and f"secret={secret}" in url
        assert not totp.totp_enabled(user)
        with pytest.raises(ValidationFailed):
            totp.confirm_setup(user, "000000" if code_for(secret) != "000000" else "111111")
        codes = totp.confirm_setup(user, code_for(secret))
        assert totp.totp_enabled(user) and len(codes) == 10 and len(set(codes)) == 10
        stored = [r.digest for r in totp.RecoveryCode.select()]
        assert not any(c in stored or c.replace("-", "") in stored for c in codes)


def test_qr_code_is_an_svg_without_script(app):
    svg = totp.qr_svg("otpauth://totp/Keystead:ada?secret=ABC")
    assert svg.startswith("<svg") and "<script" not in svg


def test_login_asks_for_the_code_and_accepts_it_once(app, users):
    user, password = users.create("ada")
    secret, _ = enable(app, user)
    with app.test_request_context():
        with pytest.raises(SecondFactorRequired):
            log_in_with_password("ada", password)
        code = code_for(secret, 1)  # the next step: the set-up used the current one
        assert log_in_with_password("ada", password, otp=code).username == "ada"
        with pytest.raises(WrongSecondFactor):
            log_in_with_password("ada", password, otp=code)  # replayed


def test_wrong_password_is_refused_before_any_code_is_asked(app, users):
    user, _ = users.create("ada")
    enable(app, user)
    with app.test_request_context():
        with pytest.raises(AuthenticationFailed):
            log_in_with_password("ada", "not-the-password", otp="123456")


def test_recovery_codes_work_once_each(app, users):
    user, password = users.create("ada")
    _, codes = enable(app, user)
    with app.test_request_context():
        assert log_in_with_password("ada", password, otp=codes[0].upper()).username == "ada"
        with pytest.raises(WrongSecondFactor):
            log_in_with_password("ada", password, otp=codes[0])
        assert totp.recovery_codes_left(user) == 9


def test_wrong_codes_count_toward_the_lockout(make_app):
    app = make_app({"Password.LockoutThreshold": 3})
    user, password = UserFactory(app).create("ada")
    secret, _ = enable(app, user)
    with app.test_request_context():
        for _ in range(3):
            with pytest.raises(WrongSecondFactor):
                complete_second_factor(user.id, "999999" if code_for(secret, 1) != "999999" else "888888")
        with pytest.raises(AccountLocked):
            log_in_with_password("ada", password, otp=code_for(secret, 1))


def test_disable_needs_a_code_and_admin_reset_clears_it(app, users):
    admin, _ = users.create("boss", role="administrator")
    user, password = users.create("ada")
    secret, _ = enable(app, user)
    with app.test_request_context():
        with pytest.raises(ValidationFailed):
            totp.disable(user, "not-a-code")
        totp.disable(user, code_for(secret, 1))
        assert not totp.totp_enabled(user)
        with pytest.raises(Conflict):
            totp.disable(user, code_for(secret, 1))
    secret, _ = enable(app, user)
    with app.test_request_context():
        totp.reset_by_administrator(user, admin)
        assert not totp.totp_enabled(user) and totp.recovery_codes_left(user) == 0
        assert log_in_with_password("ada", password).username == "ada"


def test_setup_cannot_restart_while_enabled(app, users):
    user, _ = users.create("ada")
    enable(app, user)
    with app.test_request_context():
        with pytest.raises(Conflict):
            totp.begin_setup(user)




def test_an_administrator_resets_two_factor_from_the_api_and_the_page(app, client, users, auth):
    from api_support import bearer, login
    from conftest import post_form
    users.create("boss", role="administrator")
    person, password = users.create("ada")
    enable(app, person)
    admin_token = login(client, "boss")["access_token"]
    admin_headers = bearer(admin_token)
    assert client.delete(f"/api/v1/users/{person.id}/totp", headers=admin_headers).status_code == 204
    with app.test_request_context():
        assert not totp.totp_enabled(person)
        assert log_in_with_password("ada", password).username == "ada"
    enable(app, person)
    auth.login("boss")
    page = client.get(f"/admin/people/{person.id}").get_data(as_text=True)
    assert "Reset two-factor authentication" in page
    r = post_form(client, f"/admin/people/{person.id}/two-factor", {}, page=f"/admin/people/{person.id}")
    assert r.status_code in (302, 303)
    with app.test_request_context():
        assert not totp.totp_enabled(person)
    assert "Reset two-factor" not in client.get(f"/admin/people/{person.id}").get_data(as_text=True)


def test_only_administrators_reset_two_factor(client, users):
    from api_support import assert_error, bearer, login
    users.create("boss", role="administrator")
    person, _ = users.create("ada")
    token = login(client, "ada")["access_token"]
    assert_error(client.delete(f"/api/v1/users/{person.id}/totp", headers=bearer(token)), 403)
    assert_error(client.delete(f"/api/v1/users/{person.id}/totp"), 401)
