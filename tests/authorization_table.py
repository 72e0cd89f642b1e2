"""Who may do what, route by route: the one table the authorization matrix
(tests/test_authorization_matrix.py) checks every route against, and from which the route
table of docs/administration.md is generated:

    python -m tests.authorization_table --write     (or: make authorization-table)

Each row is (method, rule) -> (what it needs, the answers of anonymous, viewer, publisher,
auditor and administrator). "login" is a redirect to the sign-in page. The answers are those
of the matrix's scene: the caller is a fresh person of the role who belongs to a fresh group
and owns a fresh document (anonymous: an administrator owns it); the target person is a fresh
viewer; bodies are valid, so a 4xx is about who asks.
"""
from __future__ import annotations

import sys
from pathlib import Path

API = "/api/v1"
PAGE_PREFIXES = ("/admin", "/profile", "/documents")
ROLES = ("anonymous", "viewer", "publisher", "auditor", "administrator")

#: The custom role the matrix configures (Authorization.Roles).
CUSTOM_ROLES = {"auditor": {"title": "Auditor", "permissions": ["audit.read", "people.read"]}}

TABLE: dict[tuple[str, str], tuple[str, str]] = {
    ("GET", "/admin/"):
        ("any administration section", "login 403 403 302 302"),
    ("GET", "/admin/apps"):
        ("apps.manage", "login 403 200 403 200"),
    ("GET", "/admin/apps/<int:app_id>"):
        ("apps.manage (own app; apps.manage_all: any)", "login 403 200 403 200"),
    ("GET", "/admin/apps/<int:app_id>/delete"):
        ("apps.manage (own app; apps.manage_all: any)", "login 403 200 403 200"),
    ("GET", "/admin/apps/<int:app_id>/secret"):
        ("apps.manage (own app; apps.manage_all: any)", "login 403 302 403 302"),
    ("GET", "/admin/apps/new"):
        ("apps.manage", "login 403 303 403 303"),
    ("GET", "/admin/approvals"):
        ("people.approve", "login 403 403 403 200"),
    ("GET", "/admin/approvals/<int:user_id>/approve"):
        ("people.approve", "login 403 403 403 303"),
    ("GET", "/admin/approvals/<int:user_id>/reject"):
        ("people.approve", "login 403 403 403 303"),
    ("GET", "/admin/audit"):
        ("audit.read", "login 403 403 200 200"),
    ("GET", "/admin/audit.csv"):
        ("audit.read", "login 403 403 200 200"),
    ("GET", "/admin/groups"):
        ("groups.manage", "login 403 403 403 200"),
    ("GET", "/admin/groups/<int:group_id>"):
        ("groups.manage", "login 403 403 403 200"),
    ("GET", "/admin/groups/<int:group_id>/delete"):
        ("groups.manage", "login 403 403 403 200"),
    ("GET", "/admin/groups/<int:group_id>/members"):
        ("groups.manage", "login 403 403 403 303"),
    ("GET", "/admin/groups/<int:group_id>/members/<int:user_id>/remove"):
        ("groups.manage", "login 403 403 403 303"),
    ("GET", "/admin/groups/<int:group_id>/rename"):
        ("groups.manage", "login 403 403 403 303"),
    ("GET", "/admin/groups/<int:group_id>/roles"):
        ("groups.manage", "login 403 403 403 303"),
    ("GET", "/admin/groups/new"):
        ("groups.manage", "login 403 403 403 303"),
    ("GET", "/admin/invitations"):
        ("people.invite", "login 403 403 403 200"),
    ("GET", "/admin/invitations/<int:invitation_id>/revoke"):
        ("people.invite", "login 403 403 403 303"),
    ("GET", "/admin/invitations/new"):
        ("people.invite", "login 403 403 403 303"),
    ("GET", "/admin/people"):
        ("people.read", "login 403 403 200 200"),
    ("GET", "/admin/people/<int:user_id>"):
        ("people.read", "login 403 403 200 200"),
    ("GET", "/admin/people/<int:user_id>/api-keys/<int:key_id>/revoke"):
        ("keys.manage_all", "login 403 403 403 303"),
    ("GET", "/admin/people/<int:user_id>/confirmation"):
        ("people.manage", "login 403 403 403 303"),
    ("GET", "/admin/people/<int:user_id>/delete"):
        ("people.manage", "login 403 403 403 200"),
    ("GET", "/admin/people/<int:user_id>/details"):
        ("people.manage", "login 403 403 403 303"),
    ("GET", "/admin/people/<int:user_id>/fields"):
        ("people.manage", "login 403 403 403 200"),
    ("GET", "/admin/people/<int:user_id>/lock"):
        ("people.manage", "login 403 403 403 303"),
    ("GET", "/admin/people/<int:user_id>/mark-verified"):
        ("people.manage", "login 403 403 403 303"),
    ("GET", "/admin/people/<int:user_id>/reset-link"):
        ("people.manage", "login 403 403 403 303"),
    ("GET", "/admin/people/<int:user_id>/role"):
        ("people.manage", "login 403 403 403 303"),
    ("GET", "/admin/people/<int:user_id>/two-factor"):
        ("people.manage", "login 403 403 403 303"),
    ("GET", "/admin/people/<int:user_id>/unlock"):
        ("people.manage", "login 403 403 403 303"),
    ("GET", "/admin/people/<int:user_id>/verification-link"):
        ("people.manage", "login 403 403 403 303"),
    ("GET", "/admin/people/new"):
        ("people.manage", "login 403 403 403 200"),
    ("GET", "/admin/settings"):
        ("settings.read", "login 403 403 403 200"),
    ("GET", "/api/v1/apps"):
        ("apps.manage", "401 403 200 403 200"),
    ("POST", "/api/v1/apps"):
        ("apps.manage", "401 403 201 403 201"),
    ("DELETE", "/api/v1/apps/<int:id>"):
        ("apps.manage (own app; apps.manage_all: any)", "401 403 204 403 204"),
    ("GET", "/api/v1/apps/<int:id>"):
        ("apps.manage (own app; apps.manage_all: any)", "401 403 200 403 200"),
    ("PATCH", "/api/v1/apps/<int:id>"):
        ("apps.manage (own app; apps.manage_all: any)", "401 403 200 403 200"),
    ("GET", "/api/v1/authz/auth-request"):
        ("anyone (the original request's credentials decide)", "400 400 400 400 400"),
    ("GET", "/api/v1/authz/forward-auth"):
        ("anyone (the original request's credentials decide)", "400 400 400 400 400"),
    ("GET", "/api/v1/audit"):
        ("audit.read", "401 403 403 200 200"),
    ("GET", "/api/v1/auth/challenge"):
        ("anyone", "404 404 404 404 404"),
    ("POST", "/api/v1/auth/login"):
        ("anyone", "200 200 200 200 200"),
    ("POST", "/api/v1/auth/logout"):
        ("signed in", "401 204 204 204 204"),
    ("POST", "/api/v1/auth/refresh"):
        ("anyone", "200 200 200 200 200"),
    ("POST", "/api/v1/auth/register"):
        ("anyone", "201 201 201 201 201"),
    ("POST", "/api/v1/auth/request-password-reset"):
        ("anyone", "202 202 202 202 202"),
    ("POST", "/api/v1/auth/resend-verification"):
        ("anyone", "202 202 202 202 202"),
    ("POST", "/api/v1/auth/reset-password"):
        ("anyone", "200 200 200 200 200"),
    ("POST", "/api/v1/auth/verify-email"):
        ("anyone", "200 200 200 200 200"),
    ("GET", "/api/v1/docs"):
        ("anyone", "200 200 200 200 200"),
    ("GET", "/api/v1/documents"):
        ("documents.read", "401 200 200 403 200"),
    ("POST", "/api/v1/documents"):
        ("documents.create", "401 403 201 403 201"),
    ("DELETE", "/api/v1/documents/<int:id>"):
        ("documents.read (own document)", "401 204 204 404 204"),
    ("GET", "/api/v1/documents/<int:id>"):
        ("documents.read", "401 200 200 404 200"),
    ("DELETE", "/api/v1/documents/<int:id>/groups/<int:group_id>"):
        ("documents.read (own document)", "401 204 204 404 204"),
    ("PUT", "/api/v1/documents/<int:id>/groups/<int:group_id>"):
        ("documents.share (own document)", "401 403 204 404 204"),
    ("GET", "/api/v1/documents/search"):
        ("documents.read", "401 200 200 403 200"),
    ("GET", "/api/v1/groups"):
        ("signed in", "401 200 200 200 200"),
    ("POST", "/api/v1/groups"):
        ("groups.manage", "401 403 403 403 201"),
    ("DELETE", "/api/v1/groups/<int:id>"):
        ("groups.manage", "401 403 403 403 204"),
    ("GET", "/api/v1/groups/<int:id>"):
        ("signed in", "401 200 200 200 200"),
    ("PATCH", "/api/v1/groups/<int:id>"):
        ("groups.manage", "401 403 403 403 200"),
    ("GET", "/api/v1/groups/<int:id>/members"):
        ("groups.manage", "401 403 403 403 200"),
    ("DELETE", "/api/v1/groups/<int:id>/members/<int:user_id>"):
        ("groups.manage", "401 403 403 403 204"),
    ("PUT", "/api/v1/groups/<int:id>/members/<int:user_id>"):
        ("groups.manage", "401 403 403 403 204"),
    ("GET", "/api/v1/health"):
        ("anyone", "200 200 200 200 200"),
    ("GET", "/api/v1/invitations"):
        ("people.invite", "401 403 403 403 200"),
    ("POST", "/api/v1/invitations"):
        ("people.invite", "401 403 403 403 201"),
    ("DELETE", "/api/v1/invitations/<int:id>"):
        ("people.invite", "401 403 403 403 204"),
    ("GET", "/api/v1/openapi.json"):
        ("anyone", "200 200 200 200 200"),
    ("GET", "/api/v1/providers"):
        ("anyone", "200 200 200 200 200"),
    ("GET", "/api/v1/settings"):
        ("settings.read", "401 403 403 403 200"),
    ("GET", "/api/v1/users"):
        ("people.read", "401 403 403 200 200"),
    ("POST", "/api/v1/users"):
        ("people.manage", "401 403 403 403 201"),
    ("DELETE", "/api/v1/users/<int:id>"):
        ("people.manage", "401 403 403 403 204"),
    ("GET", "/api/v1/users/<int:id>"):
        ("people.read", "401 403 403 200 200"),
    ("PATCH", "/api/v1/users/<int:id>"):
        ("people.manage", "401 403 403 403 200"),
    ("GET", "/api/v1/users/<int:id>/api-keys"):
        ("keys.manage_all", "401 403 403 403 200"),
    ("DELETE", "/api/v1/users/<int:id>/api-keys/<key_id>"):
        ("keys.manage_all", "401 403 403 403 204"),
    ("POST", "/api/v1/users/<int:id>/approve"):
        ("people.approve", "401 403 403 403 200"),
    ("POST", "/api/v1/users/<int:id>/reject"):
        ("people.approve", "401 403 403 403 200"),
    ("POST", "/api/v1/users/<int:id>/reset-link"):
        ("people.manage", "401 403 403 403 200"),
    ("DELETE", "/api/v1/users/<int:id>/totp"):
        ("people.manage", "401 403 403 403 204"),
    ("POST", "/api/v1/users/<int:id>/verification-link"):
        ("people.manage", "401 403 403 403 200"),
    ("DELETE", "/api/v1/users/me"):
        ("signed in", "401 204 204 204 204"),
    ("GET", "/api/v1/users/me"):
        ("signed in", "401 200 200 200 200"),
    ("PATCH", "/api/v1/users/me"):
        ("signed in", "401 200 200 200 200"),
    ("GET", "/api/v1/users/me/apps"):
        ("signed in", "401 200 200 200 200"),
    ("GET", "/api/v1/users/me/api-keys"):
        ("signed in", "401 200 200 200 200"),
    ("POST", "/api/v1/users/me/api-keys"):
        ("signed in", "401 201 201 201 201"),
    ("DELETE", "/api/v1/users/me/api-keys/<key_id>"):
        ("signed in", "401 204 204 204 204"),
    ("POST", "/api/v1/users/me/password"):
        ("signed in", "401 204 204 204 204"),
    ("DELETE", "/api/v1/users/me/totp"):
        ("signed in", "401 204 204 204 204"),
    ("POST", "/api/v1/users/me/totp"):
        ("signed in", "401 200 200 200 200"),
    ("POST", "/api/v1/users/me/totp/confirm"):
        ("signed in", "401 200 200 200 200"),
    ("GET", "/documents"):
        ("documents.read", "login 200 200 403 200"),
    ("GET", "/documents/<int:id>"):
        ("documents.read", "login 200 200 404 200"),
    ("GET", "/profile"):
        ("signed in", "login 200 200 200 200"),
    ("GET", "/profile/api-keys"):
        ("signed in", "login 200 200 200 200"),
    ("GET", "/profile/connected-apps"):
        ("signed in", "login 200 200 200 200"),
    ("GET", "/profile/delete"):
        ("signed in", "login 200 200 200 200"),
    ("GET", "/profile/fields"):
        ("signed in", "login 200 200 200 200"),
    ("GET", "/profile/password"):
        ("signed in", "login 200 200 200 200"),
    ("GET", "/profile/two-factor"):
        ("signed in", "login 200 200 200 200"),
    ("GET", "/profile/two-factor/disable"):
        ("signed in", "login 303 303 303 303"),
    ("GET", "/profile/two-factor/setup"):
        ("signed in", "login 200 200 200 200"),
}


