"""Per-client-address rate limits: 429 with Retry-After, one bucket for the browser and the
API, off with Server.RateLimits = false."""
import pytest

from conftest import csrf_from

LOGIN_LIMIT = 60


@pytest.fixture
def limited_app(make_app):
    # No lockout by name here: only the address limit is under test.
    return make_app({"Password.LockoutThreshold": 0})


def _api_login(client, n, addr="203.0.113.7"):
    return client.post("/api/v1/auth/login", json={"username": f"nobody{n}", "password": "wrong-password"},
                       environ_base={"REMOTE_ADDR": addr})


def test_login_is_limited_per_address_with_retry_after(limited_app):
    client = limited_app.test_client()
    statuses = [_api_login(client, n).status_code for n in range(LOGIN_LIMIT)]
    assert set(statuses) == {401}
    r = _api_login(client, LOGIN_LIMIT)
    assert r.status_code == 429
    assert int(r.headers["Retry-After"]) > 0
    assert r.json["error"]["code"] == "too_many_requests"
    # another address is not affected
    assert _api_login(client, 0, addr="198.51.100.9").status_code == 401


def test_browser_and_api_share_one_bucket(limited_app):
    client = limited_app.test_client()
    for n in range(LOGIN_LIMIT):
        assert _api_login(client, n).status_code == 401
    token = csrf_from(client.get("/login").get_data(as_text=True))
    r = client.post("/login", data={"username": "x", "password": "y", "csrf_token": token},
                    environ_base={"REMOTE_ADDR": "203.0.113.7"})
    assert r.status_code == 429
    assert "Retry-After" in r.headers


def test_rate_limits_can_be_turned_off(make_app):
    client = make_app({"Server.RateLimits": False, "Password.LockoutThreshold": 0}).test_client()
    statuses = {_api_login(client, n).status_code for n in range(LOGIN_LIMIT + 5)}
    assert statuses == {401}
