"""Web sudo for people of an outside provider: they have no password here, so a fresh login
through their provider counts as re-entry, and only for WebSudoModeDuration."""
from conftest import post_form
from plugins import static_provider


def _app(make_app):
    return make_app({"Authentication.Provider": ["password", "static"], "Password.WebSudoMode": True},
                    plugins=[static_provider])


def test_a_fresh_login_counts_as_reentry_then_expires(make_app):
    app = _app(make_app)
    client = app.test_client()
    r = post_form(client, "/login", {"username": "robot", "password": "beep-boop-1234"})
    assert r.status_code == 303
    # a sensitive page is open right after logging in
    fresh = client.get("/profile/two-factor/setup")
    assert "/sudo" not in fresh.headers.get("Location", ""), "a fresh login did not count as re-entry"
    with client.session_transaction() as s:
        s["login_at"] -= 3600
    r = client.get("/profile/two-factor/setup")
    assert r.status_code == 302 and "/sudo" in r.headers["Location"]
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    # Issue 16: a provider that checks passwords (a directory) is asked again, as the API's
    # re-entry asks it; only redirect providers' people are sent to log in again.
    assert 'name="password"' in page and "no password here" not in page
