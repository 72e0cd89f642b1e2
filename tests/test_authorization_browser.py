"""Issue 14 in a real Chromium: the /documents page offers no upload to a viewer, and
offers it to a publisher, who uploads; the navigation shows each person only the admin
links their permissions open (a custom auditor sees Audit, not People or Groups)."""
from __future__ import annotations

import pytest

from api_support import users_of
from live import browser, live_server, make_live_server  # noqa: F401  (pytest fixtures)

PASSWORD = "granite-otter-lantern-vivid-31"


def _log_in(page, server, username: str) -> None:
    page.goto(server("/login"))
    page.get_by_label("Username or email").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(server("/profile"))


@pytest.mark.browser
def test_a_viewer_sees_no_upload_form_and_a_publisher_uploads(browser, make_live_server, tmp_path):  # noqa: F811
    server = make_live_server({"Authorization.Roles": {"auditor": {"permissions": ["audit.read"]}}})
    users = users_of(server.app)
    users.create("vera", password=PASSWORD)
    users.create("paul", password=PASSWORD, role="publisher")
    users.create("audrey", password=PASSWORD, role="auditor")

    viewer = browser.new_context().new_page()
    viewer.set_default_timeout(15000)
    _log_in(viewer, server, "vera")
    viewer.get_by_role("link", name="Documents").click()
    viewer.wait_for_url(server("/documents"))
    assert viewer.get_by_role("heading", name="Search").is_visible()
    assert viewer.get_by_role("heading", name="Upload").count() == 0
    assert viewer.locator("input[type=file]").count() == 0
    assert viewer.get_by_role("link", name="People").count() == 0

    publisher = browser.new_context().new_page()
    publisher.set_default_timeout(15000)
    _log_in(publisher, server, "paul")
    publisher.goto(server("/documents"))
    notes = tmp_path / "notes.txt"
    notes.write_text("Minutes of the planning meeting.")
    publisher.locator("input[type=file]").set_input_files(str(notes))
    publisher.get_by_role("button", name="Upload").click()
    publisher.wait_for_url(server("/documents/") + "*")
    assert publisher.get_by_text("Minutes of the planning meeting.").is_visible()

    auditor = browser.new_context().new_page()
    auditor.set_default_timeout(15000)
    _log_in(auditor, server, "audrey")
    assert auditor.get_by_role("link", name="People").count() == 0
    assert auditor.get_by_role("link", name="Groups").count() == 0
    auditor.get_by_role("link", name="Audit").click()
    auditor.wait_for_url(server("/admin/audit"))
    assert auditor.get_by_role("heading", name="Audit log").is_visible()
