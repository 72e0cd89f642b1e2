"""The administration pages (SPEC 5): /admin/people (list, search, paging, create, a
person's page with role, details, lock, links, delete) and /admin/groups, through the test
client with real CSRF tokens, on a real SQLite file."""
from __future__ import annotations

import re

import pytest

from api_support import API, bearer, in_db, login, me_status, users_of
from keystead.models import Group, Membership, OneTimeLink, User
from conftest import STRONG_PASSWORD, AuthActions, csrf_from
from pages import error_beside, flashes, form_errors, path_of, redirect_to

NEW_PASSWORD = "a-brand-new-passphrase-7"


@pytest.fixture
def admin(users):
    return users.create("root", role="administrator", email="root@example.com")[0]


@pytest.fixture
def as_admin(client, auth, admin):
    auth.login("root")
    return client


def act(client, path: str, data: dict | None = None, page: str | None = None):
    """POST `data` to `path` with the CSRF token of `page` (default: the path's own page)."""
    html = client.get(page or path).get_data(as_text=True)
    return client.post(path, data={"csrf_token": csrf_from(html), **(data or {})})


def text(response) -> str:
    return response.get_data(as_text=True)


def copied_link(html: str, element_id: str) -> str | None:
    m = re.search(rf'<p class="copy" id="{element_id}">([^<]+)</p>', html)
    return m.group(1).strip() if m else None


def table_rows(html: str, table_id: str) -> list[list[str]]:
    body = re.search(rf'<table id="{table_id}">.*?<tbody>(.*?)</tbody>', html, re.S)
    if not body:
        return []
    rows = []
    for tr in re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S):
        rows.append([" ".join(re.sub(r"<[^>]+>", " ", td).split()) for td in re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)])
    return rows


def user_id(app, username: str) -> int:
    return in_db(app, lambda: User.get(User.username_key == username).id)


# ---------------------------------------------------------------- who may enter

ADMIN_PAGES = ["/admin/people", "/admin/people/new", "/admin/groups"]


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_anonymous_visitors_are_sent_to_log_in(client, admin, path):
    r = client.get(path)
    assert r.status_code == 302
    assert redirect_to(r) == ("/login", {"next": path})


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_non_administrators_get_403(client, auth, users, admin, path):
    users.create("vera", role="publisher")
    auth.login("vera")
    assert client.get(path).status_code == 403
    assert client.get(f"/admin/people/{admin.id}").status_code == 403
    # Nor can they post, even with a valid CSRF token of theirs.
    token = csrf_from(text(client.get("/profile")))
    r = client.post(f"/admin/people/{admin.id}/lock", data={"csrf_token": token})
    assert r.status_code == 403
    assert in_db(client.application, lambda: User.get_by_id(admin.id).locked) is False


def test_the_menu_shows_people_and_groups_to_administrators_only(client, auth, users, admin):
    users.create("vera")
    auth.login("vera")
    assert "/admin/people" not in text(client.get("/profile"))
    auth.logout()
    auth.login("root")
    page = text(client.get("/profile"))
    assert 'href="/admin/people"' in page and 'href="/admin/groups"' in page


# ---------------------------------------------------------------- the list

def _bulk(app, n: int, start: int = 0):
    def make():
        User.insert_many([dict(username=f"bulk{i:05d}", username_key=f"bulk{i:05d}",
                               email=f"bulk{i:05d}@example.com", email_key=f"bulk{i:05d}@example.com",
                               first_name="Bulk", last_name=f"Number{i}") for i in range(start, start + n)]).execute()
    in_db(app, make)


def test_the_list_shows_the_columns_of_each_person(app, as_admin, users):
    users.create("grace", email="grace@navy.example", first_name="Grace", last_name="Hopper", role="publisher")
    users.create("nopass", password=None, email="np@example.com")
    locked = users.create("locky")[0]
    in_db(app, lambda: User.update(locked=True).where(User.id == locked.id).execute())
    page = text(as_admin.get("/admin/people"))
    rows = {r[0]: r for r in table_rows(page, "people")}
    assert rows["grace"] == ["grace", "Grace Hopper", "grace@navy.example", "publisher", "active", "never"]
    assert rows["nopass"][4] == "unconfirmed"
    assert rows["locky"][4] == "locked"
    assert rows["root"][5].endswith("UTC")  # last login
    assert '<td class="status-locked">locked</td>' in page


