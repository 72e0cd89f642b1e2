"""Issue 14: the sign-up policy administrators control. Approval (Password.SignupApproval:
pending sign-ups wait for a holder of `people.approve`, who are mailed; the person is mailed
the decision; pending and rejected people get no session and no token), allowed email
domains (Password.AllowedEmailDomains, for sign-up and one's own address change) and terms
of service (Password.TermsURL and TermsVersion: accepted at sign-up, asked again after a
new version). Through the API, the browser pages (test client and Chromium) and the CLI."""
from __future__ import annotations

import re

import pytest
from api_support import API, assert_error, bearer, in_db, login, users_of
from conftest import STRONG_PASSWORD, csrf_from, outbox_idle, wait_for
from live import browser, live_server, make_live_server, watch_policy_violations  # noqa: F401  (fixtures)
from pages import error_beside

from keystead.identity import Identity
from keystead.models import User

APPROVAL = {"Password.SignupApproval": True}
APPROVER_ROLE = {"Authorization.Roles": {"approver": {"permissions": ["people.approve"]}}}
TERMS_V1 = {"Password.TermsURL": "https://example.com/terms", "Password.TermsVersion": "1"}
TERMS_V2 = {"Password.TermsURL": "https://example.com/terms", "Password.TermsVersion": "2"}


def register(client, username="grace", email=None, **extra):
    body = {"username": username, "email": email or f"{username}@example.com", "password": STRONG_PASSWORD,
            **extra}
    return client.post(f"{API}/auth/register", json=body)


def api_login(client, username, password=STRONG_PASSWORD, **extra):
    return client.post(f"{API}/auth/login", json={"username": username, "password": password, **extra})


def with_role(app, username: str, role: str) -> None:
    """Give `username` a role directly (custom roles: create_user takes built-in ones)."""
    in_db(app, lambda: User.update(role=role).where(User.username_key == username).execute())


def person(app, username: str) -> User:
    return in_db(app, lambda: User.get(User.username_key == username))


def audit_events(client, headers, event: str) -> list[dict]:
    r = client.get(f"{API}/audit?event={event}", headers=headers)
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_json()["results"]


def mail_subjects(box, address: str) -> list[str]:
    return [str(m["Subject"]) for m in box.to(address)]


# ---------------------------------------------------------------- approval: API

def test_signup_with_approval_on_answers_201_pending_without_tokens(make_app):
    app = make_app(APPROVAL)
    users_of(app).create("root", role="administrator")
    r = register(app.test_client())
    assert r.status_code == 201
    body = r.get_json()
    assert body["status"] == "pending" and body["role"] == "viewer"
    assert "access_token" not in body and "refresh_token" not in body
    assert person(app, "grace").status == "pending"


def test_pending_person_cannot_log_in_through_the_api_and_only_the_password_learns_why(make_app):
    app = make_app(APPROVAL)
    users_of(app).create("root", role="administrator")
    client = app.test_client()
    register(client)
    assert_error(api_login(client, "grace"), 403, "approval_pending")
    assert_error(api_login(client, "grace@example.com"), 403, "approval_pending")
    # A wrong password learns nothing: the same 401 as for nobody at all.
    assert_error(api_login(client, "grace", "not-the-password-at-all"), 401, "invalid_credentials")
    assert_error(api_login(client, "nobody", "not-the-password-at-all"), 401, "invalid_credentials")


def test_without_approval_a_signup_is_active_at_once(make_app):
    app = make_app()
    users_of(app).create("root", role="administrator")
    client = app.test_client()
    assert register(client).get_json()["status"] == "active"
    assert api_login(client, "grace").status_code == 200


def test_the_first_account_is_never_pending(make_app):
    app = make_app(APPROVAL)  # a database never initialised: the first sign-up is the administrator
    client = app.test_client()
    body = register(client, "founder").get_json()
    assert (body["role"], body["status"]) == ("administrator", "active")
    assert api_login(client, "founder").status_code == 200
    # The next one waits.
    assert register(client, "second").get_json()["status"] == "pending"


