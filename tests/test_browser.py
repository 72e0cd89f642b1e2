"""A real Chromium (Debian's, driven by Playwright) against a real Keystead over HTTP:
sign up, log out, a refused login, a login. It also checks the pages keep to the
Content-Security-Policy (no inline script or style), which only a browser can tell."""
from __future__ import annotations

import pytest
from live import browser, live_server, make_live_server, watch_policy_violations  # noqa: F401  (pytest fixtures)

PASSWORD = "granite-otter-lantern-vivid-31"


@pytest.mark.browser
def test_sign_up_log_out_fail_and_log_in(browser, live_server):  # noqa: F811
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15000)
    violations = watch_policy_violations(page)

    # Sign up: the first account, logged in at once.
    page.goto(live_server("/register"))
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("First name (optional)").fill("Ada")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat the password").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url(live_server("/profile"))
    assert page.get_by_role("heading", name="Ada", exact=True).is_visible()
    assert page.get_by_text("Welcome, ada. Your account is ready.").is_visible()
    assert page.get_by_text("administrator", exact=True).is_visible()

    # The stylesheet is applied (served, and allowed by the policy).
    color = page.evaluate("getComputedStyle(document.querySelector('.topbar')).borderBottomStyle")
    assert color == "solid"

    # Log out with the header's button (a POST with its CSRF token).
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(live_server("/login"))
    assert page.get_by_text("You have logged out.").is_visible()

    # A wrong password: the generic message, still on the login page.
    page.get_by_label("Username or email").fill("ada")
    page.get_by_label("Password").fill("not-the-right-password")
    with page.expect_response(lambda r: r.url.startswith(live_server("/login"))
                              and r.request.method == "POST") as answer:
        page.get_by_role("button", name="Log in").click()
    assert answer.value.status == 401
    assert page.get_by_role("alert").inner_text() == "Invalid username or password."
    assert page.get_by_label("Username or email").input_value() == "ada"

    # The right password: the profile.
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(live_server("/profile"))
    assert page.get_by_role("heading", name="Your account", exact=True).is_visible()
    assert page.get_by_text("ada@example.com").first.is_visible()

    # A protected page after logging out again leads back to the login form.
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(live_server("/login"))
    page.goto(live_server("/profile"))
    assert page.url.startswith(live_server("/login?next="))

    assert violations == []
    context.close()