def test_search_and_paging(app, as_admin, users):
    _bulk(app, 120)
    users.create("grace", first_name="Grace", last_name="Hopper")
    page1 = text(as_admin.get("/admin/people"))
    assert len(table_rows(page1, "people")) == 50
    assert "Page 1 of 3 · 122 people" in page1
    assert 'href="/admin/people?page=2"' in page1
    page3 = text(as_admin.get("/admin/people?page=3"))
    assert [r[0] for r in table_rows(page3, "people")] == [f"bulk{i:05d}" for i in range(100, 120)] + ["grace", "root"]
    assert 'rel="next"' not in page3 and 'href="/admin/people?page=2"' in page3
    found = text(as_admin.get("/admin/people?q=hop"))
    assert [r[0] for r in table_rows(found, "people")] == ["grace"]
    assert "1 person" in found
    searched = text(as_admin.get("/admin/people?q=bulk&page=2"))
    assert len(table_rows(searched, "people")) == 50
    assert "q=bulk" in searched and "page=3" in searched
    assert "Nobody matches" in text(as_admin.get("/admin/people?q=zzz"))
    assert as_admin.get("/admin/people?page=abc").status_code == 200
    assert as_admin.get("/admin/people?page=-4").status_code == 200


class QueryCounter:
    """Counts the SQL statements the app's database runs, by wrapping its execute_sql."""

    def __init__(self, db):
        self.db, self.statements = db, []
        self._original = db.execute_sql

        def counted(sql, params=None, *args, **kw):
            self.statements.append(sql)
            return self._original(sql, params, *args, **kw)
        db.execute_sql = counted

    def reset(self):
        self.statements = []

    def close(self):
        del self.db.execute_sql  # back to the class's method


def test_the_people_list_makes_the_same_few_queries_however_many_people_there_are(app, as_admin):
    counter = QueryCounter(app.extensions["keystead.db"])
    paths = ("/admin/people", "/admin/people?page=20", "/admin/people?q=bulk0", "/admin/people?q=bulk number1")
    try:
        seen: dict[str, set[int]] = {path: set() for path in paths}
        made = 0
        for batch in (10, 990, 4000):  # 11, 1,001 and 5,001 people
            _bulk(app, batch, start=made)
            made += batch
            for path in paths:
                counter.reset()
                assert as_admin.get(path).status_code == 200
                seen[path].add(len(counter.statements))
        for path, counts in seen.items():
            assert len(counts) == 1, f"{path}: {counts} queries as the number of people grew"
            # The session's user, the count and the page.
            assert counts.pop() <= 3, (path, counter.statements)
        # None of them loads the whole table: every SELECT of people is counted or limited.
        counter.reset()
        as_admin.get("/admin/people?page=2")
        people_selects = [s for s in counter.statements if 'FROM "user"' in s and "COUNT" not in s
                          and "LIMIT" not in s and '"t1"."id" = ?' not in s]
        assert people_selects == []
    finally:
        counter.close()


# ---------------------------------------------------------------- creating people

def test_create_with_a_password(app, client, as_admin):
    r = act(client, "/admin/people/new", {"username": "Bob", "email": "bob@example.com", "first_name": "Bob",
                                          "last_name": "Builder", "role": "publisher", "password": STRONG_PASSWORD})
    assert r.status_code == 303
    path, _ = redirect_to(r)
    assert path == f"/admin/people/{user_id(app, 'bob')}"
    page = text(client.get(path))
    assert "Bob has been created." in flashes(page)
    assert copied_link(page, "confirmation-link") is None
    assert '<dd id="role">publisher</dd>' in page and "active" in page
    other = app.test_client()
    AuthActions(other).login("bob")
    assert other.get("/profile").status_code == 200


