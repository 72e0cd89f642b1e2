"""Issue 18: personal API keys are found only by their whole exact key, for an unlocked
person whose uniquifier the row keeps; revoking finds only the owner's key; the limits and
messages are the ones people read; last use is written at most once a minute (on a
controllable clock). Written to kill the mutants mutmut found surviving in app/apikeys.py
(docs/testing.md)."""
from __future__ import annotations

import hashlib
import re
import time

import pytest
import time_machine
from conftest import STRONG_PASSWORD, UserFactory

from keystead import apikeys
from keystead.audit.models import AuditEvent
from keystead.errors import NotFound, ValidationFailed
from keystead.models import User


@pytest.fixture
def people(app):
    factory = UserFactory(app)
    factory.create("ada")
    factory.create("grace")
    return app


def _user(name):
    return User.get(User.username == name)


def test_a_key_reads_ks_id_secret_and_is_stored_as_its_digest(people):
    with people.test_request_context():
        record, key = apikeys.create_api_key(_user("ada"), "  laptop  ")
        assert re.fullmatch(r"ks_[A-Za-z0-9]{12}_[A-Za-z0-9_-]{43}", key)
        assert key.split("_")[1] == record.key_id
        assert record.name == "laptop"
        assert record.digest == hashlib.sha256(key.encode()).hexdigest()
        assert record.user_key == _user("ada").uniquifier
        event = AuditEvent.get(AuditEvent.event == "api_key_create")
        assert event.actor_name == event.target_name == "ada" and '"name": "laptop"' in event.details


def test_only_the_whole_exact_key_of_an_unlocked_person_is_found(people):
    with people.test_request_context():
        record, key = apikeys.create_api_key(_user("ada"), "laptop")
        assert apikeys.find_api_key(key).id == record.id
        other_secret = key[:-1] + ("A" if key[-1] != "A" else "B")
        for wrong in (other_secret, key + "x", " " + key, key.upper(), "", None):
            assert apikeys.find_api_key(wrong) is None, wrong
        User.update(locked=True).where(User.username == "ada").execute()
        assert apikeys.find_api_key(key) is None
        User.update(locked=False).where(User.username == "ada").execute()
        assert apikeys.find_api_key(key).id == record.id
        User.update(uniquifier="a-new-uniquifier").where(User.username == "ada").execute()
        assert apikeys.find_api_key(key) is None


def test_last_use_is_written_on_first_use_then_at_most_once_a_minute(people):
    with time_machine.travel(time.time(), tick=False) as clock, people.test_request_context():
        record, key = apikeys.create_api_key(_user("ada"), "laptop")
        assert record.last_used_at is None
        apikeys.find_api_key(key)
        first = apikeys.ApiKey.get_by_id(record.id).last_used_at
        assert first is not None
        clock.shift(59)
        apikeys.find_api_key(key)
        assert apikeys.ApiKey.get_by_id(record.id).last_used_at == first
        clock.shift(2)  # 61 seconds after the first use
        apikeys.find_api_key(key)
        assert apikeys.ApiKey.get_by_id(record.id).last_used_at > first


@pytest.mark.parametrize("key_id", ["abc", None, 0, -1, 2**63, "1.5"])
def test_revoking_a_key_id_that_is_no_id_is_not_found(people, key_id):
    with people.test_request_context(), pytest.raises(NotFound) as e:
        apikeys.revoke_api_key(_user("ada"), key_id, actor=None)
    assert str(e.value) == "No such API key."


def test_revoking_finds_only_the_owners_key(people):
    with people.test_request_context():
        record, key = apikeys.create_api_key(_user("ada"), "laptop")
        with pytest.raises(NotFound) as e:
            apikeys.revoke_api_key(_user("grace"), record.id, actor=None)
        assert str(e.value) == f"grace has no API key {record.id}."
        assert apikeys.find_api_key(key) is not None
        assert apikeys.revoke_api_key(_user("ada"), str(record.id), actor=_user("ada")).id == record.id
        assert apikeys.find_api_key(key) is None
        event = AuditEvent.get(AuditEvent.event == "api_key_revoke")
        assert event.target_name == "ada" and f'"id": {record.id}' in event.details
        assert '"name": "laptop"' in event.details
        with pytest.raises(NotFound):
            apikeys.revoke_api_key(_user("ada"), record.id, actor=None)


