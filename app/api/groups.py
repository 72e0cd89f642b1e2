"""/api/v1/groups: groups and their members (docs/api.md). Any signed-in person may read the
groups; administrators change them and see their members."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from .. import accounts, groups
from ..authorization.group_roles import roles_of_group, roles_of_groups, set_group_roles
from ..models import Group, database, iso
from .auth import current_api_user, login_required, permission_required
from .jsonbody import fields, json_body
from .openapi import obj, operation, path_parameter, query_parameter, ref, string
from .users import PER_PAGE_MAX, paging, users_json

bp = Blueprint("api_groups", __name__)


def group_json(group: Group, member_count: int, roles: list[str] | None = None) -> dict:
    """The OpenAPI `Group` schema; `roles` saves a query when the caller has them."""
    return {"id": group.id, "name": group.name, "member_count": member_count,
            "roles": roles_of_group(group) if roles is None else roles,
            "created_at": iso(group.created_at)}


@bp.get("/groups")
@login_required
def list_groups():
    page, per_page = paging()
    rows, total = groups.list_groups(request.args.get("q", "")[:200], page, per_page)
    roles = roles_of_groups([g.id for g, _ in rows])
    return jsonify(results=[group_json(g, n, roles[g.id]) for g, n in rows], total=total, page=page,
                   per_page=per_page)


@bp.post("/groups")
@permission_required("groups.manage")
def create_group():
    values = fields(json_body(), required=("name",))
    group = groups.create_group(values["name"], actor=current_api_user())
    return jsonify(group_json(group, 0, [])), 201


@bp.get("/groups/<int:id>")
@login_required
def get_group(id):
    group = groups.get_group(id)
    return jsonify(group_json(group, groups.member_count(group)))


@bp.patch("/groups/<int:id>")
@permission_required("groups.manage")
def update_group(id):
    group = groups.get_group(id)
    data = json_body()
    # `roles` is a list, read by clean_roles; fields() reads the strings. Without roles,
    # a name is what the request is for.
    name = ("name",)
    values = fields({k: v for k, v in data.items() if k != "roles"},
                    required=() if "roles" in data else name, optional=name if "roles" in data else ())
    with database.atomic():  # all change or none
        if "roles" in data:
            set_group_roles(group, data["roles"], actor=current_api_user())
        if "name" in values:
            group = groups.rename_group(group, values["name"], actor=current_api_user())
    return jsonify(group_json(group, groups.member_count(group)))


@bp.delete("/groups/<int:id>")
@permission_required("groups.manage")
def delete_group(id):
    groups.delete_group(groups.get_group(id), actor=current_api_user())
    return "", 204


@bp.get("/groups/<int:id>/members")
@permission_required("groups.manage")
def list_members(id):
    group = groups.get_group(id)
    page, per_page = paging()
    rows, total = groups.members_of(group, page, per_page)
    return jsonify(results=users_json(rows), total=total, page=page, per_page=per_page)


@bp.put("/groups/<int:id>/members/<int:user_id>")
@permission_required("groups.manage")
def add_member(id, user_id):
    group = groups.get_group(id)
    groups.add_member(group, accounts.get_user(user_id), actor=current_api_user())
    return "", 204


@bp.delete("/groups/<int:id>/members/<int:user_id>")
@permission_required("groups.manage")
def remove_member(id, user_id):
    group = groups.get_group(id)
    groups.remove_member(group, accounts.get_user(user_id), actor=current_api_user())
    return "", 204


# ---------------------------------------------------------------- OpenAPI

_GROUP_ID = path_parameter("id", "The group's id.")
_USER_ID = path_parameter("user_id", "The person's id.")
_PAGING = [query_parameter("page", "Page number, from 1 (default 1).", {"type": "integer", "minimum": 1}),
           query_parameter("per_page", "Items per page, 1 to 100 (default 50).",
                           {"type": "integer", "minimum": 1, "maximum": PER_PAGE_MAX})]
_NAME = obj(("name",), name=string("1 to 100 characters; unique, compared case-insensitively."))

OPENAPI_SCHEMAS: dict = {
    "Group": obj(("id", "name", "member_count", "roles", "created_at"),
                 id={"type": "integer"}, name={"type": "string"},
                 member_count={"type": "integer"},
                 roles={"type": "array", "items": {"type": "string"},
                        "description": "Roles every member holds while a member."},
                 created_at={"type": "string", "format": "date-time"}),
    "GroupPage": obj(("results", "total", "page", "per_page"),
                     results={"type": "array", "items": ref("Group")}, total={"type": "integer"},
                     page={"type": "integer"}, per_page={"type": "integer"}),
}

OPENAPI_PATHS: dict = {
    "/api/v1/groups": {
        "get": operation(
            "List groups", tag="groups", operation_id="listGroups",
            description="Any signed-in person. Ordered by name; `q` matches part of the name.",
            parameters=[query_parameter("q", "Part of a group name."), *_PAGING],
            responses={200: ("A page of groups.", ref("GroupPage"))}, errors=(422,)),
        "post": operation(
            "Create a group", tag="groups", operation_id="createGroup",
            description="Needs `groups.manage`. 409 `taken` when the name is in use (compared "
                        "case-insensitively).",
            request=_NAME, responses={201: ("The new group.", ref("Group"))}, errors=(403, 409)),
    },
    "/api/v1/groups/{id}": {
        "get": operation("A group", tag="groups", operation_id="getGroup", parameters=[_GROUP_ID],
                         description="Any signed-in person.",
                         responses={200: ("The group.", ref("Group"))}, errors=(404,)),
        "patch": operation(
            "Rename a group or set its roles", tag="groups", operation_id="updateGroup",
            parameters=[_GROUP_ID],
            description="Needs `groups.manage`. `roles` replaces the group's roles (built-in or "
                        "custom role names); every member holds them while a member. Each role "
                        "added or taken away must be one the caller could grant: 403 `forbidden` "
                        "naming a permission it carries that the caller lacks. 422 on `roles` "
                        "for an unknown role. All change or none.",
            request=obj((), name=string("1 to 100 characters; unique, compared case-insensitively."),
                        roles={"type": "array", "items": {"type": "string"}}),
            responses={200: ("The changed group.", ref("Group"))}, errors=(403, 404, 409, 422)),
        "delete": operation("Delete a group", tag="groups", operation_id="deleteGroup",
                            parameters=[_GROUP_ID],
                            description="Needs `groups.manage`. Its memberships go with it; the "
                                        "people stay.",
                            responses={204: ("Deleted.", None)}, errors=(403, 404)),
    },
    "/api/v1/groups/{id}/members": {
        "get": operation(
            "A group's members", tag="groups", operation_id="listGroupMembers",
            parameters=[_GROUP_ID, *_PAGING], description="Needs `groups.manage`. Ordered by username.",
            responses={200: ("A page of members.", ref("UserPage"))}, errors=(403, 404, 422)),
    },
    "/api/v1/groups/{id}/members/{user_id}": {
        "put": operation(
            "Add a member", tag="groups", operation_id="addGroupMember",
            parameters=[_GROUP_ID, _USER_ID],
            description="Needs `groups.manage`. Adding a member twice changes nothing.",
            responses={204: ("The person is a member.", None)}, errors=(403, 404)),
        "delete": operation(
            "Remove a member", tag="groups", operation_id="removeGroupMember",
            parameters=[_GROUP_ID, _USER_ID],
            description="Needs `groups.manage`. 404 `not_a_member` when the person is not a member.",
            responses={204: ("Removed.", None)}, errors=(403, 404)),
    },
}