def test_create_without_a_password_shows_the_link_to_copy_with_a_warning(app, client, as_admin):
    r = act(client, "/admin/people/new", {"username": "carol", "email": "carol@example.com", "role": "viewer"})
    assert r.status_code == 303
    page = text(client.get(redirect_to(r)[0]))
    link = copied_link(page, "confirmation-link")
    assert link and link.startswith("http://keystead.test/confirm/")
    assert "Do not open this link yourself" in page
    assert any("copy it" in f for f in flashes(page))
    assert 'id="status" class="status-unconfirmed">unconfirmed' in page
    # Reloading the page shows the same link (it is not spent by showing it).
    assert copied_link(text(client.get(redirect_to(r)[0])), "confirmation-link") == link
    # Carol follows it, chooses a password and logs in.
    carol = app.test_client()
    form = carol.get(path_of(link))
    assert form.status_code == 200
    done = carol.post(path_of(link), data={"csrf_token": csrf_from(text(form)), "new_password": NEW_PASSWORD,
                                           "new_password_confirm": NEW_PASSWORD})
    assert done.status_code == 303
    AuthActions(carol).login("carol", NEW_PASSWORD)
    assert carol.get("/profile").status_code == 200
    # The spent link is gone from her page.
    page = text(client.get(redirect_to(r)[0]))
    assert copied_link(page, "confirmation-link") is None and "status-active" in page


def test_create_without_a_password_mails_the_link_when_email_is_configured(mail_app):
    client = mail_app.test_client()
    users_of(mail_app).create("root", role="administrator")
    AuthActions(client).login("root")
    r = act(client, "/admin/people/new", {"username": "dora", "email": "dora@example.com", "role": "viewer"})
    page = text(client.get(redirect_to(r)[0]))
    assert "A confirmation link has been mailed to dora@example.com." in flashes(page)
    mailed = mail_app.mailbox.link_to("dora@example.com", "/confirm/")
    assert copied_link(page, "confirmation-link") == mailed
    assert "Resend confirmation" in page


@pytest.mark.parametrize("data, field_id, status", [
    ({"username": "ROOT", "email": "x@example.com"}, "username", 409),
    ({"username": "fresh", "email": "Root@Example.com"}, "email", 409),
    ({"username": "1fresh", "email": "x@example.com"}, "username", 422),
    ({"username": "", "email": "x@example.com"}, "username", 400),
    ({"username": "fresh", "email": "nope"}, "email", 422),
    ({"username": "fresh", "email": "x@example.com", "password": "short"}, "password", 422),
    ({"username": "fresh", "email": "x@example.com", "role": "emperor"}, "role", 400),
])
def test_create_refusals_are_shown_beside_the_field_and_write_nothing(app, client, as_admin, data, field_id, status):
    before = in_db(app, lambda: User.select().count())
    r = act(client, "/admin/people/new", {"role": "viewer", **data})
    assert r.status_code == status
    assert error_beside(text(r), field_id)
    assert in_db(app, lambda: User.select().count()) == before


# ---------------------------------------------------------------- a person's page

def test_person_page_shows_facts_and_groups(app, as_admin, users):
    ada = users.create("ada", first_name="Ada", last_name="Lovelace")[0]

    def groups():
        for name in ("Eng", "Ops"):
            g = Group.create(name=name, name_key=name.lower())
            Membership.create(user=ada.id, group=g.id)
    in_db(app, groups)
    page = text(as_admin.get(f"/admin/people/{ada.id}"))
    assert "Ada Lovelace" in page and "ada@example.com" in page
    assert re.search(r'<dd id="groups">\s*<a href="/admin/groups/\d+">Eng</a>, <a href="/admin/groups/\d+">Ops</a>', page)
    assert as_admin.get("/admin/people/99999").status_code == 404


def test_change_role_and_the_last_administrator(app, client, as_admin, admin, users):
    ada = users.create("ada")[0]
    r = act(client, f"/admin/people/{ada.id}/role", {"role": "administrator"}, page=f"/admin/people/{ada.id}")
    assert r.status_code == 303
    assert "ada is now administrator." in flashes(text(client.get(f"/admin/people/{ada.id}")))
    r = act(client, f"/admin/people/{ada.id}/role", {"role": "viewer"}, page=f"/admin/people/{ada.id}")
    assert r.status_code == 303
    # root is the last administrator now: neither demoted...
    r = act(client, f"/admin/people/{admin.id}/role", {"role": "publisher"}, page=f"/admin/people/{admin.id}")
    assert r.status_code == 409
    assert "root is the last administrator" in error_beside(text(r), "role")
    # ...nor locked, nor deleted.
    r = act(client, f"/admin/people/{admin.id}/lock", page=f"/admin/people/{admin.id}")
    assert r.status_code == 409 and any("last administrator" in e for e in form_errors(text(r)))
    r = act(client, f"/admin/people/{admin.id}/delete", {"confirm": "y"})
    assert r.status_code == 409 and any("last administrator" in e for e in form_errors(text(r)))
    got = in_db(app, lambda: User.get_by_id(admin.id))
    assert (got.role, got.locked) == ("administrator", False)
    assert client.get("/admin/people").status_code == 200  # still signed in, still an administrator


