"""Issue 18: the authorization matrix. Every API route (each rule under /api/v1 and each of
its methods) and every signed-in page (GET of /admin, /profile and /documents pages) is
called as anonymous, viewer, publisher, a custom role (`auditor`) and administrator, and
must answer exactly what tests/authorization_table.py states. A route without a row there
fails the test, so the table stays the one statement of who may do what; the Markdown of
docs/administration.md is generated from it (`python -m tests.authorization_table --write`)."""
from __future__ import annotations

import itertools
import logging

import pytest

from keystead import create_app
from keystead.authorization import BUILTIN_ROLES, PERMISSIONS

from conftest import STRONG_PASSWORD, TEST_SETTINGS, csrf_from, new_database
from totp_support import code_for
from authorization_table import (API, CUSTOM_ROLES, DOC, PAGE_PREFIXES, ROLES, TABLE, documented_table,
                                 expected, generated_markdown)

SETTINGS = {**TEST_SETTINGS, "Server.RateLimits": False, "Authorization.Roles": CUSTOM_ROLES}


def routes_of(app) -> set[tuple[str, str]]:
    """(method, rule) of every API route and every GET of a signed-in page."""
    found = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(API + "/"):
            found |= {(m, rule.rule) for m in rule.methods - {"HEAD", "OPTIONS"}}
        elif rule.rule.startswith(PAGE_PREFIXES) and "GET" in rule.methods:
            found.add(("GET", rule.rule))
    return found


@pytest.fixture(scope="module")
def matrix_app(tmp_path_factory):
    folder = tmp_path_factory.mktemp("matrix")
    with new_database(folder) as url:
        app = create_app({**SETTINGS, "Server.DatabaseURL": url}, instance_path=str(folder / "instance"))
        app.config["TESTING"] = True
        with app.app_context():
            with app.extensions["keystead.db"].connection_context():
                from keystead.accounts import create_user
                create_user("root", "root@example.com", STRONG_PASSWORD, role="administrator",
                            email_verified=True)
        yield app
        db = app.extensions["keystead.db"]
        if hasattr(db, "close_all"):
            db.close_all()
        elif not db.is_closed():
            db.close()


_serial = itertools.count(1)


