"""Issue 18: single-use links last their documented lifetimes (reset 1 hour, verification
24 hours, confirmation 7 days; on a controllable clock), open only their own purpose and
person, end only the earlier links of the same person and purpose, and are refused in any
other spelling. Written to kill the mutants mutmut found surviving in app/links.py
(docs/testing.md)."""
from __future__ import annotations

import time

import pytest
import time_machine
from conftest import UserFactory

from keystead import links
from keystead.models import OneTimeLink, User

LIFETIME = {"reset": 3600, "verify": 24 * 3600, "confirm": 7 * 24 * 3600}


@pytest.fixture
def people(app):
    factory = UserFactory(app)
    factory.create("ada")
    factory.create("grace")
    return app


def _user(name):
    return User.get(User.username == name)


def _valid(token, purpose) -> bool:
    try:
        links.peek_link(token, purpose)
        return True
    except links.InvalidLink:
        return False


@pytest.mark.parametrize("purpose", ["reset", "verify", "confirm"])
def test_a_link_lasts_its_documented_lifetime(people, purpose):
    with time_machine.travel(int(time.time()), tick=False) as clock, people.test_request_context():
        token = links.make_link_token(_user("ada"), purpose)
        url, expires_at = links.pending_link(_user("ada"), purpose)
        assert url == links.link_url(token, purpose)
        assert expires_at == int(time.time()) + LIFETIME[purpose]
        clock.shift(LIFETIME[purpose] - 1)
        assert _valid(token, purpose)
        assert links.pending_link(_user("ada"), purpose) is not None
        clock.shift(1)  # the very second it expires
        assert not _valid(token, purpose)
        assert links.pending_link(_user("ada"), purpose) is None


def test_a_link_opens_only_its_own_purpose(people):
    with people.test_request_context():
        token = links.make_link_token(_user("ada"), "reset")
        assert not _valid(token, "verify") and not _valid(token, "confirm")
        assert links.peek_link(token, "reset").username == "ada"


def test_a_new_link_ends_only_the_earlier_one_of_the_same_person_and_purpose(people):
    with people.test_request_context():
        ada_reset = links.make_link_token(_user("ada"), "reset")
        ada_verify = links.make_link_token(_user("ada"), "verify")
        grace_reset = links.make_link_token(_user("grace"), "reset")
        newer = links.make_link_token(_user("ada"), "reset")
        assert not _valid(ada_reset, "reset")
        assert _valid(newer, "reset") and _valid(ada_verify, "verify") and _valid(grace_reset, "reset")
        assert links.pending_link(_user("ada"), "reset")[0] == links.link_url(newer, "reset")


def test_ending_a_persons_links_leaves_others_alone(people):
    with people.test_request_context():
        ada = links.make_link_token(_user("ada"), "verify")
        grace = links.make_link_token(_user("grace"), "verify")
        links.end_links(_user("ada"))
        assert not _valid(ada, "verify") and _valid(grace, "verify")


def test_a_link_is_spent_once_and_only_itself(people):
    with people.test_request_context():
        ada = links.make_link_token(_user("ada"), "verify")
        grace = links.make_link_token(_user("grace"), "verify")
        assert links.consume_link(ada, "verify").username == "ada"
        with pytest.raises(links.InvalidLink):
            links.consume_link(ada, "verify")
        assert _valid(grace, "verify")


def test_a_link_ends_when_the_password_or_the_address_changes(people):
    from keystead.accounts import hash_new_password
    with people.test_request_context():
        by_password = links.make_link_token(_user("ada"), "reset")
        User.update(password_hash=hash_new_password("Another-Long-Secret-456")).where(
            User.username == "ada").execute()
        assert not _valid(by_password, "reset")
        by_address = links.make_link_token(_user("grace"), "verify")
        User.update(email="grace2@example.com", email_key="grace2@example.com").where(
            User.username == "grace").execute()
        assert not _valid(by_address, "verify")
        assert links.pending_link(_user("grace"), "verify") is None


@pytest.mark.parametrize("bad", [None, "", 42, "x" * 513])
def test_a_token_that_is_no_token_is_refused(people, bad):
    with people.test_request_context(), pytest.raises(links.InvalidLink) as refused:
        links.peek_link(bad, "reset")
    assert refused.value.status == 400 and refused.value.code == "invalid_link"
    assert str(refused.value) == "This link is invalid, has expired or was already used."
    assert refused.value.fields == {"token": "This link is invalid, has expired or was already used."}


def test_a_token_in_another_spelling_or_for_another_row_is_refused(people):
    with people.test_request_context():
        token = links.make_link_token(_user("ada"), "reset")
        assert not _valid(token + "=", "reset")
        assert not _valid(links._serializer("reset").dumps("no-such-link"), "reset")
        row = OneTimeLink.get()
        OneTimeLink.update(user_key="someone-else").where(OneTimeLink.id == row.id).execute()
        assert not _valid(token, "reset")


def test_link_addresses_use_the_public_url_and_the_purposes_path(people):
    with people.test_request_context():
        assert links.link_url("TOKEN", "reset") == "http://keystead.test/reset-password/TOKEN"
        assert links.link_url("TOKEN", "verify") == "http://keystead.test/verify-email/TOKEN"
        assert links.link_url("TOKEN", "confirm") == "http://keystead.test/confirm/TOKEN"


def test_link_tokens_are_redacted_wherever_they_appear_in_a_line():
    line = ('GET /reset-password/abc.DEF-1 and "/verify-email/xyz" /confirm/q?x=1 /invite/i#f '
            '/other/keep')
    assert links.redact_link_tokens(line) == (
        'GET /reset-password/[redacted] and "/verify-email/[redacted]" /confirm/[redacted]?x=1 '
        '/invite/[redacted]#f /other/keep')


def test_address_fingerprints_tell_addresses_apart():
    assert links.address_fingerprint("a@example.com") != links.address_fingerprint("b@example.com")
    assert links.address_fingerprint(None) == links.address_fingerprint("") != links.address_fingerprint("-x")
    assert len(links.address_fingerprint(None)) == 32