def test_demoting_yourself_ends_your_session(app, client, as_admin, admin, users):
    users.create("other", role="administrator")
    r = act(client, f"/admin/people/{admin.id}/role", {"role": "viewer"}, page=f"/admin/people/{admin.id}")
    assert redirect_to(r)[0] == "/login"
    assert client.get("/admin/people").status_code == 302


def test_change_details(app, client, as_admin, users):
    ada = users.create("ada")[0]
    users.create("bea", email="bea@example.com")
    page = f"/admin/people/{ada.id}"
    r = act(client, f"{page}/details", {"first_name": "Ada", "last_name": "Lovelace", "email": "Ada@Engine.example"}, page)
    assert r.status_code == 303
    got = in_db(app, lambda: User.get_by_id(ada.id))
    assert (got.first_name, got.last_name, got.email) == ("Ada", "Lovelace", "Ada@engine.example")
    r = act(client, f"{page}/details", {"first_name": "X", "last_name": "", "email": "BEA@example.com"}, page)
    assert r.status_code == 422 and "already in use" in error_beside(text(r), "email")
    r = act(client, f"{page}/details", {"first_name": "X" * 101, "last_name": "", "email": "ada@example.com"}, page)
    assert r.status_code == 422 and error_beside(text(r), "first_name")
    assert in_db(app, lambda: User.get_by_id(ada.id).first_name) == "Ada"


def test_administrators_edit_details_even_when_only_administrators_may(make_app):
    app = make_app({"Authorization.UserInfoEditableBy": "Admin"})
    factory = users_of(app)
    factory.create("root", role="administrator")
    ada = factory.create("ada")[0]
    client = app.test_client()
    AuthActions(client).login("root")
    page = f"/admin/people/{ada.id}"
    r = act(client, f"{page}/details", {"first_name": "Ada", "last_name": "L", "email": "ada@example.com"}, page)
    assert r.status_code == 303
    assert in_db(app, lambda: User.get_by_id(ada.id).first_name) == "Ada"


def test_lock_ends_sessions_and_tokens_at_once_and_unlock_lets_them_back(app, client, as_admin, users):
    ada = users.create("ada")[0]
    ada_browser = app.test_client()
    AuthActions(ada_browser).login("ada")
    assert ada_browser.get("/profile").status_code == 200
    token = login(app.test_client(), "ada")["access_token"]
    page = f"/admin/people/{ada.id}"
    r = act(client, f"{page}/lock", page=page)
    assert r.status_code == 303
    shown = text(client.get(page))
    assert 'class="status-locked">locked' in shown and "Unlock ada" in shown
    assert ada_browser.get("/profile").status_code == 302  # her session ended
    assert me_status(client, token) == 401  # and her token
    assert AuthActions(app.test_client()).login("ada").status_code == 423
    r = act(client, f"{page}/unlock", page=page)
    assert r.status_code == 303
    assert AuthActions(app.test_client()).login("ada").status_code == 303


def test_resend_confirmation_makes_a_new_link_and_ends_the_old(app, client, as_admin):
    r = act(client, "/admin/people/new", {"username": "carol", "email": "carol@example.com", "role": "viewer"})
    page = redirect_to(r)[0]
    old = copied_link(text(client.get(page)), "confirmation-link")
    r = act(client, f"{page}/confirmation", page=page)
    assert r.status_code == 303
    new = copied_link(text(client.get(page)), "confirmation-link")
    assert new and new != old
    assert client.get(path_of(old)).status_code == 400
    assert client.get(path_of(new)).status_code == 200


