"""Administration pages (docs/administration.md): /admin/people (list, search, create, a person's page with
role, details, lock, confirmation and reset links, API keys, delete) and /admin/groups.

Each page needs its permission (PERMISSION_OF below): people.read to see people,
people.manage to change them, keys.manage_all for their API keys, groups.manage for
groups. Anonymous visitors are sent to log in, everyone else without it gets 403. Views
are thin: a form checks shape, a service function (app/accounts.py, app/groups.py,
app/recovery.py) applies the rules, and its ServiceError is shown beside the field it
names. Every change asks for the password again when Password.WebSudoMode is on
(@sudo_required). Sudo sends the browser back to the address it interrupted with a GET, so
each action answers a GET by returning to the page its form is on.
"""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, abort, current_app, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms import BooleanField, EmailField, PasswordField, SelectField, SelectMultipleField, StringField
from wtforms.validators import InputRequired, Length

try:  # WTForms 3.3 deprecates (value, label) tuples
    from wtforms.fields.choices import SelectChoice
except ImportError:  # pragma: no cover - older WTForms
    def SelectChoice(value, label):  # noqa: N802
        return (value, label)

from .. import accounts, apikeys, groups, recovery, throttle, totp
from ..documents import service as document_service
from ..errors import Conflict, NotFound, ServiceError
from ..links import LIFETIMES, pending_link
from ..mail import mail_configured
from ..authorization import has_permission, known_roles, require_outranks, role_title
from ..authorization.group_roles import roles_of_group, set_group_roles
from ..models import User
from .forms import LONG, BrowserForm, add_error, show_service_error
from .session import ask_for_sudo, sudo_active, sudo_required

bp = Blueprint("admin", __name__, url_prefix="/admin")

SEE_OTHER = 303
PER_PAGE = 50


def _role_choices(current: str | None = None) -> list:
    """The roles the signed-in person may grant (and `current`, so the form shows it)."""
    from ..authorization import can_grant
    me = _me()
    return [SelectChoice(r, role_title(r)) for r in known_roles() if r == current or can_grant(me, r)]


# ---------------------------------------------------------------- forms (shape only)

class CreatePersonForm(BrowserForm):
    username = StringField("Username", validators=[InputRequired("Choose a username."), Length(max=LONG)])
    email = EmailField("Email", validators=[Length(max=LONG)])
    first_name = StringField("First name (optional)", validators=[Length(max=LONG)])
    last_name = StringField("Last name (optional)", validators=[Length(max=LONG)])
    role = SelectField("Role", default="viewer")  # choices: the roles one may grant
    password = PasswordField("Password (optional)", validators=[Length(max=LONG)])


class RoleForm(BrowserForm):
    role = SelectField("Role")  # choices: the roles one may grant, and the person's own


class DetailsForm(BrowserForm):
    first_name = StringField("First name", validators=[Length(max=LONG)])
    last_name = StringField("Last name", validators=[Length(max=LONG)])
    email = EmailField("Email", validators=[Length(max=LONG)])


class ActionForm(BrowserForm):
    """A button: the CSRF token is all it carries."""


class DeleteForm(BrowserForm):
    confirm = BooleanField("Yes, delete it", validators=[InputRequired("Tick the box to confirm.")])


class DeletePersonForm(DeleteForm):
    transfer_to = StringField("Give their documents to (username or email; optional)",
                              validators=[Length(max=LONG)])


class GroupForm(BrowserForm):
    name = StringField("Group name", validators=[InputRequired("Enter a group name."), Length(max=LONG)])


class GroupRolesForm(BrowserForm):
    roles = SelectMultipleField("Roles", validate_choice=False)


class MemberForm(BrowserForm):
    member = StringField("Username or email", validators=[InputRequired("Enter a username or email."),
                                                         Length(max=LONG)])


# ---------------------------------------------------------------- access