def test_revoking_all_keys_counts_and_records_only_the_owners(people):
    with people.test_request_context():
        for n in range(3):
            apikeys.create_api_key(_user("ada"), f"key {n}")
        _, grace_key = apikeys.create_api_key(_user("grace"), "hers")
        assert apikeys.revoke_all_api_keys(_user("ada"), actor=None, reason="password_reset") == 3
        assert apikeys.list_api_keys(_user("ada")) == [] and apikeys.find_api_key(grace_key) is not None
        events = list(AuditEvent.select().where(AuditEvent.event == "api_key_revoke"))
        assert len(events) == 1 and '"count": 3' in events[0].details and '"password_reset"' in events[0].details
        assert apikeys.revoke_all_api_keys(_user("ada"), actor=None, reason="lock") == 0
        assert AuditEvent.select().where(AuditEvent.event == "api_key_revoke").count() == 1


@pytest.mark.parametrize("name", [None, "", "   ", 42])
def test_a_key_needs_a_name(people, name):
    with people.test_request_context(), pytest.raises(ValidationFailed) as e:
        apikeys.create_api_key(_user("ada"), name)
    assert e.value.fields == {"name": "Give the key a name."}


def test_a_person_has_at_most_fifty_keys(people):
    with people.test_request_context():
        for n in range(apikeys.MAX_KEYS_PER_USER - 1):
            apikeys.create_api_key(_user("ada"), f"key {n}")
        apikeys.create_api_key(_user("ada"), "the fiftieth")
        with pytest.raises(ValidationFailed) as e:
            apikeys.create_api_key(_user("ada"), "one more")
        assert e.value.fields == {"name": "You have 50 keys; revoke one first."}
        apikeys.create_api_key(_user("grace"), "hers")  # the limit is per person
        assert [k.name for k in apikeys.list_api_keys(_user("ada"))][:2] == ["key 0", "key 1"]


def test_a_wrong_password_and_a_missing_name_are_reported_together(people):
    with people.test_request_context(), pytest.raises(ValidationFailed) as e:
        apikeys.create_api_key_with_password(_user("ada"), "", "not-the-password")
    assert set(e.value.fields) == {"current_password", "name"}
    with people.test_request_context():
        record, key = apikeys.create_api_key_with_password(_user("ada"), "laptop", STRONG_PASSWORD)
        assert apikeys.find_api_key(key).id == record.id


def _events(name):
    import json
    return [(e.actor_name, e.target_name, e.outcome, json.loads(e.details))
            for e in AuditEvent.select().where(AuditEvent.event == name).order_by(AuditEvent.id)]


def test_creating_and_revoking_keys_is_recorded_in_full(people):
    with people.test_request_context():
        ada, grace = _user("ada"), _user("grace")
        one, _ = apikeys.create_api_key(ada, "laptop")
        two, _ = apikeys.create_api_key(ada, "phone")
        assert _events("api_key_create") == [("ada", "ada", "success", {"name": "laptop", "id": one.id}),
                                             ("ada", "ada", "success", {"name": "phone", "id": two.id})]
        apikeys.revoke_api_key(ada, one.id, actor=grace)
        apikeys.revoke_all_api_keys(ada, actor=grace, reason="password_reset")
        assert _events("api_key_revoke") == [
            ("grace", "ada", "success", {"id": one.id, "name": "laptop"}),
            ("grace", "ada", "success", {"all": True, "count": 1, "reason": "password_reset"})]


def test_revoking_one_key_leaves_the_others(people):
    with people.test_request_context():
        one, _ = apikeys.create_api_key(_user("ada"), "laptop")
        _, two = apikeys.create_api_key(_user("ada"), "phone")
        _, hers = apikeys.create_api_key(_user("grace"), "hers")
        apikeys.revoke_api_key(_user("ada"), one.id, actor=None)
        assert apikeys.find_api_key(two) is not None and apikeys.find_api_key(hers) is not None


def test_a_key_with_a_large_id_is_revoked(people):
    with people.test_request_context():
        record, key = apikeys.create_api_key(_user("ada"), "laptop")
        apikeys.ApiKey.update(id=10**6).where(apikeys.ApiKey.id == record.id).execute()
        assert apikeys.revoke_api_key(_user("ada"), 10**6, actor=None).name == "laptop"
        assert apikeys.find_api_key(key) is None


def test_using_one_key_marks_only_that_key_and_not_again_at_exactly_a_minute(people):
    with time_machine.travel(int(time.time()), tick=False) as clock, people.test_request_context():
        one, key = apikeys.create_api_key(_user("ada"), "laptop")
        other, _ = apikeys.create_api_key(_user("ada"), "phone")
        apikeys.find_api_key(key)
        first = apikeys.ApiKey.get_by_id(one.id).last_used_at
        assert apikeys.ApiKey.get_by_id(other.id).last_used_at is None
        clock.shift(60)
        apikeys.find_api_key(key)
        assert apikeys.ApiKey.get_by_id(one.id).last_used_at == first