def test_reset_link_is_shown_and_works(app, client, as_admin, users):
    ada = users.create("ada")[0]
    page = f"/admin/people/{ada.id}"
    assert copied_link(text(client.get(page)), "reset-link") is None
    r = act(client, f"{page}/reset-link", page=page)
    assert r.status_code == 303
    shown = text(client.get(page))
    link = copied_link(shown, "reset-link")
    assert link.startswith("http://keystead.test/reset-password/")
    assert "Do not open this link yourself" in shown
    # A person who has a password gets no confirmation link.
    r = act(client, f"{page}/confirmation", page=page)
    assert r.status_code == 409
    ada_browser = app.test_client()
    form = ada_browser.get(path_of(link))
    done = ada_browser.post(path_of(link), data={"csrf_token": csrf_from(text(form)), "new_password": NEW_PASSWORD,
                                                 "new_password_confirm": NEW_PASSWORD})
    assert done.status_code == 303
    assert AuthActions(ada_browser).login("ada", NEW_PASSWORD).status_code == 303


def test_reset_link_is_mailed_when_email_is_configured(mail_app):
    client = mail_app.test_client()
    factory = users_of(mail_app)
    factory.create("root", role="administrator")
    ada = factory.create("ada", email="ada@example.com")[0]
    AuthActions(client).login("root")
    page = f"/admin/people/{ada.id}"
    act(client, f"{page}/reset-link", page=page)
    shown = text(client.get(page))
    assert "A password reset link has been mailed to ada@example.com." in flashes(shown)
    assert mail_app.mailbox.link_to("ada@example.com", "/reset-password/") == copied_link(shown, "reset-link")


def test_delete_asks_for_confirmation_then_removes_everything_of_theirs(app, client, as_admin, users):
    ada = users.create("ada")[0]
    token = login(app.test_client(), "ada")["access_token"]

    def group():
        g = Group.create(name="Eng", name_key="eng")
        Membership.create(user=ada.id, group=g.id)
    in_db(app, group)
    confirm_page = text(client.get(f"/admin/people/{ada.id}/delete"))
    assert "Delete ada?" in confirm_page and "Eng" in confirm_page
    r = act(client, f"/admin/people/{ada.id}/delete", {})
    assert r.status_code == 400 and error_beside(text(r), "confirm")
    assert in_db(app, lambda: User.select().where(User.id == ada.id).count()) == 1
    r = act(client, f"/admin/people/{ada.id}/delete", {"confirm": "y"})
    assert redirect_to(r)[0] == "/admin/people"
    assert "ada has been deleted." in flashes(text(client.get("/admin/people")))
    assert in_db(app, lambda: (User.select().where(User.id == ada.id).count(),
                               Membership.select().count(), OneTimeLink.select().where(OneTimeLink.user == ada.id).count())) == (0, 0, 0)
    assert me_status(client, token) == 401
    assert client.get(f"/admin/people/{ada.id}").status_code == 404


def test_actions_answer_a_get_by_going_back_to_the_page(app, as_admin, users):
    ada = users.create("ada")[0]
    for action in ("role", "details", "lock", "unlock", "confirmation", "reset-link"):
        r = as_admin.get(f"/admin/people/{ada.id}/{action}")
        assert r.status_code == 303 and redirect_to(r)[0] == f"/admin/people/{ada.id}"
    assert in_db(app, lambda: User.get_by_id(ada.id).locked) is False


def test_forms_without_a_csrf_token_are_refused(app, as_admin, users):
    ada = users.create("ada")[0]
    for path, data in ((f"/admin/people/{ada.id}/lock", {}), (f"/admin/people/{ada.id}/role", {"role": "administrator"}),
                       ("/admin/people/new", {"username": "x1y", "email": "x@example.com", "role": "viewer"}),
                       (f"/admin/people/{ada.id}/delete", {"confirm": "y"}), ("/admin/groups/new", {"name": "G"})):
        assert as_admin.post(path, data=data).status_code == 400
    got = in_db(app, lambda: User.get_by_id(ada.id))
    assert (got.locked, got.role) == (False, "viewer")
    assert in_db(app, lambda: (User.select().count(), Group.select().count())) == (2, 0)


# ---------------------------------------------------------------- groups

