"""Schemathesis against the API's own description, /api/v1/openapi.json (issue 6, item 9):
for every operation it generates valid and invalid requests and checks that none answers
5xx and that every answer matches the document (status code, content type, headers,
body schema). The app runs in-process (WSGI) on the suite's database.

Bounded: a fixed number of examples per operation, derandomized (the same requests on
every run, so a failure repeats), and a deadline per example.
"""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (content_type_conformance, not_a_server_error, response_headers_conformance,
                                 response_schema_conformance, status_code_conformance)

from api_support import API, in_db, users_of
from keystead import accounts
from keystead.models import User
from keystead.tokens import issue_token_pair

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]
EXAMPLES = 25


@pytest.fixture
def fuzzed_app(make_app):
    app = make_app({"Server.RateLimits": False})
    app.config["TESTING"] = False  # errors answer as in production, never propagate
    factory = users_of(app)
    factory.create("fuzzadmin", role="administrator")
    factory.create("grace")
    return app


def admin_token(app) -> str:
    """A fresh token of the fuzzing administrator, who is brought back first if an earlier
    example demoted, locked or deleted them (the fuzzer acts as an administrator)."""
    def make():
        user = User.get_or_none(User.username_key == "fuzzadmin")
        if user is None:
            user = accounts.create_user("fuzzadmin", None, "correct-horse-battery-staple-42",
                                        role="administrator")
        elif user.locked or not user.is_admin:
            User.update(locked=False, role="administrator").where(User.id == user.id).execute()
            user = User.get_by_id(user.id)
        return issue_token_pair(user)["access_token"]
    return in_db(app, make)


def _described(error: BaseException) -> str:
    """A failure with what schemathesis says of it (the request to reproduce it included)."""
    import traceback
    return "".join(traceback.format_exception_only(error))[-4000:]


SETTINGS = settings(max_examples=EXAMPLES, deadline=5000, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
def test_every_operation_answers_as_documented(fuzzed_app, mode):
    """Each operation in turn (the failures of all of them are reported together)."""
    schema = schemathesis.openapi.from_wsgi(f"{API}/openapi.json", fuzzed_app)
    failures, operations = [], 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @SETTINGS
        @given(case=operation.as_strategy(generation_mode=mode))
        def run(case):
            # A fresh administrator token for each request: an earlier example may have
            # logged out, changed the password or revoked the tokens of the one before.
            token = admin_token(fuzzed_app)
            headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            run()
        except Unsatisfiable:  # nothing to make invalid: an operation without parameters
            assert mode is GenerationMode.NEGATIVE and not list(operation.iter_parameters())
        except (Exception, BaseExceptionGroup) as e:  # schemathesis raises a group of its failures
            failures.append(f"{operation.label}: {_described(e)}")
    assert operations >= 40
    assert not failures, f"{len(failures)} of {operations} operations:\n\n" + "\n\n".join(failures)


# ---------------------------------------------------------------- what the fuzzers found

def test_an_audit_page_beyond_64_bits_is_422_not_500(fuzzed_app):
    """Found by schemathesis: ?page=25667175647485448159232 reached the database driver."""
    client = fuzzed_app.test_client()
    token = admin_token(fuzzed_app)
    r = client.get(f"{API}/audit?page=25667175647485448159232", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 422 and "page" in r.get_json()["error"]["fields"]


def test_the_audit_page_in_the_browser_clamps_a_huge_page_number(make_app):
    from conftest import AuthActions
    app = make_app()
    users_of(app).create("auditor", role="administrator")
    client = app.test_client()
    AuthActions(client).login("auditor")
    assert client.get("/admin/audit?page=25667175647485448159232").status_code == 200


def test_a_nul_in_an_audit_filter_is_a_400_naming_it_instead_of_failing(fuzzed_app):
    """Found by schemathesis on PostgreSQL, which refuses NUL in text: now refused before
    the query, like a NUL in any query parameter."""
    client = fuzzed_app.test_client()
    token = admin_token(fuzzed_app)
    for name in ("person", "actor"):
        r = client.get(f"{API}/audit?{name}=h%27%00", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 400 and set(r.get_json()["error"]["fields"]) == {name}


def test_a_username_whose_folded_form_is_too_long_is_422_not_500(fuzzed_app):
    """Found by the username property: 64 × "ß" folds to 128 characters, which the unique
    column (varchar 64 on PostgreSQL) cannot hold."""
    r = fuzzed_app.test_client().post(f"{API}/auth/register", json={
        "username": "ß" * 64, "email": "long@example.com", "password": "correct-horse-battery-staple-42"})
    assert r.status_code == 422 and "ß as ss" in r.get_json()["error"]["fields"]["username"]
    r = fuzzed_app.test_client().post(f"{API}/auth/register", json={
        "username": "ß" * 32, "email": "ok@example.com", "password": "correct-horse-battery-staple-42"})
    assert r.status_code == 201


def test_an_api_key_id_beyond_64_bits_is_404_not_500(fuzzed_app):
    """Found by schemathesis: DELETE /users/me/api-keys/1514964666960247331295745540096."""
    client = fuzzed_app.test_client()
    token = admin_token(fuzzed_app)
    r = client.delete(f"{API}/users/me/api-keys/1514964666960247331295745540096",
                      headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 404
