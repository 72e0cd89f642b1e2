"""/api/v1/users and /api/v1/users/{id}: what administrators do with people (docs/api.md), on
the same service functions as the admin pages and the CLI."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from .. import accounts, groups, recovery, totp
from ..errors import Conflict, ValidationFailed
from ..links import LIFETIMES
from ..authorization import require_outranks
from ..models import User, database
from ..signup import approval
from ..userfields.service import check_profile, create_with_fields, update_profile
from .auth import current_api_user, login_required, permission_required
from .jsonbody import fields, json_body
from .openapi import obj, operation, path_parameter, query_parameter, ref, string
from .serialize import user_json

bp = Blueprint("api_users", __name__)

PER_PAGE_DEFAULT, PER_PAGE_MAX = 50, 100


def paging() -> tuple[int, int]:
    """?page= and ?per_page= (1-based; per_page at most 100); 422 for anything else."""
    problems, values = {}, {}
    for name, default, top in (("page", 1, None), ("per_page", PER_PAGE_DEFAULT, PER_PAGE_MAX)):
        raw = request.args.get(name, "")
        if raw == "":
            values[name] = default
            continue
        try:
            value = int(raw)
        except ValueError:
            value = 0
        if value < 1 or (top and value > top) or value > 10**9:
            problems[name] = f"Must be a whole number from 1 to {top}." if top else "Must be a whole number from 1."
        values[name] = value
    if problems:
        raise ValidationFailed(problems)
    return values["page"], values["per_page"]


def users_json(users: list[User]) -> list[dict]:
    """Many people with their groups, in one query for all of their groups."""
    names = groups.group_names_of([u.id for u in users])
    return [user_json(u, names[u.id]) for u in users]


@bp.get("/users")
@login_required
def list_users():
    approval.require_people_listing(current_api_user(), request.args.get("status"))
    status = approval.status_filter(request.args.get("status"))
    page, per_page = paging()
    q = request.args.get("q", "")[:200]
    rows, total = accounts.search_users(q, page, per_page, status=status)
    return jsonify(results=users_json(rows), total=int(total), total_capped=total.capped,
                   page=page, per_page=per_page)


@bp.post("/users")
@permission_required("people.manage")
def create_user():
    data = json_body()
    values = fields(data, required=("username",),
                    optional=("email", "password", "first_name", "last_name", "role"),
                    string_lists=("groups",), objects=("fields", "metadata"))
    preset = groups.groups_to_preset(current_api_user(), values.get("groups"))
    user, url, sent = create_with_fields(lambda columns: recovery.create_person(
        values["username"], values.get("email"), values.get("password"),
        first_name=values.get("first_name", ""), last_name=values.get("last_name", ""),
        role=values.get("role", "viewer"), actor=current_api_user(), columns=columns, groups=preset),
        values.get("fields"), values.get("metadata"), signup=False, actor=current_api_user())
    body = user_json(user, None if preset else [])
    if url:
        body["confirmation_url"] = url
        body["confirmation_sent"] = sent
    return jsonify(body), 201


@bp.get("/users/<int:id>")
@permission_required("people.read")
def get_user(id):
    return jsonify(user_json(accounts.get_user(id)))


@bp.patch("/users/<int:id>")
@permission_required("people.manage")
def update_user(id):
    actor = current_api_user()
    target = accounts.get_user(id)
    values = fields(json_body(), optional=("role", "first_name", "last_name", "email", "current_password"),
                    booleans=("locked", "email_verified"), objects=("fields", "metadata"))
    profile = {k: values[k] for k in ("fields", "metadata") if k in values}
    check_profile(actor, target, **profile)
    if values.get("email_verified") is False:
        raise ValidationFailed({"email_verified": "Only true is accepted: it marks the address verified."})
    if target.id == actor.id and accounts.email_would_change(target, values.get("email")):
        # One's own address needs one's password here too, as on /users/me.
        accounts.verify_current_password(actor, values.get("current_password"))
    if "email" in values:
        _refuse_taken_email(values["email"], target)
    # One transaction: a refusal part-way (the last administrator, a taken email) leaves
    # every field as it was.
    with database.atomic():
        info = {k: values[k] for k in ("first_name", "last_name", "email", "email_verified") if k in values}
        if info:
            target = accounts.update_user_info(actor, target, **info)
        if "role" in values:
            target = accounts.set_role(target, values["role"], actor=actor)
        if "locked" in values:
            target = accounts.set_locked(target, values["locked"], actor=actor)
        if profile:
            target = update_profile(actor, target, **profile)
    return jsonify(user_json(target))


def _refuse_taken_email(email: str, target: User) -> None:
    """A taken address is a conflict (409), like a taken username at creation."""
    try:
        clean = accounts.clean_email(email)
    except ValueError:
        return  # update_user_info says what is wrong with it
    key = accounts.normalise(clean)
    if key != target.email_key and User.select().where(
            (User.email_key == key) & (User.id != target.id)).exists():
        message = "This email address is already in use."
        raise Conflict(message, {"email": message}, code="taken")


@bp.delete("/users/<int:id>")
@permission_required("people.manage")
def delete_user(id):
    target = accounts.get_user(id)
    recipient = accounts.transfer_recipient(request.args.get("transfer_to"), by_id=True)
    accounts.delete_user(target, actor=current_api_user(), transfer_to=recipient)
    return "", 204


@bp.post("/users/<int:id>/reset-link")
@permission_required("people.manage")
def reset_link(id):
    target = accounts.get_user(id)
    require_outranks(current_api_user(), target)  # a link to their account is their account
    require_local_password(target)
    url, sent = recovery.send_reset_email(target)
    return jsonify(reset_url=url, expires_in=3600, sent=sent)


@bp.post("/users/<int:id>/verification-link")
@permission_required("people.manage")
def verification_link(id):
    target = accounts.get_user(id)
    require_outranks(current_api_user(), target)
    url, sent = recovery.make_verification_link(target)
    return jsonify(verification_url=url, expires_in=LIFETIMES["verify"], sent=sent)


@bp.delete("/users/<int:id>/totp")
@permission_required("people.manage")
def reset_two_factor(id):
    target = accounts.get_user(id)
    require_outranks(current_api_user(), target)
    totp.reset_by_administrator(target, actor=current_api_user())
    return "", 204


def require_local_password(target: User) -> None:
    """Refuse links for people whose password an outside provider keeps (409)."""
    try:
        accounts.require_password_provider(target)
    except Conflict:
        raise Conflict(f"{target.username} signs in through {target.provider}; their password "
                       "is not kept here.", code="password_managed_elsewhere") from None


# ---------------------------------------------------------------- OpenAPI

_USER_ID = path_parameter("id", "The person's id.")
_PAGING = [query_parameter("page", "Page number, from 1 (default 1).", {"type": "integer", "minimum": 1}),
           query_parameter("per_page", "People per page, 1 to 100 (default 50).",
                           {"type": "integer", "minimum": 1, "maximum": PER_PAGE_MAX})]
_ROLE = string("viewer, publisher, administrator or a custom role of Authorization.Roles (422 "
               "otherwise); one the caller could grant (403 `forbidden` naming a permission it "
               "carries that the caller lacks).")

OPENAPI_SCHEMAS: dict = {
    "UserPage": obj(("results", "total", "page", "per_page"),
                    results={"type": "array", "items": ref("User")},
                    total={"type": "integer", "description": "How many match in all: exact up to "
                           "10,000; beyond, 10,000 with `total_capped` true."},
                    total_capped={"type": "boolean", "description": "The people list (GET "
                                  "/api/v1/users): true when a search matches more than 10,000 "
                                  "people and `total` stops at 10,000 (so that a common prefix "
                                  "never counts a million rows)."},
                    page={"type": "integer"}, per_page={"type": "integer"}),
}

OPENAPI_PATHS: dict = {
    "/api/v1/users": {
        "get": operation(
            "List and search people", tag="users", operation_id="listUsers",
            description="Needs `people.read`. Ordered by username. `q` matches the beginning of "
                        "the username, the email address, the first or the last name; with "
                        "several words, each must match. `status` keeps people in one sign-up "
                        "approval state; an approver (`people.approve`) without `people.read` "
                        "may list `status=pending` only.",
            parameters=[query_parameter("q", "Search words."),
                        query_parameter("status", "Only people in this sign-up approval state.",
                                        {"type": "string", "enum": ["active", "pending", "rejected"]}),
                        *_PAGING],
            responses={200: ("A page of people.", ref("UserPage"))}, errors=(403, 422)),
        "post": operation(
            "Create a person", tag="users", operation_id="createUser",
            description="Needs `people.manage`. Without `password` the person gets a confirmation "
                        "link (valid 7 days, single use) to set one: it is returned as "
                        "`confirmation_url`, and mailed when Email is configured "
                        "(`confirmation_sent`). 409 `taken` when the username or email is in use. "
                        "`fields` sets custom profile fields (422 naming `fields.<name>` for an "
                        "unknown one or a bad value); `metadata` is a JSON object of at most 16 KB. "
                        "`groups` names groups the person joins at once (422 for a group that does "
                        "not exist; without `groups.manage` only groups the caller belongs to, and "
                        "a group carrying a role only when the caller could grant that role: 403).",
            request=obj(("username",), username=string(), email=string(format="email"),
                        password=string("Optional."), first_name=string(), last_name=string(),
                        role=_ROLE, groups={"type": "array", "items": {"type": "string"},
                                            "description": "Names of existing groups."},
                        fields=ref("UserFields"), metadata=ref("Metadata")),
            responses={201: ("The new person.", {"allOf": [ref("User"), {"properties": {
                "confirmation_url": string("Only when created without a password.", format="uri"),
                "confirmation_sent": {"type": "boolean"}}}]})},
            errors=(403, 409)),
    },
    "/api/v1/users/{id}": {
        "get": operation("A person", tag="users", operation_id="getUser", parameters=[_USER_ID],
                         description="Needs `people.read`.",
                         responses={200: ("The person.", ref("User"))}, errors=(403, 404)),
        "patch": operation(
            "Change a person", tag="users", operation_id="updateUser", parameters=[_USER_ID],
            description="Needs `people.manage`, and every permission the person holds (403 `forbidden` otherwise). Fields left out stay as they are; all change or "
                        "none. Locking ends the person's sessions and revokes their tokens and "
                        "API keys at once (unlocking does not bring the keys back); `locked: "
                        "false` also ends a lockout after failed logins. 409 "
                        "`last_administrator` when this would leave no unlocked administrator; "
                        "409 `taken` for an email in use. A new `email` is unverified (and the "
                        "person's unused links end; the old address is told) unless "
                        "`email_verified: true` is sent with it, which marks the address "
                        "verified. Changing one's own address needs `current_password`, as on "
                        "/users/me (a wrong one counts toward one's lockout, 423). `fields` "
                        "changes custom profile fields (those sent; null clears one); `metadata` "
                        "replaces the metadata object (at most 16 KB).",
            request=obj((), role=_ROLE, first_name=string(), last_name=string(),
                        email=string(format="email"), locked={"type": "boolean"},
                        email_verified={"type": "boolean", "const": True},
                        current_password=string("Needed to change one's own address."),
                        fields=ref("UserFields"), metadata=ref("Metadata")),
            responses={200: ("The changed person.", ref("User"))}, errors=(403, 404, 409, 423)),
        "delete": operation(
            "Delete a person", tag="users", operation_id="deleteUser",
            description="Needs `people.manage`, and every permission the person holds. Their memberships, tokens and links go with them, "
                        "and so do their documents, those shared with groups included, unless "
                        "`transfer_to` names another person, who then owns them (still shared "
                        "with the same groups). 422 naming `transfer_to` when there is no such "
                        "person or it is the one being deleted. 409 `last_administrator` for "
                        "the last administrator.",
            parameters=[_USER_ID, query_parameter(
                "transfer_to", "The id of the person to give the deleted person's documents to; "
                "without it the documents are deleted.", {"type": "integer", "minimum": 1})],
            responses={204: ("Deleted.", None)}, errors=(403, 404, 409, 422)),
    },
    "/api/v1/users/{id}/reset-link": {
        "post": operation(
            "Make a password reset link", tag="users", operation_id="makeResetLink",
            parameters=[_USER_ID],
            description="Needs `people.manage`, and every permission the person holds. A fresh single-use link (valid 1 hour; earlier "
                        "unused ones end), mailed when Email is configured (`sent`). Give it "
                        "to the person; do not open it yourself.",
            responses={200: ("The link.", obj(("reset_url", "expires_in", "sent"),
                                              reset_url=string(format="uri"),
                                              expires_in={"type": "integer"},
                                              sent={"type": "boolean"}))},
            errors=(403, 404, 409)),
    },
    "/api/v1/users/{id}/verification-link": {
        "post": operation(
            "Make an email verification link", tag="users", operation_id="makeVerificationLink",
            parameters=[_USER_ID],
            description="Needs `people.manage` (and every permission the person holds), for a person whose address is not verified (when "
                        "no mail is configured, say, so the link the sign-up mailed never "
                        "arrived): a fresh single-use link (valid 24 hours; earlier unused ones "
                        "end), mailed too when Email is configured (`sent`). Give it to the "
                        "person; following it verifies their address. To vouch for the address "
                        "without a link, `PATCH /users/{id}` with `email_verified: true`. 409 "
                        "`already_verified`, or `no_email` for a person without an address.",
            responses={200: ("The link.", obj(("verification_url", "expires_in", "sent"),
                                              verification_url=string(format="uri"),
                                              expires_in={"type": "integer"},
                                              sent={"type": "boolean"}))},
            errors=(403, 404, 409)),
    },
    "/api/v1/users/{id}/totp": {
        "delete": operation(
            "Reset a person's two-factor authentication", tag="users", operation_id="resetTwoFactor",
            parameters=[_USER_ID],
            description="Needs `people.manage` (and every permission the person holds), for a person who lost their device: their TOTP "
                        "set-up and recovery codes are removed; they log in with their password "
                        "alone until they set it up again.",
            responses={204: ("Reset.", None)}, errors=(403, 404)),
    },
}
