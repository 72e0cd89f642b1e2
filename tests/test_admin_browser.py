"""A real Chromium (Debian's, driven by Playwright) against a real Keystead over HTTP: an
administrator creates a person without a password, copies the confirmation link from the
person's page, and that person sets a password from the link and logs in. Also checks the
admin pages keep to the Content-Security-Policy (no inline script or style)."""
from __future__ import annotations

import re

import pytest
from api_support import users_of
from live import browser, live_server, make_live_server, watch_policy_violations  # noqa: F401  (pytest fixtures)

ADMIN_PASSWORD = "granite-otter-lantern-vivid-31"
CAROL_PASSWORD = "copper-heron-meadow-quiet-58"


def _log_in(page, server, username: str, password: str) -> None:
    page.goto(server("/login"))
    page.get_by_label("Username or email").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(server("/profile"))


@pytest.mark.browser
def test_admin_creates_a_person_who_confirms_from_the_copied_link_and_logs_in(browser, live_server):  # noqa: F811
    users_of(live_server.app).create("root", password=ADMIN_PASSWORD, role="administrator")

    # The administrator, in their own browser.
    admin = browser.new_context().new_page()
    admin.set_default_timeout(15000)
    violations = watch_policy_violations(admin)
    _log_in(admin, live_server, "root", ADMIN_PASSWORD)
    admin.get_by_role("link", name="People").click()
    admin.wait_for_url(live_server("/admin/people"))
    admin.get_by_role("link", name="Create a person").click()
    admin.wait_for_url(live_server("/admin/people/new"))
    admin.get_by_label("Username").fill("carol")
    admin.get_by_label("Email").fill("carol@example.com")
    admin.get_by_label("First name (optional)").fill("Carol")
    admin.get_by_label("Role").select_option("publisher")
    admin.get_by_role("button", name="Create").click()
    admin.wait_for_url(re.compile(re.escape(live_server("/admin/people/")) + r"\d+$"))
    assert admin.get_by_text("carol has been created.").is_visible()
    assert admin.get_by_text("Do not open this link yourself.").is_visible()
    link = admin.locator("#confirmation-link").inner_text().strip()
    assert link.startswith(live_server("/confirm/"))
    assert admin.locator("#status").inner_text() == "unconfirmed"

    # The list shows her, unconfirmed, and finds her by name.
    admin.goto(live_server("/admin/people"))
    admin.get_by_label("Search people").fill("Carol")
    admin.get_by_role("button", name="Search").click()
    admin.wait_for_url(live_server("/admin/people?q=Carol"))
    row = admin.locator("#people tbody tr")
    assert row.count() == 1
    assert row.locator("td").all_inner_texts() == ["carol", "Carol", "carol@example.com", "publisher",
                                                   "unconfirmed", "never"]

    # Carol, in another browser, opens the link she was given and chooses her password.
    carol = browser.new_context().new_page()
    carol.set_default_timeout(15000)
    carol_violations = watch_policy_violations(carol)
    carol.goto(link)
    assert carol.get_by_role("heading", name="Choose your password").is_visible()
    carol.get_by_label("New password", exact=True).fill(CAROL_PASSWORD)
    carol.get_by_label("Repeat the new password").fill(CAROL_PASSWORD)
    carol.get_by_role("button", name="Set the password").click()
    carol.wait_for_url(live_server("/login"))
    assert carol.get_by_text("Your password is set. You can log in now.").is_visible()
    _log_in(carol, live_server, "carol", CAROL_PASSWORD)
    assert carol.get_by_text("publisher", exact=True).is_visible()

    # The link is spent, and the administrator now sees her as active.
    carol.goto(link)
    assert carol.get_by_role("heading", name="Choose your password").count() == 0
    admin.goto(live_server("/admin/people?q=carol"))
    assert admin.locator("#people tbody tr td").nth(4).inner_text() == "active"
    assert admin.locator("#people tbody tr td").nth(5).inner_text().endswith("UTC")
    assert violations == [] and carol_violations == []