def test_accounts_administrators_create_are_active(make_app):
    app = make_app(APPROVAL)
    users_of(app).create("root", role="administrator")
    client = app.test_client()
    h = bearer(login(client, "root")["access_token"])
    r = client.post(f"{API}/users", json={"username": "made", "email": "made@example.com",
                                          "password": STRONG_PASSWORD}, headers=h)
    assert r.status_code == 201 and r.get_json()["status"] == "active"
    assert api_login(client, "made").status_code == 200


def test_pending_signup_is_audited_and_mailed_to_every_approver_only(make_app, smtp):
    box, mail = smtp
    app = make_app({**APPROVAL, **APPROVER_ROLE, **mail})
    users = users_of(app)
    users.create("root", role="administrator", email="root@example.com")
    users.create("appy", email="appy@example.com")
    with_role(app, "appy", "approver")
    users.create("vera", email="vera@example.com")
    users.create("pub", role="publisher", email="pub@example.com")
    client = app.test_client()
    assert register(client, first_name="Grace", last_name="Hopper").status_code == 201
    assert wait_for(lambda: box.to("root@example.com") and box.to("appy@example.com"))
    assert outbox_idle(app)
    for approver in ("root@example.com", "appy@example.com"):
        [msg] = box.to(approver)
        assert msg["Subject"] == "Keystead: A sign-up waits for your approval"
        text = box.text_of(msg)
        assert "grace (Grace Hopper), grace@example.com" in text
        assert "/admin/approvals" in text
    assert box.to("vera@example.com") == [] and box.to("pub@example.com") == []
    # The person hears only of their address (a verification link) until the decision.
    assert mail_subjects(box, "grace@example.com") == ["Keystead: Verify your email address"]
    h = bearer(login(client, "root")["access_token"])
    [event] = audit_events(client, h, "signup_pending")
    assert event["actor"]["username"] == event["target"]["username"] == "grace"


def test_approve_lets_them_log_in_and_mails_them(make_app, smtp):
    box, mail = smtp
    app = make_app({**APPROVAL, **mail})
    users_of(app).create("root", role="administrator", email="root@example.com")
    client = app.test_client()
    grace_id = register(client).get_json()["id"]
    h = bearer(login(client, "root")["access_token"])
    r = client.post(f"{API}/users/{grace_id}/approve", headers=h)
    assert r.status_code == 200 and r.get_json()["status"] == "active"
    assert wait_for(lambda: "Keystead: Your account was approved" in mail_subjects(box, "grace@example.com"))
    [msg] = [m for m in box.to("grace@example.com") if "approved" in str(m["Subject"])]
    assert "/login" in box.text_of(msg)
    assert api_login(client, "grace").status_code == 200
    # Deciding again is a conflict: they are not pending any more.
    assert_error(client.post(f"{API}/users/{grace_id}/approve", headers=h), 409, "not_pending")
    assert_error(client.post(f"{API}/users/{grace_id}/reject", headers=h), 409, "not_pending")
    [event] = audit_events(client, h, "signup_approved")
    assert (event["actor"]["username"], event["target"]["username"]) == ("root", "grace")


def test_reject_mails_them_and_keeps_them_out(make_app, smtp):
    box, mail = smtp
    app = make_app({**APPROVAL, **mail})
    users_of(app).create("root", role="administrator", email="root@example.com")
    client = app.test_client()
    grace_id = register(client).get_json()["id"]
    h = bearer(login(client, "root")["access_token"])
    r = client.post(f"{API}/users/{grace_id}/reject", headers=h)
    assert r.status_code == 200 and r.get_json()["status"] == "rejected"
    assert wait_for(lambda: "Keystead: Your sign-up was not approved" in mail_subjects(box, "grace@example.com"))
    assert_error(api_login(client, "grace"), 403, "approval_rejected")
    assert_error(api_login(client, "grace", "not-the-password-at-all"), 401, "invalid_credentials")
    assert len(audit_events(client, h, "signup_rejected")) == 1


def test_a_decision_without_mail_configured_is_recorded_as_not_mailed(make_app):
    app = make_app(APPROVAL)
    users_of(app).create("root", role="administrator")
    client = app.test_client()
    grace_id = register(client).get_json()["id"]
    h = bearer(login(client, "root")["access_token"])
    assert client.post(f"{API}/users/{grace_id}/approve", headers=h).status_code == 200
    [event] = audit_events(client, h, "notice_not_mailed")
    assert event["details"]["notice"] == "signup_approved"


