"""/api/v1/groups: groups and their members (docs/api.md). Any signed-in person may read the
groups; administrators change them and see their members."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from .. import accounts, groups
from ..models import Group, iso
from .auth import admin_required, current_api_user, login_required
from .jsonbody import fields, json_body
from .openapi import obj, operation, path_parameter, query_parameter, ref, string
from .users import PER_PAGE_MAX, paging, users_json

bp = Blueprint("api_groups", __name__)


def group_json(group: Group, member_count: int) -> dict:
    return {"id": group.id, "name": group.name, "member_count": member_count,
            "created_at": iso(group.created_at)}


@bp.get("/groups")
@login_required
def list_groups():
    page, per_page = paging()
    rows, total = groups.list_groups(request.args.get("q", "")[:200], page, per_page)
    return jsonify(results=[group_json(g, n) for g, n in rows], total=total, page=page,
                   per_page=per_page)


@bp.post("/groups")
@admin_required
def create_group():
    values = fields(json_body(), required=("name",))
    group = groups.create_group(values["name"], actor=current_api_user())
    return jsonify(group_json(group, 0)), 201


@bp.get("/groups/<int:id>")
@login_required
def get_group(id):
    group = groups.get_group(id)
    return jsonify(group_json(group, groups.member_count(group)))


@bp.patch("/groups/<int:id>")
@admin_required
def rename_group(id):
    group = groups.get_group(id)
    values = fields(json_body(), required=("name",))
    group = groups.rename_group(group, values["name"], actor=current_api_user())
    return jsonify(group_json(group, groups.member_count(group)))


@bp.delete("/groups/<int:id>")
@admin_required
def delete_group(id):
    groups.delete_group(groups.get_group(id), actor=current_api_user())
    return "", 204


@bp.get("/groups/<int:id>/members")
@admin_required
def list_members(id):
    group = groups.get_group(id)
    page, per_page = paging()
    rows, total = groups.members_of(group, page, per_page)
    return jsonify(results=users_json(rows), total=total, page=page, per_page=per_page)


@bp.put("/groups/<int:id>/members/<int:user_id>")
@admin_required
def add_member(id, user_id):
    group = groups.get_group(id)
    groups.add_member(group, accounts.get_user(user_id), actor=current_api_user())
    return "", 204


@bp.delete("/groups/<int:id>/members/<int:user_id>")
@admin_required
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
    "Group": obj(("id", "name", "member_count", "created_at"),
                 id={"type": "integer"}, name={"type": "string"},
                 member_count={"type": "integer"},
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
            description="Administrators only. 409 `taken` when the name is in use (compared "
                        "case-insensitively).",
            request=_NAME, responses={201: ("The new group.", ref("Group"))}, errors=(403, 409)),
    },
    "/api/v1/groups/{id}": {
        "get": operation("A group", tag="groups", operation_id="getGroup", parameters=[_GROUP_ID],
                         description="Any signed-in person.",
                         responses={200: ("The group.", ref("Group"))}, errors=(404,)),
        "patch": operation("Rename a group", tag="groups", operation_id="renameGroup",
                           parameters=[_GROUP_ID], description="Administrators only.",
                           request=_NAME, responses={200: ("The renamed group.", ref("Group"))},
                           errors=(403, 404, 409)),
        "delete": operation("Delete a group", tag="groups", operation_id="deleteGroup",
                            parameters=[_GROUP_ID],
                            description="Administrators only. Its memberships go with it; the "
                                        "people stay.",
                            responses={204: ("Deleted.", None)}, errors=(403, 404)),
    },
    "/api/v1/groups/{id}/members": {
        "get": operation(
            "A group's members", tag="groups", operation_id="listGroupMembers",
            parameters=[_GROUP_ID, *_PAGING], description="Administrators only. Ordered by username.",
            responses={200: ("A page of members.", ref("UserPage"))}, errors=(403, 404, 422)),
    },
    "/api/v1/groups/{id}/members/{user_id}": {
        "put": operation(
            "Add a member", tag="groups", operation_id="addGroupMember",
            parameters=[_GROUP_ID, _USER_ID],
            description="Administrators only. Adding a member twice changes nothing.",
            responses={204: ("The person is a member.", None)}, errors=(403, 404)),
        "delete": operation(
            "Remove a member", tag="groups", operation_id="removeGroupMember",
            parameters=[_GROUP_ID, _USER_ID],
            description="Administrators only. 404 `not_a_member` when the person is not a member.",
            responses={204: ("Removed.", None)}, errors=(403, 404)),
    },
}
