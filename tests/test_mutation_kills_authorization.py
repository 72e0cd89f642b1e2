"""Issue 18: permissions and roles answer exactly as documented. The built-in roles carry
exactly their permissions and an administrator every one (those plugins define too); an
unknown role carries nothing, cannot be granted, and is refused naming the roles to choose
from (built-in first, then custom); pages name a role by its title; a locked person holds
nothing; plugins add permissions given as one name or a list (other values ignored), are
asked at most once per request and person, and their verdict on one resource wins over the
role; nobody grants a role carrying a permission they lack, or changes someone who holds one
they lack (permissions a plugin gives but never defined aside), and each refusal is a 403
naming what is missing. Written to kill the mutants mutmut found surviving in
app/authorization/__init__.py (docs/testing.md)."""
from __future__ import annotations

import pytest
from api_support import API, assert_error, bearer, in_db, login, users_of

from keystead import hookimpl
from keystead.authorization import (BUILTIN_ROLES, PERMISSIONS, PermissionDenied, authorize, can_grant,
                                    has_permission, known_permissions, known_roles, permissions_of,
                                    require_grant, require_outranks, require_permission, role_permissions,
                                    role_title, roles_problem)
from keystead.models import User

CUSTOM = {"Authorization.Roles": {
    "auditor": {"permissions": ["documents.read", "audit.read"], "title": "Audit team"},
    "helpdesk": {"permissions": ["documents.read", "people.read", "people.manage"]},
}}


class CountsAndAdds:
    """keystead_permissions: defines reports.read; gives ada reports.read (one name), bob a
    list with values that are not names, carol nothing (an empty list); counts the calls."""

    def __init__(self):
        self.calls: list[str] = []

    @hookimpl
    def keystead_permissions(self, user):
        if user is None:
            return "reports.read"
        self.calls.append(user.username)
        return {"ada": "reports.read", "bob": ["exports.run", 7, None], "carol": []}.get(user.username)


class GivesUndefined:
    """Gives everyone exports.run, a permission it never defines (user=None answers None)."""

    @hookimpl
    def keystead_permissions(self, user):
        return None if user is None else ["exports.run"]


class RefusesSharing:
    """keystead_authorize: refuses documents.share on any resource, says nothing else."""

    @hookimpl
    def keystead_authorize(self, user, permission, resource):
        return False if permission == "documents.share" else None


class Verdict:
    def __init__(self, verdict):
        self.verdict = verdict

    @hookimpl
    def keystead_authorize(self, user, permission, resource):
        return self.verdict


def _get(username: str) -> User:
    return User.get(User.username == username)


# ---------------------------------------------------------------- roles and their permissions

def test_the_built_in_roles_carry_exactly_their_permissions(app):
    with app.app_context():
        assert known_permissions() == PERMISSIONS
        assert role_permissions("viewer") == {"documents.read"} == BUILTIN_ROLES["viewer"]
        assert role_permissions("publisher") == {"documents.read", "documents.create", "documents.share",
                                                 "apps.manage"}
        assert role_permissions("administrator") == set(PERMISSIONS)
        assert role_permissions("nobody-knows") == frozenset()


def test_an_administrator_holds_the_permissions_plugins_define_and_a_custom_role_its_own(make_app):
    app = make_app({"Authorization.Roles": {"analyst": {"permissions": ["reports.read"]}}},
                   plugins=[CountsAndAdds()])
    with app.app_context():
        assert known_permissions() == PERMISSIONS + ("reports.read",)
        assert role_permissions("administrator") == set(PERMISSIONS) | {"reports.read"}
        assert role_permissions("analyst") == {"reports.read"}


def test_roles_are_listed_built_in_first_and_an_unknown_one_is_refused_naming_the_choices(make_app):
    app = make_app(CUSTOM)
    users_of(app).create("root", role="administrator")
    client = app.test_client()
    with app.app_context():
        assert known_roles() == ["viewer", "publisher", "administrator", "auditor", "helpdesk"]
        assert roles_problem(["viewer", "auditor"]) is None
        assert roles_problem(["viewer", "wizard", "witch"]) == \
            "Unknown role 'wizard': choose from viewer, publisher, administrator, auditor, helpdesk."
    r = client.post(f"{API}/users", headers=bearer(login(client, "root")["access_token"]),
                    json={"username": "newt", "email": "newt@example.com", "role": "wizard"})
    assert assert_error(r, 422)["fields"]["role"] == \
        "Unknown role 'wizard': choose from viewer, publisher, administrator, auditor, helpdesk."