def test_viewer_and_publisher_cannot_approve_reject_or_list_pending(make_app):
    app = make_app(APPROVAL)
    users = users_of(app)
    users.create("root", role="administrator")
    users.create("vera")
    users.create("pub", role="publisher")
    client = app.test_client()
    grace_id = register(client).get_json()["id"]
    for name in ("vera", "pub"):
        h = bearer(login(client, name)["access_token"])
        for action in ("approve", "reject"):
            error = assert_error(client.post(f"{API}/users/{grace_id}/{action}", headers=h), 403, "forbidden")
            assert "people.approve" in error["message"]
        assert_error(client.get(f"{API}/users?status=pending", headers=h), 403, "forbidden")
    assert person(app, "grace").status == "pending"
    assert_error(client.post(f"{API}/users/{grace_id}/approve"), 401, "authentication_required")


def test_the_approval_service_itself_refuses_people_without_the_permission(make_app):
    """The pages, the API and the CLI share approve/reject: the check is in them too."""
    from keystead.authorization import PermissionDenied
    from keystead.signup.approval import approve, reject
    app = make_app(APPROVAL)
    users_of(app).create("root", role="administrator")
    vera = users_of(app).create("vera")[0]
    register(app.test_client())
    grace = person(app, "grace")
    with app.test_request_context():
        with app.extensions["keystead.db"].connection_context():
            for decide in (approve, reject):
                with pytest.raises(PermissionDenied):
                    decide(vera, grace)
    assert person(app, "grace").status == "pending"


def test_an_approver_by_custom_role_lists_only_pending_people_and_approves(make_app):
    app = make_app({**APPROVAL, **APPROVER_ROLE})
    users = users_of(app)
    users.create("root", role="administrator")
    users.create("appy")
    with_role(app, "appy", "approver")
    client = app.test_client()
    grace_id = register(client).get_json()["id"]
    h = bearer(login(client, "appy")["access_token"])
    r = client.get(f"{API}/users?status=pending", headers=h)
    assert r.status_code == 200
    assert [u["username"] for u in r.get_json()["results"]] == ["grace"]
    # Without people.read, everyone else stays out of sight.
    assert_error(client.get(f"{API}/users", headers=h), 403, "forbidden")
    assert_error(client.get(f"{API}/users?status=active", headers=h), 403, "forbidden")
    assert client.post(f"{API}/users/{grace_id}/approve", headers=h).get_json()["status"] == "active"
    assert api_login(client, "grace").status_code == 200


def test_the_people_list_filters_by_status(make_app):
    app = make_app(APPROVAL)
    users_of(app).create("root", role="administrator")
    client = app.test_client()
    register(client, "grace")
    ada_id = register(client, "ada").get_json()["id"]
    h = bearer(login(client, "root")["access_token"])
    client.post(f"{API}/users/{ada_id}/reject", headers=h)
    names = lambda status: [u["username"] for u in client.get(f"{API}/users?status={status}",  # noqa: E731
                                                                headers=h).get_json()["results"]]
    assert names("pending") == ["grace"]
    assert names("rejected") == ["ada"]
    assert names("active") == ["root"]
    assert client.get(f"{API}/users", headers=h).get_json()["total"] == 3
    assert assert_error(client.get(f"{API}/users?status=waiting", headers=h), 422)["fields"]["status"]


def test_approve_unknown_person_is_404(make_app, admin_h, client):
    assert_error(client.post(f"{API}/users/999999/approve", headers=admin_h), 404, "not_found")
    assert_error(client.post(f"{API}/users/999999/reject", headers=admin_h), 404, "not_found")


def test_first_login_through_an_outside_provider_waits_for_approval(make_app):
    from keystead.login import log_in_as_identity
    from keystead.signup.approval import ApprovalPending
    app = make_app(APPROVAL)
    users_of(app).create("root", role="administrator")
    with app.test_request_context():
        with app.extensions["keystead.db"].connection_context():
            with pytest.raises(ApprovalPending):
                log_in_as_identity(Identity(provider="static", subject="s-1", username="olga",
                                            email="olga@example.com"))
            assert User.get(User.username_key == "olga").status == "pending"


