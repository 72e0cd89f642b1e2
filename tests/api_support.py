"""Helpers for the API tests (tests/test_api_*.py, test_tokens.py, test_mail.py)."""
from __future__ import annotations

import re

from conftest import STRONG_PASSWORD

API = "/api/v1"


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def assert_error(response, status: int, code: str | None = None) -> dict:
    """The response is the one error shape with `status` (and `code`); returns its body."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "fields"}, body
    assert isinstance(body["error"]["code"], str) and body["error"]["code"]
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["fields"], dict)
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]


def login(client, username: str, password: str = STRONG_PASSWORD, **extra) -> dict:
    """Log in through the API (`extra`: more body fields, such as accept_terms=True); returns
    the token pair."""
    r = client.post(f"{API}/auth/login", json={"username": username, "password": password, **extra})
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_json()


def me_status(client, access_token: str) -> int:
    return client.get(f"{API}/users/me", headers=bearer(access_token)).status_code


def refresh(client, refresh_token: str):
    return client.post(f"{API}/auth/refresh", json={"refresh_token": refresh_token})


def in_db(app, fn):
    """Run fn() inside an app context with a database connection (for set-up and checks)."""
    with app.app_context():
        with app.extensions["keystead.db"].connection_context():
            return fn()


def users_of(app):
    """The `users` factory for an app made with make_app (the fixture serves `app`)."""
    from conftest import UserFactory
    return UserFactory(app)


# ---------------------------------------------------------------- sweeps over every route

def fresh_objects(app, admin, rule):
    """A person, a group, a document and API keys of this route's own, so that no route
    acts on what another one deleted or changed (a DELETE before a PATCH would make the
    PATCH a 404 before it reads its body)."""
    from keystead.apikeys import create_api_key
    from keystead.documents.service import create_text_document
    from keystead.models import Group, User as UserModel
    target = users_of(app).create()[0]

    def make():
        group = Group.create(name=f"team{target.id}", name_key=f"team{target.id}")
        document = create_text_document(UserModel.get_by_id(admin.id), "Notes", "Some text.")
        target_key = create_api_key(UserModel.get_by_id(target.id), "theirs")[0]
        # The administrator's own keys are few (a limit per person): one only where used.
        admin_key = (create_api_key(UserModel.get_by_id(admin.id), "mine")[0]
                     if "/users/me/api-keys/" in rule.rule else None)
        return group, document, target_key, admin_key
    group, document, target_key, admin_key = in_db(app, make)
    invitation = None
    if "/invitations/" in rule.rule:  # an open invitation of the administrator's
        from keystead.signup.invitations import create_invitation
        with app.test_request_context():
            invitation = in_db(app, lambda: create_invitation(
                UserModel.get_by_id(admin.id), f"invited{target.id}@example.com")[0])
    registered = None
    if rule.rule.startswith(f"{API}/apps/"):  # an app of the administrator's
        from keystead.apps.service import create_app as register_app
        with app.test_request_context():
            registered = in_db(app, lambda: register_app({"name": f"app{target.id}"},
                                                         actor=UserModel.get_by_id(admin.id)).app)
    return {"user": target.id, "group": group.id, "document": document.id,
            "target_key": target_key.id, "admin_key": admin_key and admin_key.id,
            "invitation": invitation and invitation.id, "app": registered and registered.id}


def path_values(rule, objects) -> dict:
    """Values for the rule's variables, from this route's own objects."""
    path = rule.rule
    values = {}
    for name in rule.arguments:
        if name == "user_id":
            values[name] = objects["user"]
        elif name == "group_id":
            values[name] = objects["group"]
        elif name == "key_id":
            values[name] = objects["admin_key" if "/users/me/" in path else "target_key"]
        elif path.startswith(f"{API}/users/"):
            values[name] = objects["user"]
        elif path.startswith(f"{API}/groups/"):
            values[name] = objects["group"]
        elif path.startswith(f"{API}/documents/"):
            values[name] = objects["document"]
        elif path.startswith(f"{API}/invitations/"):
            values[name] = objects["invitation"]
        elif path.startswith(f"{API}/apps/"):
            values[name] = objects["app"]
        else:
            raise AssertionError(f"no test value for <{name}> in {path}: add it here")
    return values


def openapi_path(rule) -> str:
    """/api/v1/users/<int:id> -> /users/{id}, the OpenAPI document's key (relative to its
    server, /api/v1)."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule[len(API):])


def reads_a_body(app, rule, method) -> bool:
    """Whether the OpenAPI document gives the operation a request body."""
    return "requestBody" in openapi_operation(app, rule, method)


def openapi_operation(app, rule, method) -> dict:
    """The OpenAPI document's operation for this route and method."""
    document = app.test_client().get(f"{API}/openapi.json").get_json()
    return document["paths"][openapi_path(rule)][method.lower()]
