"""Identity mapping (app/identities.py): an outside identity maps to one local user, created
on first login and refreshed later; one user may hold several identities; outside names
become valid, unique usernames; provider groups follow the provider. And a provider that
fails inside a hook gives a clean page and a logged traceback."""
from __future__ import annotations

import logging

import pytest

from keystead import Identity, hookimpl
from keystead.accounts import create_user, username_problem
from keystead.errors import Conflict, NotFound, ProviderError
from keystead.groups import add_member, create_group
from keystead.identities import identities_of, link_identity, sync_groups, unlink_identity, valid_username_from
from keystead.login import log_in_with_password
from keystead.models import ExternalIdentity, Group, Membership, User
from keystead.plugins import hook
from conftest import STRONG_PASSWORD, csrf_from
from plugins import failing_provider, static_provider
from plugins.recorder import Recorder


def groups_of(user) -> set[str]:
    return {g.name for g in Group.select().join(Membership).where(Membership.user == user)}


def map_identity(**kw) -> User:
    return hook().keystead_map_identity(identity=Identity(**kw))


def test_first_login_creates_the_person_from_the_identity(app):
    with app.test_request_context():
        user = map_identity(provider="static", subject="s-1", username="ｇｒａｃｅ", email=" Grace@Example.COM ",
                            first_name="Grace", last_name="Hopper",
                            groups=["Navy", "navy", "  Engineers  ", "bad\x00name", "x" * 101, 5])
        assert user.username == "grace"  # NFKC: the full-width letters are ordinary ones
        assert (user.email, user.email_key, user.email_verified) == ("Grace@example.com", "grace@example.com", True)
        assert (user.first_name, user.last_name, user.provider) == ("Grace", "Hopper", "static")
        assert user.role == "viewer" and user.password_hash is None
        assert groups_of(user) == {"Navy", "Engineers"}  # one group per name; unusable names skipped


def test_later_logins_refresh_names_email_and_groups_but_not_the_username(app):
    with app.test_request_context():
        first = map_identity(provider="static", subject="s-1", username="grace", email="grace@example.com",
                             first_name="Grace", groups=["Navy"])
        again = map_identity(provider="static", subject="s-1", username="someone", email="admiral@example.com",
                             first_name="Admiral", last_name="Hopper", groups=["Admirals"])
        assert again.id == first.id and User.select().count() == 1
        assert (again.username, again.email, again.first_name, again.last_name) == \
            ("grace", "admiral@example.com", "Admiral", "Hopper")
        assert groups_of(again) == {"Admirals"}
        # a provider that says nothing about a field leaves it alone
        third = map_identity(provider="static", subject="s-1")
        assert (third.email, third.first_name) == ("admiral@example.com", "Admiral") and groups_of(third) == {"Admirals"}


def test_an_invalid_email_or_subject_from_outside_is_not_used(app):
    with app.test_request_context():
        user = map_identity(provider="static", subject="s-1", username="grace", email="not an email")
        assert user.email is None and not user.email_verified
        assert map_identity(provider="static", subject="") is None
        assert map_identity(provider="static", subject="x" * 256) is None


@pytest.mark.parametrize("raw", [None, "", "123", "ab", "login", "Login", "__.__", "x@example.com", "..abc",
                                 "Robot Smith", "名前", "ü" * 100, "a\u0301bc", "9lives", "tab\there"])
def test_outside_names_become_valid_unique_usernames(app, raw):
    with app.test_request_context():
        first = valid_username_from(raw, "oidcuser")
        assert username_problem(first) is None, first
        create_user(first, None)
        second = valid_username_from(raw, "oidcuser")
        assert username_problem(second) is None and second.casefold() != first.casefold()


def test_a_local_user_can_be_linked_to_several_identities(make_app):
    app = make_app({"Authentication.Provider": ["password", "static"]}, plugins=[static_provider])
    with app.test_request_context():
        ada = create_user("ada", "ada@example.com", STRONG_PASSWORD)
        link_identity(ada, "static", "robot-1")
        link_identity(ada, "oidc", "248289761001")
        link_identity(ada, "static", "robot-1")  # again: nothing changes
        assert identities_of(ada) == [("static", "robot-1"), ("oidc", "248289761001")]
        # logging in with the static directory's password now logs in as ada
        user = log_in_with_password("robot", "beep-boop-1234")
        assert user.id == ada.id and user.provider == "password" and User.select().count() == 1
        assert groups_of(user) == {"Engineers", "Ops"}
        assert map_identity(provider="oidc", subject="248289761001").id == ada.id
        # ada's own password still works: the link added a way in
        assert log_in_with_password("ada", STRONG_PASSWORD).id == ada.id