# ---------------------------------------------------------------- approval: CLI

def test_cli_lists_approves_and_rejects(make_app, smtp):
    box, mail = smtp
    app = make_app({**APPROVAL, **mail})
    users_of(app).create("root", role="administrator")
    client = app.test_client()
    register(client, "grace")
    register(client, "ada")
    runner = app.test_cli_runner()
    r = runner.invoke(args=["users", "pending"])
    assert r.exit_code == 0, r.output
    assert "grace" in r.output and "ada" in r.output and "2 waiting for approval" in r.output
    r = runner.invoke(args=["users", "approve", "grace"])
    assert r.exit_code == 0 and "grace is approved" in r.output
    r = runner.invoke(args=["users", "reject", "ada@example.com"])
    assert r.exit_code == 0 and "ada's sign-up is rejected" in r.output
    r = runner.invoke(args=["users", "approve", "ada"])
    assert r.exit_code == 1 and "not waiting for approval" in r.output
    r = runner.invoke(args=["users", "approve", "nobody"])
    assert r.exit_code == 1 and "no person named" in r.output
    assert "0 waiting" in runner.invoke(args=["users", "pending"]).output
    assert "rejected" in runner.invoke(args=["users", "show", "ada"]).output
    assert outbox_idle(app)
    assert wait_for(lambda: box.to("grace@example.com") and box.to("ada@example.com"))
    assert api_login(client, "grace").status_code == 200
    assert_error(api_login(client, "ada"), 403, "approval_rejected")


# ---------------------------------------------------------------- approval: browser (test client)

def register_page(client, username="grace", email=None, **extra):
    page = client.get("/register").get_data(as_text=True)
    data = {"csrf_token": csrf_from(page), "username": username, "email": email or f"{username}@example.com",
            "password": STRONG_PASSWORD, "password_confirm": STRONG_PASSWORD, **extra}
    return client.post("/register", data=data)


def login_page(client, username, password=STRONG_PASSWORD):
    page = client.get("/login").get_data(as_text=True)
    return client.post("/login", data={"csrf_token": csrf_from(page), "username": username,
                                       "password": password})


def test_browser_signup_and_login_of_a_pending_person_show_the_waiting_page_without_a_session(make_app):
    app = make_app(APPROVAL)
    users_of(app).create("root", role="administrator")
    client = app.test_client()
    r = register_page(client)
    assert r.status_code == 201 and "Waiting for approval" in r.get_data(as_text=True)
    assert client.get("/profile").status_code == 302  # to the login page: no session
    r = login_page(client, "grace")
    assert r.status_code == 403 and "waiting for an administrator" in r.get_data(as_text=True)
    assert client.get("/profile").status_code == 302
    r = login_page(client, "grace", "not-the-password-at-all")
    assert r.status_code == 401 and "Waiting" not in r.get_data(as_text=True)


def test_browser_login_of_a_rejected_person_says_so_without_a_session(make_app):
    app = make_app(APPROVAL)
    users_of(app).create("root", role="administrator")
    client = app.test_client()
    register(client)
    app.test_cli_runner().invoke(args=["users", "reject", "grace"])
    r = login_page(client, "grace")
    assert r.status_code == 403 and "not approved" in r.get_data(as_text=True)
    assert client.get("/profile").status_code == 302


