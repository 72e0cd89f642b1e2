"""Server.RequireAuthentication = false in the browser: every page shows the banner and an
anonymous visitor acts as the Bootstrap administrator; with it true, neither."""
DEV = {"Server.RequireAuthentication": False, "Bootstrap.AdminUsername": "root",
       "Bootstrap.AdminPassword": "a-long-bootstrap-passphrase"}


def test_banner_on_every_page_and_pages_act_as_the_administrator(make_app):
    client = make_app(DEV).test_client()
    for path in ("/login", "/profile", "/admin/people"):
        r = client.get(path)
        assert r.status_code == 200, path
        assert "Development mode" in r.get_data(as_text=True), path
    assert "root" in client.get("/profile").get_data(as_text=True)


def test_no_banner_and_no_access_when_authentication_is_required(make_app):
    client = make_app({**DEV, "Server.RequireAuthentication": True}).test_client()
    assert "Development mode" not in client.get("/login").get_data(as_text=True)
    assert client.get("/profile").status_code == 302
