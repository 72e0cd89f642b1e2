def test_health(client):
    r = client.get("/api/v1/health")
    assert r.status_code == 200 and r.json == {"status": "ok"}


def test_user_factory(users):
    user, pw = users.create("ada")
    assert user.username == "ada"
