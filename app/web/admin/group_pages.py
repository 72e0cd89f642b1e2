"""The group pages of /admin: the list, a new group, a group's page and its changes
(rename, roles, members, delete)."""
from __future__ import annotations

from flask import abort, flash, make_response, redirect, render_template, request, url_for

from ... import accounts, groups
from ...authorization import known_roles, role_title
from ...authorization.group_roles import roles_of_group, set_group_roles
from ...errors import ServiceError
from ..forms import add_error, show_service_error
from ..session import sudo_required
from . import PER_PAGE, SEE_OTHER, back_to, bp, group_or_404, me, page_count, page_number, person_or_404
from .forms import ActionForm, DeleteForm, GroupForm, GroupRolesForm, MemberForm


@bp.get("/groups", endpoint="groups")
def groups_page():
    return _groups_page(GroupForm(formdata=None))


def _groups_page(form, status: int = 200):
    q = request.args.get("q", "").strip()[:200]
    page = page_number()
    rows, total = groups.list_groups(q, page, PER_PAGE)
    return make_response(render_template("admin/groups.html", rows=rows, total=total, q=q, page=page,
                                         pages=page_count(total), form=form), status)


@bp.route("/groups/new", methods=["GET", "POST"])
@sudo_required
def new_group():
    if request.method == "GET":
        return back_to("admin.groups")
    form = GroupForm()
    if not form.validate():
        return _groups_page(form, 400)
    try:
        group = groups.create_group(form.name.data, actor=me())
    except ServiceError as e:
        show_service_error(form, e)
        return _groups_page(form, e.status)
    flash(f"The group {group.name} has been created.", "success")
    return redirect(url_for("admin.group", group_id=group.id), SEE_OTHER)


@bp.get("/groups/<int:group_id>")
def group(group_id):
    return _group_page(group_or_404(group_id))


def _group_page(group, status: int = 200, **forms):
    page = page_number()
    members, total = groups.members_of(group, page, PER_PAGE)
    return make_response(render_template(
        "admin/group.html", group=group, members=members, total=total, page=page,
        pages=page_count(total),
        rename_form=forms.get("rename_form") or GroupForm(formdata=None, name=group.name),
        member_form=forms.get("member_form") or MemberForm(formdata=None),
        roles=roles_of_group(group), roles_form=forms.get("roles_form") or GroupRolesForm(formdata=None),
        role_choices=_grouprole_choices(group), errors=forms.get("errors", []),
        action_form=ActionForm(formdata=None)), status)


def _grouprole_choices(group) -> list[tuple[str, str, bool, bool]]:
    """(role, title, the group has it, the signed-in person may grant it) for each role."""
    from ...authorization import can_grant
    held = set(roles_of_group(group))
    return [(r, role_title(r), r in held, can_grant(me(), r)) for r in known_roles()]


@bp.route("/groups/<int:group_id>/roles", methods=["GET", "POST"])
@sudo_required
def group_roles(group_id):
    """Set the roles the group carries: every member holds them while a member."""
    group = group_or_404(group_id)
    if request.method == "GET":
        return back_to("admin.group", group_id=group.id)
    form = GroupRolesForm()
    if not form.validate():
        return _group_page(group, 400, roles_form=form)
    try:
        roles = set_group_roles(group, form.roles.data or [], actor=me())
    except ServiceError as e:
        return _group_page(group, e.status, roles_form=form,
                           errors=[e.fields.get("roles", e.message) if e.fields else e.message])
    flash(f"Members of {group.name} now hold: {', '.join(role_title(r) for r in roles) or 'no role'}.",
          "success")
    return back_to("admin.group", group_id=group.id)


@bp.route("/groups/<int:group_id>/rename", methods=["GET", "POST"])
@sudo_required
def rename_group(group_id):
    group = group_or_404(group_id)
    if request.method == "GET":
        return back_to("admin.group", group_id=group.id)
    form = GroupForm()
    if not form.validate():
        return _group_page(group, 400, rename_form=form)
    try:
        renamed = groups.rename_group(group, form.name.data, actor=me())
    except ServiceError as e:
        show_service_error(form, e)
        return _group_page(group, e.status, rename_form=form)
    flash(f"The group is now called {renamed.name}.", "success")
    return back_to("admin.group", group_id=group.id)


@bp.route("/groups/<int:group_id>/members", methods=["GET", "POST"])
@sudo_required
def add_member(group_id):
    group = group_or_404(group_id)
    if request.method == "GET":
        return back_to("admin.group", group_id=group.id)
    form = MemberForm()
    if not form.validate():
        return _group_page(group, 400, member_form=form)
    wanted = form.member.data.replace("\x00", "").strip()
    user = accounts.find_user_by_login(wanted)
    if user is None:
        add_error(form, "member", f"There is nobody with the username or email {wanted!r}.")
        return _group_page(group, 404, member_form=form)
    try:
        added = groups.add_member(group, user, actor=me())
    except ServiceError as e:
        add_error(form, "member", e.message)
        return _group_page(group, e.status, member_form=form)
    if added:
        flash(f"{user.username} is now a member of {group.name}.", "success")
    else:
        flash(f"{user.username} already was a member of {group.name}.", "info")
    return back_to("admin.group", group_id=group.id)


@bp.route("/groups/<int:group_id>/members/<int:user_id>/remove", methods=["GET", "POST"])
@sudo_required
def remove_member(group_id, user_id):
    group = group_or_404(group_id)
    if request.method == "GET":
        return back_to("admin.group", group_id=group.id)
    if not ActionForm().validate():
        abort(400)
    user = person_or_404(user_id)
    try:
        groups.remove_member(group, user, actor=me())
    except ServiceError as e:
        return _group_page(group, e.status, errors=[e.message])
    flash(f"{user.username} is no longer a member of {group.name}.", "success")
    return back_to("admin.group", group_id=group.id)


@bp.route("/groups/<int:group_id>/delete", methods=["GET", "POST"])
@sudo_required
def delete_group(group_id):
    group = group_or_404(group_id)
    form = DeleteForm()
    if request.method == "POST":
        if form.validate():
            try:
                groups.delete_group(group, actor=me())
            except ServiceError as e:
                abort(e.status, e.message)
            flash(f"The group {group.name} has been deleted.", "success")
            return redirect(url_for("admin.groups"), SEE_OTHER)
        status = 400
    else:
        status = 200
    return make_response(render_template("admin/group_delete.html", group=group, form=form,
                                         members=groups.member_count(group)), status)