def test_approvals_page_is_for_approvers_and_decides(make_app):
    app = make_app({**APPROVAL, **APPROVER_ROLE})
    users = users_of(app)
    users.create("root", role="administrator")
    users.create("vera")
    users.create("appy")
    with_role(app, "appy", "approver")
    register(app.test_client())
    viewer = app.test_client()
    login_page(viewer, "vera")
    assert viewer.get("/admin/approvals").status_code == 403
    assert "Approvals" not in viewer.get("/profile").get_data(as_text=True)
    approver = app.test_client()
    login_page(approver, "appy")
    page = approver.get("/admin/approvals").get_data(as_text=True)
    assert "grace" in page and "Approvals" in approver.get("/profile").get_data(as_text=True)
    grace = person(app, "grace")
    # The decision is a CSRF-protected form.
    assert approver.post(f"/admin/approvals/{grace.id}/approve").status_code == 400
    assert person(app, "grace").status == "pending"
    r = approver.post(f"/admin/approvals/{grace.id}/approve", data={"csrf_token": csrf_from(page)})
    assert r.status_code == 303
    assert "grace is approved" in approver.get("/admin/approvals").get_data(as_text=True)
    assert person(app, "grace").status == "active"
    # Approvers without people.read do not get the administrators' pages.
    assert approver.get("/admin/people").status_code == 403


# ---------------------------------------------------------------- allowed email domains

DOMAINS = {"Password.AllowedEmailDomains": ["example.com", "Example.ORG"]}


def test_signup_outside_the_allowed_domains_is_refused_naming_them(make_app):
    app = make_app(DOMAINS)
    users_of(app).create("root", role="administrator")
    client = app.test_client()
    error = assert_error(register(client, "mallory", "mallory@elsewhere.net"), 422, "validation_failed")
    assert "example.com" in error["fields"]["email"] and "example.org" in error["fields"]["email"]
    # Exactly the listed domains: a subdomain is another domain.
    assert_error(register(client, "sub", "sub@mail.example.com"), 422)
    assert_error(register(client, "look", "look@example.com.elsewhere.net"), 422)
    assert register(client, "grace", "grace@EXAMPLE.com").status_code == 201
    assert register(client, "ada", "ada@example.org").status_code == 201
    assert not in_db(app, lambda: User.select().where(User.username_key.in_(["mallory", "sub", "look"])).exists())


def test_own_address_change_outside_the_allowed_domains_is_refused(make_app):
    app = make_app(DOMAINS)
    users = users_of(app)
    users.create("root", role="administrator")
    users.create("vera")
    client = app.test_client()
    h = bearer(login(client, "vera")["access_token"])
    r = client.patch(f"{API}/users/me", json={"email": "vera@elsewhere.net", "current_password": STRONG_PASSWORD},
                     headers=h)
    assert "example.com" in assert_error(r, 422, "validation_failed")["fields"]["email"]
    assert person(app, "vera").email == "vera@example.com"
    r = client.patch(f"{API}/users/me", json={"email": "vera@example.org", "current_password": STRONG_PASSWORD},
                     headers=h)
    assert r.status_code == 200 and r.get_json()["email"] == "vera@example.org"


def test_own_address_change_on_the_profile_page_shows_the_domains_beside_the_field(make_app):
    app = make_app(DOMAINS)
    users_of(app).create("vera")
    client = app.test_client()
    login_page(client, "vera")
    page = client.get("/sudo").get_data(as_text=True)  # an address change asks for the password
    assert client.post("/sudo", data={"csrf_token": csrf_from(page), "password": STRONG_PASSWORD}).status_code == 303
    page = client.get("/profile").get_data(as_text=True)
    r = client.post("/profile", data={"csrf_token": csrf_from(page), "email": "vera@elsewhere.net",
                                      "first_name": "", "last_name": ""})
    assert r.status_code == 422
    assert "example.com, example.org" in error_beside(r.get_data(as_text=True), "email")
    assert person(app, "vera").email == "vera@example.com"


def test_administrators_are_not_bound_by_the_allowed_domains(make_app):
    app = make_app(DOMAINS)
    users = users_of(app)
    users.create("root", role="administrator")
    vera = users.create("vera")[0]
    client = app.test_client()
    h = bearer(login(client, "root")["access_token"])
    r = client.post(f"{API}/users", json={"username": "ext", "email": "ext@partner.net"}, headers=h)
    assert r.status_code == 201
    r = client.patch(f"{API}/users/{vera.id}", json={"email": "vera@partner.net"}, headers=h)
    assert r.status_code == 200 and r.get_json()["email"] == "vera@partner.net"


# ---------------------------------------------------------------- terms of service