# The permission each page needs (by endpoint); pages not listed need people.manage.
PERMISSION_OF = {
    "admin.index": "people.read",
    "admin.people": "people.read",
    "admin.person": "people.read",
    "admin.revoke_api_key": "keys.manage_all",
    "admin.groups": "groups.manage",
    "admin.new_group": "groups.manage",
    "admin.group": "groups.manage",
    "admin.rename_group": "groups.manage",
    "admin.group_roles": "groups.manage",
    "admin.add_member": "groups.manage",
    "admin.remove_member": "groups.manage",
    "admin.delete_group": "groups.manage",
}


# Actions that hand over a person's account (a link to set their password) or weaken it:
# the service functions of the other changes check the same rule themselves.
_TAKEOVER_ENDPOINTS = {"admin.resend_confirmation", "admin.reset_link", "admin.verification_link",
                       "admin.reset_two_factor"}


@bp.before_request
def _holders_of_the_permission_only():
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    permission = PERMISSION_OF.get(request.endpoint, "people.manage")
    if not has_permission(_me(), permission):
        abort(403, f"This page needs the permission {permission}.")
    if request.method == "POST" and request.endpoint in _TAKEOVER_ENDPOINTS:
        target = User.get_or_none(User.id == request.view_args["user_id"])
        if target is not None:
            try:  # nobody changes someone who holds permissions they lack
                require_outranks(_me(), target)
            except ServiceError as e:
                abort(403, e.message)
    return None


def _me() -> User:
    return current_user._get_current_object()


def _page_number() -> int:
    page = request.args.get("page", 1, type=int)
    return min(max(page, 1), 10**6)