def test_pages_name_a_role_by_its_title_or_its_capitalised_name(make_app):
    app = make_app(CUSTOM)
    with app.app_context():
        assert role_title("viewer") == "Viewer"
        assert role_title("administrator") == "Administrator"
        assert role_title("auditor") == "Audit team"
        assert role_title("helpdesk") == "Helpdesk"  # no title of its own
        assert role_title("gone") == "Gone"  # no longer configured


# ---------------------------------------------------------------- whose permissions

def test_nobody_and_a_locked_person_hold_no_permission(app):
    root, _ = users_of(app).create("root", role="administrator")
    with app.test_request_context():
        assert permissions_of(None) == frozenset()
        assert has_permission(None, "documents.read") is False
        root = _get("root")
        assert "audit.read" in permissions_of(root) and has_permission(root, "audit.read")
    with app.test_request_context():
        root.locked = True
        assert permissions_of(root) == frozenset()
        assert has_permission(root, "documents.read") is False
        assert has_permission(root, "documents.read", resource=object()) is False


def test_plugins_add_one_name_or_a_list_of_names_and_nothing_else(make_app):
    plugin = CountsAndAdds()
    app = make_app(plugins=[plugin])
    users = users_of(app)
    for name in ("ada", "bob", "carol", "dan"):
        users.create(name)
    with app.test_request_context():
        assert permissions_of(_get("ada")) == {"documents.read", "reports.read"}
        assert permissions_of(_get("bob")) == {"documents.read", "exports.run"}
        assert permissions_of(_get("carol")) == {"documents.read"}
        assert permissions_of(_get("dan")) == {"documents.read"}
        assert has_permission(_get("ada"), "reports.read") and not has_permission(_get("dan"), "reports.read")


def test_plugins_are_asked_once_per_request_and_person_and_again_after_a_role_change(make_app):
    plugin = CountsAndAdds()
    app = make_app(plugins=[plugin])
    users = users_of(app)
    users.create("ada")
    users.create("bob")
    with app.test_request_context():
        ada, bob = _get("ada"), _get("bob")
        plugin.calls.clear()
        first = permissions_of(ada)
        assert permissions_of(ada) == first and permissions_of(_get("ada")) == first
        assert plugin.calls == ["ada"]
        assert permissions_of(bob) == {"documents.read", "exports.run"}  # not ada's answer
        assert plugin.calls == ["ada", "bob"]
        ada.role = "administrator"  # the same person with another role: worked out anew
        assert "audit.read" in permissions_of(ada)
        assert plugin.calls == ["ada", "bob", "ada"]
    with app.test_request_context():
        permissions_of(_get("ada"))
        assert plugin.calls == ["ada", "bob", "ada", "ada"]  # a new request asks again
    with app.app_context():  # outside a request (the command line): asked every time
        ada = _get("ada")
        permissions_of(ada)
        permissions_of(ada)
        assert plugin.calls[-2:] == ["ada", "ada"] and len(plugin.calls) == 6


def test_a_person_not_saved_yet_holds_their_roles_permissions(app):
    with app.test_request_context():
        assert permissions_of(User(username="newt", role="publisher")) == BUILTIN_ROLES["publisher"]


def test_a_plugins_verdict_on_a_resource_wins_over_the_role_and_none_leaves_it_to_the_role(make_app):
    for verdicts, verdict, expected_viewer, expected_admin in (
            ([Verdict(False), Verdict(True)], False, False, False),
            ([Verdict(True), Verdict(None)], True, True, True),
            ([Verdict(None)], None, False, True)):
        app = make_app(plugins=verdicts)
        users = users_of(app)
        users.create("vera")
        users.create("root", role="administrator")
        with app.test_request_context():
            vera, root = _get("vera"), _get("root")
            assert authorize(vera, "audit.read", "a resource") is verdict
            assert has_permission(vera, "audit.read", resource="a resource") is expected_viewer
            assert has_permission(root, "audit.read", resource="a resource") is expected_admin
            # without a resource, plugins are not asked: the role alone answers
            assert has_permission(vera, "audit.read") is False
            assert has_permission(root, "audit.read") is True
        in_db(app, lambda: User.delete().execute())


def test_a_plugin_decides_per_permission_and_require_permission_asks_it_about_the_resource(make_app):
    app = make_app(plugins=[RefusesSharing()])
    users_of(app).create("paul", role="publisher")
    with app.test_request_context():
        paul = _get("paul")
        assert has_permission(paul, "documents.share", resource="a document") is False
        assert has_permission(paul, "documents.create", resource="a document") is True
        assert has_permission(paul, "documents.share") is True
        with pytest.raises(PermissionDenied):
            require_permission(paul, "documents.share", resource="a document")
        require_permission(paul, "documents.share")
        require_permission(paul, "documents.create", resource="a document")