def expected(method: str, rule: str, role: str) -> int | str:
    """The answer the table states for `role` on this route."""
    answers = TABLE[(method, rule)][1].split()
    assert len(answers) == len(ROLES), (method, rule)
    found = answers[ROLES.index(role)]
    return found if found == "login" else int(found)


DOC = Path(__file__).resolve().parent.parent / "docs" / "administration.md"
BEGIN = "<!-- route table: generated by `python -m tests.authorization_table --write` -->"
END = "<!-- end of route table -->"


def _cell(answer: str) -> str:
    return "sign-in page" if answer == "login" else answer


def generated_markdown() -> str:
    """The route table of docs/administration.md, between its markers."""
    lines = [BEGIN, "",
             "| route | needs | " + " | ".join(ROLES) + " |",
             "|---|---|" + ":-:|" * len(ROLES)]
    for (method, rule), (needs, answers) in sorted(TABLE.items(), key=lambda i: (i[0][1], i[0][0])):
        cells = " | ".join(_cell(a) for a in answers.split())
        lines.append(f"| `{method} {rule}` | {needs} | {cells} |")
    return "\n".join(lines + ["", END])


def documented_table(text: str) -> str | None:
    """The route table as docs/administration.md has it (markers included), or None."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < 0:
        return None
    return text[start:end + len(END)]


def write() -> None:
    """Put the generated table into docs/administration.md, replacing the one there."""
    text = DOC.read_text(encoding="utf-8")
    current = documented_table(text)
    if current is None:
        raise SystemExit(f"{DOC}: no route-table markers ({BEGIN!r} ... {END!r})")
    DOC.write_text(text.replace(current, generated_markdown()), encoding="utf-8")


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        raise SystemExit("usage: python -m tests.authorization_table --write")
    write()
