"""A real Chromium (Playwright) turns two-factor authentication on from /profile, reading
the secret the page shows and computing a code with pyotp as an authenticator app would,
then logs out and back in with the password and a code. The pages (an inline SVG QR code
among them) must keep to the Content-Security-Policy."""
from __future__ import annotations

import pytest
from conftest import STRONG_PASSWORD, UserFactory
from live import browser, live_server, make_live_server, watch_policy_violations  # noqa: F401  (pytest fixtures)
from totp_support import code_for


@pytest.mark.browser
def test_enable_two_factor_and_log_in_with_a_code(browser, live_server):  # noqa: F811
    UserFactory(live_server.app).create("ada", first_name="Ada")
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15000)
    violations = watch_policy_violations(page)

    page.goto(live_server("/login"))
    page.get_by_label("Username or email").fill("ada")
    page.get_by_label("Password").fill(STRONG_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(live_server("/profile"))

    # From the profile to the set-up: the QR code and the secret as text.
    page.get_by_role("link", name="Set up two-factor authentication").click()
    page.wait_for_url(live_server("/profile/two-factor"))
    page.get_by_role("button", name="Set up two-factor authentication").click()
    page.wait_for_url(live_server("/profile/two-factor/setup"))
    qr = page.get_by_role("img", name="QR code for Keystead (ada)")
    assert qr.is_visible()
    assert qr.bounding_box()["width"] > 150  # sized by the stylesheet, large enough to scan
    secret = page.locator("#totp-secret").inner_text().strip()
    assert len(secret) >= 16

    page.get_by_label("Code", exact=True).fill(code_for(secret))
    page.get_by_role("button", name="Turn on two-factor authentication").click()
    assert page.get_by_role("heading", name="Your recovery codes").is_visible()
    assert page.locator("#recovery-codes li").count() == 10
    page.get_by_role("link", name="I have saved them").click()
    page.wait_for_url(live_server("/profile/two-factor"))
    assert page.get_by_role("heading", name="It is on").is_visible()

    # Log out; the password alone no longer logs in: a code is asked on a second step.
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(live_server("/login"))
    page.get_by_label("Username or email").fill("ada")
    page.get_by_label("Password").fill(STRONG_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(live_server("/login/two-factor"))
    page.goto(live_server("/profile"))  # not logged in yet
    assert page.url.startswith(live_server("/login?next="))
    page.go_back()
    page.wait_for_url(live_server("/login/two-factor"))

    page.get_by_label("Code", exact=True).fill(code_for(secret, 1))
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(live_server("/profile"))
    assert page.get_by_role("heading", name="Ada", exact=True).is_visible()
    assert page.get_by_text("On: logging in asks for a code from your authenticator app.").is_visible()

    assert violations == []
    context.close()