def test_the_role_alone_answers_without_asking_plugins_or_groups(make_app):
    plugin = CountsAndAdds()
    app = make_app(plugins=[plugin])
    users_of(app).create("ada")
    with app.test_request_context():
        plugin.calls.clear()
        assert has_permission(_get("ada"), "documents.read") is True
        assert plugin.calls == []
        assert has_permission(_get("ada"), "reports.read") is True  # the plugin's: now it is asked
        assert plugin.calls == ["ada"]


def test_require_permission_raises_403_naming_the_permission(app):
    users_of(app).create("vera")
    client = app.test_client()
    r = client.get(f"{API}/audit", headers=bearer(login(client, "vera")["access_token"]))
    assert assert_error(r, 403, "forbidden")["message"] == "This needs the permission audit.read."
    with app.test_request_context():
        with pytest.raises(PermissionDenied) as refused:
            require_permission(_get("vera"), "people.manage")
        assert refused.value.permission == "people.manage"
        assert refused.value.message == "This needs the permission people.manage."
        assert require_permission(_get("vera"), "documents.read") is None


# ---------------------------------------------------------------- granting and outranking

def test_granting_needs_every_permission_of_the_role_and_an_unknown_role_is_never_granted(make_app):
    app = make_app(CUSTOM)
    users = users_of(app)
    users.create("paul", role="publisher")
    with app.test_request_context():
        paul = _get("paul")
        assert can_grant(None, "administrator") is True  # the command line
        assert can_grant(None, "wizard") is False
        assert can_grant(paul, "publisher") is True  # exactly what they hold
        assert can_grant(paul, "viewer") is True
        assert can_grant(paul, "administrator") is False
        assert can_grant(paul, "auditor") is False
        # a role no longer configured carries nothing: anyone may take it away
        assert require_grant(paul, "wizard") is None
        assert require_grant(None, "administrator") is None
        assert require_grant(paul, "publisher") is None


def test_granting_a_role_one_partly_lacks_is_a_403_naming_the_first_missing_permissions(make_app):
    app = make_app(CUSTOM)
    users = users_of(app)
    users.create("hal", role="helpdesk")
    client = app.test_client()
    hal_h = bearer(login(client, "hal")["access_token"])
    r = client.post(f"{API}/users", headers=hal_h,
                    json={"username": "newt", "email": "newt@example.com", "role": "administrator"})
    error = assert_error(r, 403, "forbidden")
    assert error["message"] == ("You cannot grant the role administrator: it carries apps.manage, "
                                "apps.manage_all, audit.read, which you do not hold.")
    with app.test_request_context():
        with pytest.raises(PermissionDenied) as refused:
            require_grant(_get("hal"), "auditor")
        assert refused.value.permission == "audit.read"
        assert refused.value.message == ("You cannot grant the role auditor: it carries audit.read, "
                                         "which you do not hold.")


def test_nobody_changes_someone_who_holds_a_permission_they_lack(make_app):
    app = make_app(CUSTOM)
    users = users_of(app)
    users.create("hal", role="helpdesk")
    root, _ = users.create("root", role="administrator")
    paul, _ = users.create("paul", role="publisher")
    client = app.test_client()
    hal_h = bearer(login(client, "hal")["access_token"])
    r = client.post(f"{API}/users/{root.id}/reset-link", headers=hal_h)
    assert assert_error(r, 403, "forbidden")["message"] == (
        "You cannot change root: they hold permissions you do not (apps.manage, apps.manage_all, audit.read).")
    r = client.post(f"{API}/users/{paul.id}/reset-link", headers=hal_h)
    assert assert_error(r, 403, "forbidden")["message"] == (
        "You cannot change paul: they hold permissions you do not (apps.manage, documents.create, "
        "documents.share).")
    vic, _ = users.create("vic")
    assert client.post(f"{API}/users/{vic.id}/reset-link", headers=hal_h).status_code == 200
    with app.test_request_context():
        hal, root = _get("hal"), _get("root")
        with pytest.raises(PermissionDenied) as refused:
            require_outranks(hal, root)
        assert refused.value.permission == "apps.manage"
        assert require_outranks(None, root) is None  # the command line
        assert require_outranks(hal, hal) is None  # oneself
        assert require_outranks(root, hal) is None


def test_a_permission_a_plugin_gives_but_never_defines_does_not_outrank(make_app):
    app = make_app(CUSTOM, plugins=[GivesUndefined()])
    users = users_of(app)
    users.create("hal", role="helpdesk")
    vic, _ = users.create("vic")
    client = app.test_client()
    hal_h = bearer(login(client, "hal")["access_token"])
    assert client.post(f"{API}/users/{vic.id}/reset-link", headers=hal_h).status_code == 200
    with app.test_request_context():
        assert "exports.run" in permissions_of(_get("vic"))
        assert require_outranks(_get("hal"), _get("vic")) is None