class Scene:
    """The caller of one case and objects of this case's own: a target person (with an API
    key), a pending person, a group the caller belongs to, the caller's own document (root's
    for anonymous), the caller's own API key, an open invitation, link tokens of the target."""

    def __init__(self, app, role: str):
        from keystead.accounts import create_user
        from keystead.apikeys import create_api_key
        from keystead.documents.service import create_text_document
        from keystead.groups import add_member, create_group
        from keystead.links import make_link_token
        from keystead.documents.models import Document, DocumentShare
        from keystead.models import User
        from keystead.signup.invitations import create_invitation
        from keystead.tokens import issue_token_pair
        n = next(_serial)
        self.n = n
        self.role = role
        with app.test_request_context():
            with app.extensions["keystead.db"].connection_context():
                root = User.get(User.username_key == "root")
                self.caller = None
                if role != "anonymous":
                    self.caller = create_user(f"caller{n}", f"caller{n}@example.com", STRONG_PASSWORD,
                                              role=role, email_verified=True)
                owner = self.caller or root
                self.target = create_user(f"target{n}", f"target{n}@example.com", STRONG_PASSWORD,
                                          email_verified=True)
                self.pending = create_user(f"pending{n}", f"pending{n}@example.com", STRONG_PASSWORD,
                                           email_verified=True, signup_columns={"status": "pending"})
                self.unverified = create_user(f"unverified{n}", f"unverified{n}@example.com",
                                              STRONG_PASSWORD)
                self.group = create_group(f"team{n}")
                add_member(self.group, self.target)
                if self.caller is not None:
                    add_member(self.group, self.caller)
                # Made by root, then given to the caller: a viewer may own documents (from
                # 0.1.0) but not upload them.
                self.document = create_text_document(root, f"Notes {n}", "Some text.")
                Document.update(owner=owner.id).where(Document.id == self.document.id).execute()
                DocumentShare.create(document=self.document.id, group=self.group.id)
                self.target_key = create_api_key(self.target, "theirs")[0]
                self.own_key = create_api_key(self.caller, "mine")[0] if self.caller else None
                self.invitation = create_invitation(None, f"invited{n}@example.com")[0]
                self.reset_token = make_link_token(self.target, "reset")
                self.verify_token = make_link_token(self.target, "verify")
                self.target_refresh = issue_token_pair(self.target)["refresh_token"]
                from keystead.apps.models import App
                from keystead.apps.service import create_app as register_app
                self.app = register_app({"name": f"app{n}"}).app  # the caller's own app
                App.update(created_by=owner.id).where(App.id == self.app.id).execute()
                self.totp_secret = None

    def values(self, method: str, rule: str) -> dict:
        """Values of the rule's variables."""
        values = {}
        for name in ("id", "user_id", "group_id", "key_id", "invitation_id", "app_id"):
            if f"{name}>" not in rule:
                continue
            if name == "key_id":
                values[name] = self.own_key.id if self.own_key and "/users/me/" in rule \
                    else self.target_key.id
            elif name == "id" and "/documents/" in rule:
                values[name] = self.document.id
            elif name == "app_id" or (name == "id" and rule.startswith(f"{API}/apps/")):
                values[name] = self.app.id
            elif name == "invitation_id" or rule.startswith(f"{API}/invitations/"):
                values[name] = self.invitation.id
            elif name == "group_id" or (name == "id" and "/groups/" in rule):
                values[name] = self.group.id
            elif rule.endswith(("/approve", "/reject")):
                values[name] = self.pending.id
            elif rule.endswith("/verification-link"):
                values[name] = self.unverified.id
            elif False:
                values[name] = self.pending.id
            else:
                values[name] = self.target.id
        return values

    def body(self, method: str, rule: str) -> dict | None:
        """A valid minimal body: the answer is then about who asks, not what they send."""
        n, me = self.n, self.caller
        bodies = {
            ("POST", "/auth/login"): {"username": f"target{n}", "password": STRONG_PASSWORD},
            ("POST", "/auth/refresh"): {"refresh_token": self.target_refresh},
            ("POST", "/auth/register"): {"username": f"new{n}", "email": f"new{n}@example.com",
                                         "password": STRONG_PASSWORD},
            ("POST", "/auth/request-password-reset"): {"email": f"target{n}@example.com"},
            ("POST", "/auth/resend-verification"): {"email": f"target{n}@example.com"},
            ("POST", "/auth/reset-password"): {"token": self.reset_token,
                                               "new_password": STRONG_PASSWORD + "-new"},
            ("POST", "/auth/verify-email"): {"token": self.verify_token},
            ("POST", "/documents"): {"title": f"Upload {n}", "content": "Text."},
            ("POST", "/apps"): {"name": f"made{n}"},
            ("PATCH", "/apps/<int:id>"): {"launch_url": "https://app.example.com/"},
            ("POST", "/groups"): {"name": f"made{n}"},
            ("PATCH", "/groups/<int:id>"): {"name": f"renamed{n}"},
            ("POST", "/invitations"): {"email": f"asked{n}@example.com"},
            ("POST", "/users"): {"username": f"made{n}", "email": f"made{n}@example.com",
                                 "password": STRONG_PASSWORD},
            ("PATCH", "/users/<int:id>"): {"first_name": "Changed"},
            ("PATCH", "/users/me"): {"first_name": "Changed"},
            ("DELETE", "/users/me"): {"password": STRONG_PASSWORD},
            ("POST", "/users/me/api-keys"): {"name": f"key{n}", "current_password": STRONG_PASSWORD},
            ("POST", "/users/me/password"): {"current_password": STRONG_PASSWORD,
                                             "new_password": STRONG_PASSWORD + "-new"},
            ("POST", "/users/me/totp"): {"password": STRONG_PASSWORD},
        }
        key = (method, rule[len(API):])
        if key == ("POST", "/users/me/totp/confirm"):
            return {"code": code_for(self.totp_secret) if self.totp_secret else "000000"}
        if key == ("DELETE", "/users/me/totp"):
            return {"password": STRONG_PASSWORD,
                    "code": code_for(self.totp_secret, 1) if self.totp_secret else "000000"}
        return bodies.get(key)

    def prepare_two_factor(self, app, method: str, rule: str) -> None:
        """The caller half-way through setting up two-factor (to confirm it), or with it on
        (to turn it off)."""
        if self.caller is None or not rule.startswith(f"{API}/users/me/totp"):
            return
        if method == "POST" and rule.endswith("/confirm"):
            from keystead import totp
            from keystead.models import User
            with app.test_request_context():
                with app.extensions["keystead.db"].connection_context():
                    self.totp_secret = totp.begin_setup(User.get_by_id(self.caller.id))[0]
        elif method == "DELETE":
            from totp_support import enable_for
            self.totp_secret = enable_for(app, self.caller.username)[0]