def test_groups_create_rename_members_and_delete(app, client, as_admin, users):
    users.create("ada", email="ada@example.com")
    users.create("bob")
    r = act(client, "/admin/groups/new", {"name": "Engineering"}, page="/admin/groups")
    assert r.status_code == 303
    gpath = redirect_to(r)[0]
    gid = int(gpath.rsplit("/", 1)[1])
    r = act(client, "/admin/groups/new", {"name": "ENGINEERING"}, page="/admin/groups")
    assert r.status_code == 409 and "already exists" in error_beside(text(r), "name")
    r = act(client, "/admin/groups/new", {"name": ""}, page="/admin/groups")
    assert r.status_code == 400 and error_beside(text(r), "name")
    for member in ("ADA@example.com", "bob", "bob"):
        assert act(client, f"{gpath}/members", {"member": member}, page=gpath).status_code == 303
    shown = text(client.get(gpath))
    assert [row[0] for row in table_rows(shown, "members")] == ["ada", "bob"]
    assert "bob already was a member of Engineering." in flashes(shown)
    r = act(client, f"{gpath}/members", {"member": "nobody"}, page=gpath)
    assert r.status_code == 404 and "nobody" in error_beside(text(r), "member")
    listing = text(client.get("/admin/groups"))
    assert table_rows(listing, "groups")[0][:2] == ["Engineering", "2"]
    r = act(client, f"{gpath}/rename", {"name": "Eng"}, page=gpath)
    assert r.status_code == 303 and "The group is now called Eng." in flashes(text(client.get(gpath)))
    act(client, "/admin/groups/new", {"name": "Ops"}, page="/admin/groups")
    r = act(client, f"{gpath}/rename", {"name": "ops"}, page=gpath)
    assert r.status_code == 409 and error_beside(text(r), "name")
    ada = user_id(app, "ada")
    r = act(client, f"{gpath}/members/{ada}/remove", page=gpath)
    assert r.status_code == 303
    assert [row[0] for row in table_rows(text(client.get(gpath)), "members")] == ["bob"]
    r = act(client, f"{gpath}/members/{ada}/remove", page=gpath)
    assert r.status_code == 404 and any("not a member" in e for e in form_errors(text(r)))
    assert "1 person is a member" in text(client.get(f"{gpath}/delete"))
    r = act(client, f"{gpath}/delete", {})
    assert r.status_code == 400
    r = act(client, f"{gpath}/delete", {"confirm": "y"})
    assert redirect_to(r)[0] == "/admin/groups"
    assert in_db(app, lambda: (Group.select().where(Group.id == gid).count(), Membership.select().count(),
                               User.select().count())) == (0, 0, 3)
    assert client.get(gpath).status_code == 404


def test_groups_list_search_and_paging(app, as_admin):
    in_db(app, lambda: Group.insert_many([dict(name=f"Team {i:03d}", name_key=f"team {i:03d}")
                                          for i in range(60)]).execute())
    page1 = text(as_admin.get("/admin/groups"))
    assert len(table_rows(page1, "groups")) == 50 and "Page 1 of 2 · 60 groups" in page1
    assert len(table_rows(text(as_admin.get("/admin/groups?page=2")), "groups")) == 10
    assert [r[0] for r in table_rows(text(as_admin.get("/admin/groups?q=05")), "groups")] == ["Team 005", "Team 050", "Team 051", "Team 052", "Team 053", "Team 054", "Team 055", "Team 056", "Team 057", "Team 058", "Team 059"]


# ---------------------------------------------------------------- web sudo

@pytest.fixture
def sudo_admin(make_app):
    app = make_app({"Password.WebSudoMode": True})
    factory = users_of(app)
    factory.create("root", role="administrator")
    ada = factory.create("ada")[0]
    client = app.test_client()
    AuthActions(client).login("root")
    return app, client, ada


def _sudo_actions(ada_id: int, group_id: int):
    person = f"/admin/people/{ada_id}"
    return [
        (f"{person}/role", {"role": "publisher"}, person),
        (f"{person}/details", {"first_name": "A", "last_name": "", "email": "ada@example.com"}, person),
        (f"{person}/lock", {}, person),
        (f"{person}/unlock", {}, person),
        (f"{person}/confirmation", {}, person),
        (f"{person}/reset-link", {}, person),
        (f"{person}/delete", {"confirm": "y"}, person),
        ("/admin/people/new", {"username": "newbie", "email": "n@example.com", "role": "viewer"}, "/admin/people"),
        ("/admin/groups/new", {"name": "Fresh"}, "/admin/groups"),
        (f"/admin/groups/{group_id}/rename", {"name": "Renamed"}, f"/admin/groups/{group_id}"),
        (f"/admin/groups/{group_id}/members", {"member": "ada"}, f"/admin/groups/{group_id}"),
        (f"/admin/groups/{group_id}/members/{ada_id}/remove", {}, f"/admin/groups/{group_id}"),
        (f"/admin/groups/{group_id}/delete", {"confirm": "y"}, f"/admin/groups/{group_id}"),
    ]