def test_an_identity_belongs_to_one_person(app):
    with app.test_request_context():
        ada = create_user("ada", "ada@example.com", STRONG_PASSWORD)
        bob = create_user("bob", "bob@example.com", STRONG_PASSWORD)
        link_identity(ada, "oidc", "sub-1")
        with pytest.raises(Conflict) as e:
            link_identity(bob, "oidc", "sub-1")
        assert e.value.code == "identity_taken"
        with pytest.raises(Conflict):
            link_identity(bob, "oidc", "")
        unlink_identity(ada, "oidc", "sub-1")
        with pytest.raises(NotFound):
            unlink_identity(ada, "oidc", "sub-1")
        assert not ExternalIdentity.select().exists()
        # unlinked, the identity's next login makes a person of its own
        assert map_identity(provider="oidc", subject="sub-1", username="ada").username == "ada_2"


def test_deleting_a_person_deletes_their_identities(app):
    from keystead.accounts import delete_user
    with app.test_request_context():
        create_user("admin1", "a@example.com", STRONG_PASSWORD, role="administrator")
        user = map_identity(provider="static", subject="s-1", username="grace")
        delete_user(user)
        assert not ExternalIdentity.select().exists()
        again = map_identity(provider="static", subject="s-1", username="grace")
        assert again.username == "grace" and User.select().count() == 2  # made anew


def test_provider_groups_follow_the_provider_and_hand_made_memberships_stay(make_app):
    recorder = Recorder()
    app = make_app(plugins=[recorder])
    with app.test_request_context():
        user = create_user("ada", "ada@example.com", STRONG_PASSWORD)
        add_member(create_group("Club"), user)            # by an administrator
        sync_groups(user, ["Navy", "Club"], provider="oidc")
        sync_groups(user, ["Lab"], provider="static")
        assert groups_of(user) == {"Club", "Navy", "Lab"}
        recorder.events.clear()
        sync_groups(user, [], provider="oidc")           # oidc names no group any more
        assert groups_of(user) == {"Club", "Lab"}       # Club was added by hand, Lab by static
        assert [(e[0], e[4]["action"], e[4]["group"]) for e in recorder.events] == \
            [("group_change", "remove_member", "Navy")]
        sync_groups(user, ["Navy"], provider="oidc")
        assert ("group_change", "add_member") in [(e[0], e[4]["action"]) for e in recorder.events]


# ---------------------------------------------------------------- a provider that fails

def test_a_provider_that_raises_gives_a_clean_page_and_a_logged_traceback(make_app, caplog):
    app = make_app({"Authentication.Provider": ["failing", "password"]}, plugins=[failing_provider])
    client = app.test_client()
    token = csrf_from(client.get("/login").get_data(as_text=True))
    with caplog.at_level(logging.ERROR, logger="keystead"):
        r = client.post("/login", data={"csrf_token": token, "username": "ada", "password": "whatever-it-is"})
    assert r.status_code == 502
    page = r.get_data(as_text=True)
    assert "Sign-in failed" in page and "sign-in provider failed" in page
    assert "Traceback" not in page and "RuntimeError" not in page and "hunter2" not in page
    logged = [rec for rec in caplog.records if "provider failing failed in keystead_authenticate" in rec.getMessage()]
    assert logged and logged[0].exc_info and logged[0].exc_info[0] is RuntimeError
    assert client.get("/profile").status_code == 302  # nobody signed in


def test_a_provider_that_raises_gives_the_api_a_clean_error(make_app, caplog):
    app = make_app({"Authentication.Provider": ["failing", "password"]}, plugins=[failing_provider])
    with caplog.at_level(logging.ERROR, logger="keystead"):
        r = app.test_client().post("/api/v1/auth/login", json={"username": "ada", "password": "whatever-it-is"})
    assert r.status_code == 502 and r.json["error"]["code"] == "provider_error"
    assert "hunter2" not in r.get_data(as_text=True)
    assert any(rec.exc_info for rec in caplog.records)
    with app.test_request_context():
        with pytest.raises(ProviderError):
            log_in_with_password("ada", "whatever-it-is")


class FailingMapper:
    @hookimpl
    def keystead_map_identity(self, identity):
        raise KeyError("mapping table is missing")


def test_a_plugin_whose_mapping_raises_stops_the_login_cleanly(make_app, caplog):
    app = make_app({"Authentication.Provider": ["password", "static"]}, plugins=[static_provider, FailingMapper()])
    client = app.test_client()
    token = csrf_from(client.get("/login").get_data(as_text=True))
    with caplog.at_level(logging.ERROR, logger="keystead"):
        r = client.post("/login", data={"csrf_token": token, "username": "robot", "password": "beep-boop-1234"})
    assert r.status_code == 502 and "mapping table" not in r.get_data(as_text=True)
    assert any("keystead_map_identity" in rec.getMessage() and rec.exc_info for rec in caplog.records)