def call(app, role: str, method: str, rule: str):
    """The answer of `rule` to `role`, once the work the app queued after answering (a
    link, a mail) is done: the next case must not meet it writing to the shared database."""
    response = _call(app, role, method, rule)
    assert app.extensions["keystead.outbox"].join(30)
    return response


def _call(app, role: str, method: str, rule: str):
    scene = Scene(app, role)
    client = app.test_client()
    path = rule
    for name, value in scene.values(method, rule).items():
        path = path.replace(f"<int:{name}>", str(value)).replace(f"<{name}>", str(value))
    if rule.endswith("/search"):
        path += "?q=text"
    if rule.startswith(API + "/"):
        headers = {}
        if scene.caller is not None:
            r = client.post(f"{API}/auth/login", json={"username": scene.caller.username,
                                                       "password": STRONG_PASSWORD})
            assert r.status_code == 200, r.get_data(as_text=True)
            headers["Authorization"] = "Bearer " + r.get_json()["access_token"]
        scene.prepare_two_factor(app, method, rule)
        return client.open(path, method=method, headers=headers, json=scene.body(method, rule))
    if scene.caller is not None:
        page = client.get("/login").get_data(as_text=True)
        r = client.post("/login", data={"csrf_token": csrf_from(page), "username": scene.caller.username,
                                        "password": STRONG_PASSWORD})
        assert r.status_code in (302, 303) and "/login" not in r.headers["Location"], r.headers
    return client.open(path, method=method)


def answer(response) -> int | str:
    """The status, or "login" for a redirect to the login page."""
    if response.status_code in (302, 303) and response.headers["Location"].split("?")[0].endswith("/login"):
        return "login"
    return response.status_code


CASES = [(method, rule, role) for (method, rule) in sorted(TABLE) for role in ROLES]


@pytest.mark.parametrize("method,rule,role", CASES, ids=[f"{m} {r} {w}" for m, r, w in CASES])
def test_every_route_answers_each_role_as_the_table_states(matrix_app, method, rule, role):
    response = call(matrix_app, role, method, rule)
    assert answer(response) == expected(method, rule, role), (
        method, rule, role, response.status_code, response.get_data(as_text=True)[:300])
    needs = TABLE[(method, rule)][0]
    if response.status_code == 403 and needs in PERMISSIONS:
        # The refusal names the permission the table says the route needs.
        assert f"permission {needs}" in response.get_data(as_text=True), (method, rule, role)


def test_the_table_has_a_row_for_every_route_and_no_other(matrix_app):
    """A new route (or method) without a row fails here: say who may use it first."""
    routes = routes_of(matrix_app)
    assert sorted(routes - set(TABLE)) == [], "routes missing from tests/authorization_table.py"
    assert sorted(set(TABLE) - routes) == [], "rows of tests/authorization_table.py for no route"


def test_the_administration_guide_shows_the_table():
    """docs/administration.md's route table is the generated one: regenerate it with
    `python -m tests.authorization_table --write`."""
    documented = documented_table(DOC.read_text(encoding="utf-8"))
    assert documented is not None, "docs/administration.md has no route table markers"
    assert documented == generated_markdown(), (
        "docs/administration.md's route table is stale: run python -m tests.authorization_table --write")


def test_the_guide_s_permission_table_is_what_the_built_in_roles_carry():
    """The permission table of docs/administration.md ("Roles and permissions") ticks, for
    each permission, exactly the built-in roles that carry it (app/authorization)."""
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("## Roles and permissions"):text.index("### Who may use each route")]
    header = next(line for line in section.splitlines() if line.startswith("| permission |"))
    roles = [cell.strip() for cell in header.strip("|").split("|")][2:]
    assert roles == list(BUILTIN_ROLES)
    documented = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("| `") and len(cells) == 2 + len(roles):
            documented[cells[0].strip("`")] = {r for r, c in zip(roles, cells[2:]) if c == "✓"}
    assert set(documented) == set(PERMISSIONS)
    for permission, holders in documented.items():
        assert holders == {r for r, held in BUILTIN_ROLES.items() if permission in held}, permission