def test_web_sudo_covers_every_administrator_change(sudo_admin):
    app, client, ada = sudo_admin
    gid = in_db(app, lambda: Group.create(name="Eng", name_key="eng").id)
    in_db(app, lambda: Membership.create(user=ada.id, group=gid))
    # Reading needs no re-entry.
    for path in ("/admin/people", f"/admin/people/{ada.id}", "/admin/groups", f"/admin/groups/{gid}"):
        assert client.get(path).status_code == 200, path
    assert "Changes here ask for your password first." in text(client.get(f"/admin/people/{ada.id}"))
    token = csrf_from(text(client.get("/admin/people")))
    for path, data, _ in _sudo_actions(ada.id, gid):
        r = client.post(path, data={"csrf_token": token, **data})
        assert r.status_code == 302, path
        assert redirect_to(r) == ("/sudo", {"next": path}), path
    got = in_db(app, lambda: (User.get_by_id(ada.id).role, User.get_by_id(ada.id).locked, User.select().count(),
                              Group.get_by_id(gid).name, Group.select().count(), Membership.select().count(),
                              OneTimeLink.select().count()))
    assert got == ("viewer", False, 2, "Eng", 1, 1, 0)


def test_after_sudo_the_action_goes_through_and_the_interrupted_get_leads_back(sudo_admin):
    app, client, ada = sudo_admin
    page = f"/admin/people/{ada.id}"
    r = act(client, f"{page}/lock", page=page)
    assert redirect_to(r) == ("/sudo", {"next": f"{page}/lock"})
    r = act(client, f"/sudo?next={page}/lock", {"password": STRONG_PASSWORD}, page=f"/sudo?next={page}/lock")
    assert redirect_to(r)[0] == f"{page}/lock"
    back = client.get(f"{page}/lock")  # the browser follows with a GET: nothing changes
    assert redirect_to(back)[0] == page
    assert in_db(app, lambda: User.get_by_id(ada.id).locked) is False
    r = act(client, f"{page}/lock", page=page)
    assert r.status_code == 303
    assert in_db(app, lambda: User.get_by_id(ada.id).locked) is True
    # The create page itself asks first, so the form is not lost afterwards.
    client2 = app.test_client()
    AuthActions(client2).login("root")
    assert redirect_to(client2.get("/admin/people/new")) == ("/sudo", {"next": "/admin/people/new"})


def test_api_is_not_subject_to_web_sudo(sudo_admin):
    app, _, ada = sudo_admin
    api = app.test_client()
    h = bearer(login(api, "root")["access_token"])
    assert api.patch(f"{API}/users/{ada.id}", headers=h, json={"role": "publisher"}).status_code == 200


def test_searches_with_odd_characters_find_nothing_rather_than_fail(as_admin, users):
    users.create("ada")
    for q in ("%25", "_", "\\", "a" * 500, "%F0%9F%92%A9", "a b c d e f g"):
        r = as_admin.get(f"/admin/people?q={q}")
        assert r.status_code == 200, q
        assert as_admin.get(f"/admin/groups?q={q}").status_code == 200, q
    # A NUL never reaches the search (PostgreSQL cannot take one): a 400 page.
    for q in ("%00", "ada%00"):
        for page in ("/admin/people", "/admin/groups"):
            r = as_admin.get(f"{page}?q={q}")
            assert r.status_code == 400 and "NUL characters" in r.get_data(as_text=True), (page, q)


def test_an_administrator_may_delete_themselves_when_another_remains(app, client, as_admin, admin, users):
    users.create("backup", role="administrator")
    r = act(client, f"/admin/people/{admin.id}/delete", {"confirm": "y"})
    assert redirect_to(r)[0] == "/login"
    assert client.get("/admin/people").status_code == 302
    assert in_db(app, lambda: User.select().where(User.id == admin.id).count()) == 0