def test_signup_needs_the_terms_accepted_and_records_the_acceptance(make_app):
    app = make_app(TERMS_V1)
    users_of(app).create("root", role="administrator")
    client = app.test_client()
    error = assert_error(register(client), 422, "validation_failed")
    assert set(error["fields"]) == {"accept_terms"}
    assert_error(register(client, accept_terms=False), 422)
    assert "accept_terms" in assert_error(register(client, accept_terms="yes"), 422)["fields"]
    assert not in_db(app, lambda: User.select().where(User.username_key == "grace").exists())
    body = register(client, accept_terms=True).get_json()
    assert body["terms_accepted_version"] == "1" and body["terms_accepted_at"].endswith("Z")
    me = client.get(f"{API}/users/me", headers=bearer(login(client, "grace")["access_token"])).get_json()
    assert me["terms_accepted_version"] == "1"
    # Shown to people who read people: the API and the admin person page.
    h = bearer(api_login(client, "root", accept_terms=True).get_json()["access_token"])
    assert client.get(f"{API}/users/{body['id']}", headers=h).get_json()["terms_accepted_version"] == "1"
    admin = app.test_client()
    login_page(admin, "root")  # root accepted above: no terms step
    facts = admin.get(f"/admin/people/{body['id']}").get_data(as_text=True)
    assert re.search(r'id="terms">version 1 accepted \d{4}-\d\d-\d\d', facts)


def test_without_terms_no_acceptance_is_asked(make_app):
    app = make_app()
    users_of(app).create("root", role="administrator")
    body = register(app.test_client()).get_json()
    assert body["terms_accepted_version"] is None


def test_a_new_terms_version_is_asked_once_at_the_next_api_login(make_app):
    app = make_app(TERMS_V1)
    users_of(app).create("root", role="administrator")
    client = app.test_client()
    register(client, accept_terms=True)
    old_tokens = login(client, "grace")
    app2 = make_app(TERMS_V2)  # the administrator publishes version 2
    client2 = app2.test_client()
    error = assert_error(api_login(client2, "grace"), 403, "terms_not_accepted")
    assert error["fields"] == {"accept_terms": "Accept the terms of service to continue."}
    assert "https://example.com/terms" in error["message"]
    # Only the right password learns it.
    assert_error(api_login(client2, "grace", "not-the-password-at-all"), 401, "invalid_credentials")
    assert_error(api_login(client2, "grace", accept_terms="yes"), 422)
    # Tokens issued before the new version keep working until they end.
    assert client2.get(f"{API}/users/me", headers=bearer(old_tokens["access_token"])).status_code == 200
    r = api_login(client2, "grace", accept_terms=True)
    assert r.status_code == 200 and r.get_json()["access_token"]
    assert person(app2, "grace").terms_accepted_version == "2"
    assert api_login(client2, "grace").status_code == 200  # asked once
    # People who never accepted (made by an administrator) are asked too.
    assert_error(api_login(client2, "root"), 403, "terms_not_accepted")
    h = bearer(api_login(client2, "root", accept_terms=True).get_json()["access_token"])
    events = {e["target"]["username"]: e["details"]["version"] for e in audit_events(client2, h, "terms_accept")}
    assert events == {"grace": "2", "root": "2"}


def test_with_two_factor_the_terms_are_asked_without_spending_the_code(make_app):
    from totp_support import code_for, enable_for
    app = make_app(TERMS_V1)
    users_of(app).create("vera")
    secret, _ = enable_for(app, "vera")
    client = app.test_client()
    assert_error(api_login(client, "vera"), 401, "otp_required")
    code = code_for(secret, 1)
    assert_error(api_login(client, "vera", otp=code), 403, "terms_not_accepted")
    assert person(app, "vera").terms_accepted_version is None
    # A wrong code with the terms accepted records nothing.
    assert_error(api_login(client, "vera", otp="000000" if code != "000000" else "111111", accept_terms=True),
                 401, "invalid_otp")
    assert person(app, "vera").terms_accepted_version is None
    r = api_login(client, "vera", otp=code, accept_terms=True)
    assert r.status_code == 200, r.get_data(as_text=True)
    assert person(app, "vera").terms_accepted_version == "1"