def _pages(total: int) -> int:
    return max(1, -(-total // PER_PAGE))


def _back_to(endpoint: str, **values):
    """Where an action sends a GET (after /sudo): the page its form is on."""
    return redirect(url_for(endpoint, **values), SEE_OTHER)


def _person_or_404(user_id: int) -> User:
    try:
        return accounts.get_user(user_id)
    except NotFound:
        abort(404, "There is no such person. They may have been deleted.")


def _group_or_404(group_id: int):
    try:
        return groups.get_group(group_id)
    except NotFound:
        abort(404, "There is no such group. It may have been deleted.")


# ---------------------------------------------------------------- people

@bp.get("/")
def index():
    return redirect(url_for("admin.people"))


@bp.get("/people")
def people():
    q = request.args.get("q", "").strip()[:200]
    page = _page_number()
    rows, total = accounts.search_users(q, page, PER_PAGE)
    return render_template("admin/people.html", people=rows, total=total, q=q, page=page,
                           pages=_pages(total), status_of=recovery.status_of)


@bp.route("/people/new", methods=["GET", "POST"])
@sudo_required
def new_person():
    form = CreatePersonForm()
    form.role.choices = _role_choices()
    if request.method == "GET":
        return _new_person_page(form)
    if not form.validate():
        return _new_person_page(form, 400)
    try:
        user, url, sent = recovery.create_person(
            form.username.data.strip(), (form.email.data or "").strip() or None,
            form.password.data or None, first_name=form.first_name.data or "",
            last_name=form.last_name.data or "", role=form.role.data, actor=_me())
    except ServiceError as e:
        show_service_error(form, e)
        return _new_person_page(form, e.status)
    flash(f"{user.username} has been created.", "success")
    if url:
        _flash_link(user, "confirm", sent)
    return redirect(url_for("admin.person", user_id=user.id), SEE_OTHER)


def _new_person_page(form, status: int = 200):
    return make_response(render_template("admin/person_new.html", form=form,
                                         mail=mail_configured()), status)


def _flash_link(user: User, purpose: str, sent: bool) -> None:
    what = {"confirm": "confirmation link", "verify": "verification link"}.get(purpose, "password reset link")
    if sent:
        flash(f"A {what} has been mailed to {user.email}.", "success")
    elif mail_configured() and user.email:
        flash(f"A {what} has been made but could not be mailed (see the server log): copy it "
              f"from below and give it to {user.username}.", "warning")
    else:
        flash(f"A {what} has been made: copy it from below and give it to {user.username}.", "info")


@bp.get("/people/<int:user_id>")
def person(user_id):
    return _person_page(_person_or_404(user_id))


def _person_page(user: User, status: int = 200, **forms):
    """A person's page; `forms` are the forms of a refused change, with their errors."""
    role_form = forms.get("role_form") or RoleForm(formdata=None, role=user.role)
    role_form.role.choices = _role_choices(user.role)
    details_form = forms.get("details_form") or DetailsForm(formdata=None, obj=user)
    local_password = _has_local_password(user)
    links = {}
    if local_password:
        for purpose in ("confirm", "reset"):
            found = pending_link(user, purpose)
            if found:
                links[purpose] = found[0]
    verify_link = pending_link(user, "verify") if user.email and not user.email_verified else None
    return make_response(render_template(
        "admin/person.html", person=user, groups=groups.groups_of_user(user), role_form=role_form,
        verify_link=verify_link[0] if verify_link else None,
        verification_required=recovery.verification_required(user), status=recovery.status_of(user),
        details_form=details_form, action_form=ActionForm(formdata=None), links=links,
        local_password=local_password, mail=mail_configured() and bool(user.email),
        mail_on=mail_configured(),
        lifetimes={k: v // 3600 for k, v in LIFETIMES.items()}, is_me=user.id == _me().id,
        sudo_mode=current_app.extensions["keystead.settings"]["Password.WebSudoMode"],
        sudo_active=sudo_active(), errors=forms.get("errors", []),
        two_factor=totp.totp_enabled(user), lockout_until=_lockout_until(user),
        role_title=role_title(user.role), may_manage=has_permission(_me(), "people.manage"),
        keys=apikeys.list_api_keys(user) if has_permission(_me(), "keys.manage_all") else None), status)


def _lockout_until(user: User) -> datetime | None:
    """When the person's lockout after failed logins ends, None when none is active."""
    ends = throttle.lockout_ends_at(user)
    return datetime.fromtimestamp(ends, timezone.utc) if ends else None


def _has_local_password(user: User) -> bool:
    try:
        accounts.require_password_provider(user)
    except Conflict:
        return False
    return True


@bp.route("/people/<int:user_id>/role", methods=["GET", "POST"])
@sudo_required
def change_role(user_id):
    user = _person_or_404(user_id)
    if request.method == "GET":
        return _back_to("admin.person", user_id=user.id)
    form = RoleForm()
    form.role.choices = _role_choices(user.role)
    if not form.validate():
        return _person_page(user, 400, role_form=form)
    try:
        updated = accounts.set_role(user, form.role.data, actor=_me())
    except ServiceError as e:
        show_service_error(form, e)
        if not e.fields:  # the last administrator: say it beside the role
            form.form_errors = []
            add_error(form, "role", e.message)
        return _person_page(user, e.status, role_form=form)
    flash(f"{updated.username} is now {updated.role}.", "success")
    if updated.id == _me().id:  # a change of role ends the person's sessions, this one too
        return redirect(url_for("auth.login"), SEE_OTHER)
    return _back_to("admin.person", user_id=user.id)


@bp.route("/people/<int:user_id>/details", methods=["GET", "POST"])
@sudo_required
def change_details(user_id):
    user = _person_or_404(user_id)
    if request.method == "GET":
        return _back_to("admin.person", user_id=user.id)
    form = DetailsForm()
    if not form.validate():
        return _person_page(user, 400, details_form=form)
    email = (form.email.data or "").strip()
    if not email and user.email is None:
        email = None  # no address before, none now
    if user.id == _me().id and accounts.email_would_change(user, email) and not sudo_active(always_ask=True):
        return ask_for_sudo()  # one's own address: the password, always (as on /profile)
    try:
        accounts.update_user_info(_me(), user, email=email, first_name=form.first_name.data or "",
                                  last_name=form.last_name.data or "")
    except ServiceError as e:
        show_service_error(form, e)
        return _person_page(user, e.status, details_form=form)
    flash(f"The details of {user.username} have been saved.", "success")
    return _back_to("admin.person", user_id=user.id)


@bp.route("/people/<int:user_id>/lock", methods=["GET", "POST"])
@sudo_required
def lock(user_id):
    return _set_locked(user_id, True)


@bp.route("/people/<int:user_id>/unlock", methods=["GET", "POST"])
@sudo_required
def unlock(user_id):
    return _set_locked(user_id, False)


def _set_locked(user_id: int, locked: bool):
    user = _person_or_404(user_id)
    if request.method == "GET":
        return _back_to("admin.person", user_id=user.id)
    if not ActionForm().validate():
        abort(400)
    locked_out = not locked and bool(throttle.lockout_ends_at(user))  # for the message
    try:
        updated = accounts.set_locked(user, locked, actor=_me())
    except ServiceError as e:
        return _person_page(user, e.status, errors=[e.message])
    if locked:
        flash(f"{updated.username} is locked: they cannot log in, their sessions and tokens "
              "have ended and their API keys are revoked.", "success")
        if updated.id == _me().id:
            return redirect(url_for("auth.login"), SEE_OTHER)
    elif locked_out:
        flash(f"{updated.username} is unlocked: the lockout after failed logins has ended.", "success")
    else:
        flash(f"{updated.username} is unlocked.", "success")
    return _back_to("admin.person", user_id=user.id)


@bp.route("/people/<int:user_id>/two-factor", methods=["GET", "POST"])
@sudo_required
def reset_two_factor(user_id):
    """Clear a person's two-factor set-up (a lost device); they set it up again."""
    user = _person_or_404(user_id)
    if request.method == "GET":
        return _back_to("admin.person", user_id=user.id)
    if not ActionForm().validate():
        abort(400)
    totp.reset_by_administrator(user, actor=_me())
    flash(f"Two-factor authentication of {user.username} is reset; they log in with their password "
          "alone until they set it up again.", "success")
    return _back_to("admin.person", user_id=user.id)


@bp.route("/people/<int:user_id>/api-keys/<int:key_id>/revoke", methods=["GET", "POST"])
@sudo_required
def revoke_api_key(user_id, key_id):
    """Revoke one of a person's API keys (a leaked one, or a departing program's)."""
    user = _person_or_404(user_id)
    if request.method == "GET":
        return _back_to("admin.person", user_id=user.id)
    if not ActionForm().validate():
        abort(400)
    try:
        record = apikeys.revoke_api_key(user, key_id, actor=_me())
    except NotFound:
        abort(404, f"{user.username} has no such API key. It may have been revoked already.")
    flash(f"The API key “{record.name}” of {user.username} has been revoked.", "success")
    return _back_to("admin.person", user_id=user.id)


@bp.route("/people/<int:user_id>/confirmation", methods=["GET", "POST"])
@sudo_required
def resend_confirmation(user_id):
    return _make_link(user_id, "confirm")


@bp.route("/people/<int:user_id>/reset-link", methods=["GET", "POST"])
@sudo_required
def reset_link(user_id):
    return _make_link(user_id, "reset")


def _make_link(user_id: int, purpose: str):
    user = _person_or_404(user_id)
    if request.method == "GET":
        return _back_to("admin.person", user_id=user.id)
    if not ActionForm().validate():
        abort(400)
    if not _has_local_password(user):
        return _person_page(user, 409, errors=[
            f"{user.username} signs in through {user.provider}; their password is not kept here."])
    if purpose == "confirm" and user.password_hash is not None:
        return _person_page(user, 409, errors=[
            f"{user.username} has already set a password; make a reset link instead."])
    send = recovery.send_confirmation_email if purpose == "confirm" else recovery.send_reset_email
    _, sent = send(user)
    _flash_link(user, purpose, sent)
    return _back_to("admin.person", user_id=user.id)


@bp.route("/people/<int:user_id>/verification-link", methods=["GET", "POST"])
@sudo_required
def verification_link(user_id):
    """A fresh verification link to copy (when no mail is configured) and pass on."""
    user = _person_or_404(user_id)
    if request.method == "GET":
        return _back_to("admin.person", user_id=user.id)
    if not ActionForm().validate():
        abort(400)
    try:
        _, sent = recovery.make_verification_link(user)
    except ServiceError as e:
        return _person_page(user, e.status, errors=[e.message])
    _flash_link(user, "verify", sent)
    return _back_to("admin.person", user_id=user.id)


@bp.route("/people/<int:user_id>/mark-verified", methods=["GET", "POST"])
@sudo_required
def mark_verified(user_id):
    """Vouch for the person's address without a link (recorded in the audit log)."""
    user = _person_or_404(user_id)
    if request.method == "GET":
        return _back_to("admin.person", user_id=user.id)
    if not ActionForm().validate():
        abort(400)
    try:
        accounts.mark_email_verified(_me(), user)
    except ServiceError as e:
        return _person_page(user, e.status, errors=[e.message])
    flash(f"The address {user.email} of {user.username} is marked verified.", "success")
    return _back_to("admin.person", user_id=user.id)


@bp.route("/people/<int:user_id>/delete", methods=["GET", "POST"])
@sudo_required
def delete_person(user_id):
    user = _person_or_404(user_id)
    form = DeletePersonForm()
    if request.method == "POST":
        if form.validate():
            me = _me()
            try:
                recipient = accounts.transfer_recipient(form.transfer_to.data)
                accounts.delete_user(user, actor=me, transfer_to=recipient)
            except ServiceError as e:
                show_service_error(form, e)
                return _delete_person_page(user, form, e.status)
            flash(f"{user.username} has been deleted" + (
                f"; their documents now belong to {recipient.username}." if recipient else "."), "success")
            if user.id == me.id:
                return redirect(url_for("auth.login"), SEE_OTHER)
            return redirect(url_for("admin.people"), SEE_OTHER)
        return _delete_person_page(user, form, 400)
    return _delete_person_page(user, form)


def _delete_person_page(user: User, form, status: int = 200):
    owned, shared = document_service.owned_counts(user)
    return make_response(render_template("admin/person_delete.html", person=user, form=form,
                                         groups=accounts.groups_of(user), documents=owned,
                                         shared_documents=shared), status)


# ---------------------------------------------------------------- groups

@bp.get("/groups", endpoint="groups")
def groups_page():
    return _groups_page(GroupForm(formdata=None))


def _groups_page(form, status: int = 200):
    q = request.args.get("q", "").strip()[:200]
    page = _page_number()
    rows, total = groups.list_groups(q, page, PER_PAGE)
    return make_response(render_template("admin/groups.html", rows=rows, total=total, q=q, page=page,
                                         pages=_pages(total), form=form), status)


@bp.route("/groups/new", methods=["GET", "POST"])
@sudo_required
def new_group():
    if request.method == "GET":
        return _back_to("admin.groups")
    form = GroupForm()
    if not form.validate():
        return _groups_page(form, 400)
    try:
        group = groups.create_group(form.name.data, actor=_me())
    except ServiceError as e:
        show_service_error(form, e)
        return _groups_page(form, e.status)
    flash(f"The group {group.name} has been created.", "success")
    return redirect(url_for("admin.group", group_id=group.id), SEE_OTHER)


@bp.get("/groups/<int:group_id>")
def group(group_id):
    return _group_page(_group_or_404(group_id))


def _group_page(group, status: int = 200, **forms):
    page = _page_number()
    members, total = groups.members_of(group, page, PER_PAGE)
    return make_response(render_template(
        "admin/group.html", group=group, members=members, total=total, page=page,
        pages=_pages(total),
        rename_form=forms.get("rename_form") or GroupForm(formdata=None, name=group.name),
        member_form=forms.get("member_form") or MemberForm(formdata=None),
        roles=roles_of_group(group), roles_form=forms.get("roles_form") or GroupRolesForm(formdata=None),
        role_choices=_group_role_choices(group), errors=forms.get("errors", []),
        action_form=ActionForm(formdata=None)), status)


def _group_role_choices(group) -> list[tuple[str, str, bool, bool]]:
    """(role, title, the group has it, the signed-in person may grant it) for each role."""
    from ..authorization import can_grant
    held = set(roles_of_group(group))
    return [(r, role_title(r), r in held, can_grant(_me(), r)) for r in known_roles()]


@bp.route("/groups/<int:group_id>/roles", methods=["GET", "POST"])
@sudo_required
def group_roles(group_id):
    """Set the roles the group carries: every member holds them while a member."""
    group = _group_or_404(group_id)
    if request.method == "GET":
        return _back_to("admin.group", group_id=group.id)
    form = GroupRolesForm()
    if not form.validate():
        return _group_page(group, 400, roles_form=form)
    try:
        roles = set_group_roles(group, form.roles.data or [], actor=_me())
    except ServiceError as e:
        return _group_page(group, e.status, roles_form=form,
                           errors=[e.fields.get("roles", e.message) if e.fields else e.message])
    flash(f"Members of {group.name} now hold: {', '.join(role_title(r) for r in roles) or 'no role'}.",
          "success")
    return _back_to("admin.group", group_id=group.id)


@bp.route("/groups/<int:group_id>/rename", methods=["GET", "POST"])
@sudo_required
def rename_group(group_id):
    group = _group_or_404(group_id)
    if request.method == "GET":
        return _back_to("admin.group", group_id=group.id)
    form = GroupForm()
    if not form.validate():
        return _group_page(group, 400, rename_form=form)
    try:
        renamed = groups.rename_group(group, form.name.data, actor=_me())
    except ServiceError as e:
        show_service_error(form, e)
        return _group_page(group, e.status, rename_form=form)
    flash(f"The group is now called {renamed.name}.", "success")
    return _back_to("admin.group", group_id=group.id)


@bp.route("/groups/<int:group_id>/members", methods=["GET", "POST"])
@sudo_required
def add_member(group_id):
    group = _group_or_404(group_id)
    if request.method == "GET":
        return _back_to("admin.group", group_id=group.id)
    form = MemberForm()
    if not form.validate():
        return _group_page(group, 400, member_form=form)
    wanted = form.member.data.replace("\x00", "").strip()
    user = accounts.find_user_by_login(wanted)
    if user is None:
        add_error(form, "member", f"There is nobody with the username or email {wanted!r}.")
        return _group_page(group, 404, member_form=form)
    try:
        added = groups.add_member(group, user, actor=_me())
    except ServiceError as e:
        add_error(form, "member", e.message)
        return _group_page(group, e.status, member_form=form)
    if added:
        flash(f"{user.username} is now a member of {group.name}.", "success")
    else:
        flash(f"{user.username} already was a member of {group.name}.", "info")
    return _back_to("admin.group", group_id=group.id)


@bp.route("/groups/<int:group_id>/members/<int:user_id>/remove", methods=["GET", "POST"])
@sudo_required
def remove_member(group_id, user_id):
    group = _group_or_404(group_id)
    if request.method == "GET":
        return _back_to("admin.group", group_id=group.id)
    if not ActionForm().validate():
        abort(400)
    user = _person_or_404(user_id)
    try:
        groups.remove_member(group, user, actor=_me())
    except ServiceError as e:
        return _group_page(group, e.status, errors=[e.message])
    flash(f"{user.username} is no longer a member of {group.name}.", "success")
    return _back_to("admin.group", group_id=group.id)


@bp.route("/groups/<int:group_id>/delete", methods=["GET", "POST"])
@sudo_required
def delete_group(group_id):
    group = _group_or_404(group_id)
    form = DeleteForm()
    if request.method == "POST":
        if form.validate():
            try:
                groups.delete_group(group, actor=_me())
            except ServiceError as e:
                abort(e.status, e.message)
            flash(f"The group {group.name} has been deleted.", "success")
            return redirect(url_for("admin.groups"), SEE_OTHER)
        status = 400
    else:
        status = 200
    return make_response(render_template("admin/group_delete.html", group=group, form=form,
                                         members=groups.member_count(group)), status)