def test_the_browser_asks_for_new_terms_after_the_second_factor(make_app):
    from totp_support import code_for, enable_for
    app = make_app(TERMS_V1)
    users_of(app).create("vera")
    secret, _ = enable_for(app, "vera")
    client = app.test_client()
    r = login_page(client, "vera")
    assert r.headers["Location"].endswith("/login/two-factor")
    page = client.get("/login/two-factor").get_data(as_text=True)
    r = client.post("/login/two-factor", data={"csrf_token": csrf_from(page), "code": code_for(secret, 1)})
    assert r.status_code == 303 and r.headers["Location"].endswith("/login/terms")
    assert client.get("/profile").status_code == 302
    page = client.get("/login/terms").get_data(as_text=True)
    r = client.post("/login/terms", data={"csrf_token": csrf_from(page), "accept_terms": "y"})
    assert r.status_code == 303 and client.get("/profile").status_code == 200


def test_the_browser_asks_for_new_terms_before_the_session_starts(make_app):
    app = make_app(TERMS_V1)
    users_of(app).create("vera")
    client = app.test_client()
    r = login_page(client, "vera")
    assert r.status_code == 303 and r.headers["Location"].endswith("/login/terms")
    # Nothing is open until the terms are accepted.
    assert client.get("/profile").status_code == 302
    page = client.get("/login/terms").get_data(as_text=True)
    assert "https://example.com/terms" in page
    r = client.post("/login/terms", data={"csrf_token": csrf_from(page)})
    assert r.status_code == 400 and error_beside(r.get_data(as_text=True), "accept_terms")
    assert client.get("/profile").status_code == 302
    assert client.post("/login/terms", data={"accept_terms": "y"}).status_code == 400  # CSRF
    r = client.post("/login/terms", data={"csrf_token": csrf_from(page), "accept_terms": "y"})
    assert r.status_code == 303
    assert client.get("/profile").status_code == 200
    assert person(app, "vera").terms_accepted_version == "1"
    # Without a password step, the terms page sends to the login page.
    other = app.test_client()
    assert other.get("/login/terms").status_code == 302


# ---------------------------------------------------------------- Chromium

def _log_in_browser(page, server, username, password=STRONG_PASSWORD):
    page.goto(server("/login"))
    page.get_by_label("Username or email").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def _sign_up_browser(page, server, username, email):
    page.goto(server("/register"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(STRONG_PASSWORD)
    page.get_by_label("Repeat the password").fill(STRONG_PASSWORD)


@pytest.mark.browser
def test_chromium_pending_signup_waits_then_an_approver_by_custom_role_approves(browser, make_live_server):  # noqa: F811
    server = make_live_server({**APPROVAL, **APPROVER_ROLE})
    users = users_of(server.app)
    users.create("root", role="administrator")
    users.create("appy")
    with_role(server.app, "appy", "approver")

    grace = browser.new_context().new_page()
    grace.set_default_timeout(15000)
    violations = watch_policy_violations(grace)
    _sign_up_browser(grace, server, "grace", "grace@example.com")
    grace.get_by_role("button", name="Sign up").click()
    grace.wait_for_url(server("/register"))
    assert grace.get_by_role("heading", name="Waiting for approval").is_visible()
    _log_in_browser(grace, server, "grace")
    assert grace.get_by_role("heading", name="Waiting for approval").is_visible()
    grace.goto(server("/profile"))
    assert grace.url.startswith(server("/login"))  # no session was made

    approver = browser.new_context().new_page()
    approver.set_default_timeout(15000)
    _log_in_browser(approver, server, "appy")
    approver.wait_for_url(server("/profile"))
    approver.get_by_role("link", name="Approvals").click()
    approver.wait_for_url(server("/admin/approvals"))
    approver.get_by_role("button", name="Approve grace").click()
    approver.wait_for_url(server("/admin/approvals"))
    assert approver.get_by_text("grace is approved and can log in now.").is_visible()
    assert approver.locator("#no-pending").is_visible()

    _log_in_browser(grace, server, "grace")
    grace.wait_for_url(server("/profile"))
    assert violations == []


@pytest.mark.browser
def test_chromium_signup_refuses_an_address_outside_the_allowed_domains(browser, make_live_server):  # noqa: F811
    server = make_live_server(DOMAINS)
    users_of(server.app).create("root", role="administrator")
    page = browser.new_context().new_page()
    page.set_default_timeout(15000)
    _sign_up_browser(page, server, "mallory", "mallory@elsewhere.net")
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url(server("/register"))
    assert "example.com, example.org" in page.locator("#email-error").inner_text()
    page.get_by_label("Email").fill("mallory@example.org")
    page.get_by_label("Password", exact=True).fill(STRONG_PASSWORD)
    page.get_by_label("Repeat the password").fill(STRONG_PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url(server("/profile"))


@pytest.mark.browser
def test_chromium_terms_box_at_signup_and_again_after_a_new_version(browser, make_live_server):  # noqa: F811
    server = make_live_server(TERMS_V2)
    users_of(server.app).create("root", role="administrator")
    users_of(server.app).create("vera")
    in_db(server.app, lambda: User.update(terms_accepted_version="1").where(User.username_key == "vera").execute())

    page = browser.new_context().new_page()
    page.set_default_timeout(15000)
    violations = watch_policy_violations(page)
    _sign_up_browser(page, server, "grace", "grace@example.com")
    assert page.locator("#terms-link").get_attribute("href") == "https://example.com/terms"
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url(server("/register"))
    assert "Accept the terms" in page.locator("#accept_terms-error").inner_text()
    page.get_by_label("Password", exact=True).fill(STRONG_PASSWORD)
    page.get_by_label("Repeat the password").fill(STRONG_PASSWORD)
    page.get_by_label("I accept the terms of service").check()
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url(server("/profile"))
    assert person(server.app, "grace").terms_accepted_version == "2"

    vera = browser.new_context().new_page()
    vera.set_default_timeout(15000)
    _log_in_browser(vera, server, "vera")
    vera.wait_for_url(server("/login/terms"))
    assert vera.get_by_text("version 2").is_visible()
    vera.goto(server("/profile"))
    assert vera.url.startswith(server("/login"))  # no session before accepting
    _log_in_browser(vera, server, "vera")
    vera.wait_for_url(server("/login/terms"))
    vera.get_by_label("I accept the terms of service").check()
    vera.get_by_role("button", name="Continue").click()
    vera.wait_for_url(server("/profile"))
    assert person(server.app, "vera").terms_accepted_version == "2"
    assert violations == []


def test_a_groups_approvers_are_mailed_and_approve_while_they_are_members(make_app, smtp):
    """Issue 14: approval by a group's "approvers" as well as administrators: the members
    of a group carrying a role with people.approve are mailed each pending sign-up and may
    decide, until they leave the group."""
    from keystead import groups
    from keystead.authorization.group_roles import set_group_roles
    box, mail = smtp
    app = make_app({**APPROVAL, **APPROVER_ROLE, **mail})
    users = users_of(app)
    users.create("root", role="administrator", email="root@example.com")
    users.create("gina", email="gina@example.com")
    users.create("otto", email="otto@example.com")

    def make_group():
        group = groups.create_group("approvers")
        set_group_roles(group, ["approver"], actor=User.get(User.username == "root"))
        groups.add_member(group, User.get(User.username == "gina"))
    in_db(app, make_group)
    client = app.test_client()
    grace_id = register(client).get_json()["id"]
    ada_id = register(client, "ada").get_json()["id"]
    assert wait_for(lambda: len(box.to("gina@example.com")) == 2)
    assert outbox_idle(app)
    assert box.to("otto@example.com") == []
    gina = bearer(login(client, "gina")["access_token"])
    otto = bearer(login(client, "otto")["access_token"])
    assert_error(client.post(f"{API}/users/{grace_id}/approve", headers=otto), 403, "forbidden")
    assert client.post(f"{API}/users/{grace_id}/approve", headers=gina).get_json()["status"] == "active"
    in_db(app, lambda: groups.remove_member(groups.find_group("approvers"), User.get(User.username == "gina")))
    assert_error(client.post(f"{API}/users/{ada_id}/approve", headers=gina), 403, "forbidden")
