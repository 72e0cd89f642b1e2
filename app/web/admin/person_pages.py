"""The people pages of /admin: the list and search, a new person, a person's page and
its changes (role, details, lock, two-factor, API keys, links, delete)."""
from __future__ import annotations

import functools
from datetime import datetime, timezone

from flask import abort, current_app, flash, make_response, redirect, render_template, request, url_for

from ... import accounts, apikeys, groups, recovery, throttle, totp
from ...authorization import has_permission, role_title
from ...documents import service as document_service
from ...errors import Conflict, NotFound, ServiceError
from ...links import LIFETIMES, pending_link
from ...mail import mail_configured
from ...models import User
from ..forms import add_error, show_service_error
from ..session import ask_for_sudo, sudo_active, sudo_required
from . import PER_PAGE, SEE_OTHER, back_to, bp, me, page_count, page_number, person_or_404, role_choices
from .forms import ActionForm, CreatePersonForm, DeletePersonForm, DetailsForm, RoleForm


@bp.get("/")
def index():
    return redirect(url_for("admin.people"))


@bp.get("/people")
def people():
    q = request.args.get("q", "").strip()[:200]
    page = page_number()
    rows, total = accounts.search_users(q, page, PER_PAGE)
    return render_template("admin/people.html", people=rows, total=total, q=q, page=page,
                           pages=page_count(total), status_of=recovery.status_of)


@bp.route("/people/new", methods=["GET", "POST"])
@sudo_required
def new_person():
    form = CreatePersonForm()
    form.role.choices = role_choices()
    if request.method == "GET":
        return _new_person_page(form)
    if not form.validate():
        return _new_person_page(form, 400)
    try:
        user, url, sent = recovery.create_person(
            form.username.data.strip(), (form.email.data or "").strip() or None,
            form.password.data or None, first_name=form.first_name.data or "",
            last_name=form.last_name.data or "", role=form.role.data, actor=me())
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
    return _person_page(person_or_404(user_id))


def _person_page(user: User, status: int = 200, **forms):
    """A person's page; `forms` are the forms of a refused change, with their errors."""
    role_form = forms.get("role_form") or RoleForm(formdata=None, role=user.role)
    role_form.role.choices = role_choices(user.role)
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
        lifetimes={k: v // 3600 for k, v in LIFETIMES.items()}, is_me=user.id == me().id,
        sudo_mode=current_app.extensions["keystead.settings"]["Password.WebSudoMode"],
        sudo_active=sudo_active(), errors=forms.get("errors", []),
        two_factor=totp.totp_enabled(user), lockout_until=_lockout_until(user),
        role_title=role_title(user.role), may_manage=has_permission(me(), "people.manage"),
        keys=apikeys.list_api_keys(user) if has_permission(me(), "keys.manage_all") else None), status)


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
    user = person_or_404(user_id)
    if request.method == "GET":
        return back_to("admin.person", user_id=user.id)
    form = RoleForm()
    form.role.choices = role_choices(user.role)
    if not form.validate():
        return _person_page(user, 400, role_form=form)
    try:
        updated = accounts.set_role(user, form.role.data, actor=me())
    except ServiceError as e:
        show_service_error(form, e)
        if not e.fields:  # the last administrator: say it beside the role
            form.form_errors = []
            add_error(form, "role", e.message)
        return _person_page(user, e.status, role_form=form)
    flash(f"{updated.username} is now {updated.role}.", "success")
    if updated.id == me().id:  # a change of role ends the person's sessions, this one too
        return redirect(url_for("auth.login"), SEE_OTHER)
    return back_to("admin.person", user_id=user.id)


@bp.route("/people/<int:user_id>/details", methods=["GET", "POST"])
@sudo_required
def change_details(user_id):
    user = person_or_404(user_id)
    if request.method == "GET":
        return back_to("admin.person", user_id=user.id)
    form = DetailsForm()
    if not form.validate():
        return _person_page(user, 400, details_form=form)
    email = (form.email.data or "").strip()
    if not email and user.email is None:
        email = None  # no address before, none now
    if user.id == me().id and accounts.email_would_change(user, email) and not sudo_active(always_ask=True):
        return ask_for_sudo()  # one's own address: the password, always (as on /profile)
    try:
        accounts.update_user_info(me(), user, email=email, first_name=form.first_name.data or "",
                                  last_name=form.last_name.data or "")
    except ServiceError as e:
        show_service_error(form, e)
        return _person_page(user, e.status, details_form=form)
    flash(f"The details of {user.username} have been saved.", "success")
    return back_to("admin.person", user_id=user.id)


def person_button(action):
    """A button on a person's page (its form carries only the CSRF token), as the view of
    /people/<user_id>/...: a GET (the browser back from /sudo) returns to the page; the POST
    calls `action(user, ...)` and shows its ServiceError on the page; the browser returns
    to the page unless the action answers otherwise."""
    @functools.wraps(action)
    def view(user_id, **values):
        user = person_or_404(user_id)
        if request.method == "GET":
            return back_to("admin.person", user_id=user.id)
        if not ActionForm().validate():
            abort(400)
        try:
            answer = action(user, **values)
        except ServiceError as e:
            return _person_page(user, e.status, errors=[e.message])
        return answer or back_to("admin.person", user_id=user.id)
    return view


@bp.route("/people/<int:user_id>/lock", methods=["GET", "POST"])
@sudo_required
@person_button
def lock(user):
    return _set_locked(user, True)


@bp.route("/people/<int:user_id>/unlock", methods=["GET", "POST"])
@sudo_required
@person_button
def unlock(user):
    return _set_locked(user, False)


def _set_locked(user: User, locked: bool):
    locked_out = not locked and bool(throttle.lockout_ends_at(user))  # for the message
    updated = accounts.set_locked(user, locked, actor=me())
    if locked:
        flash(f"{updated.username} is locked: they cannot log in, their sessions and tokens "
              "have ended and their API keys are revoked.", "success")
        if updated.id == me().id:
            return redirect(url_for("auth.login"), SEE_OTHER)
    elif locked_out:
        flash(f"{updated.username} is unlocked: the lockout after failed logins has ended.", "success")
    else:
        flash(f"{updated.username} is unlocked.", "success")
    return None


@bp.route("/people/<int:user_id>/two-factor", methods=["GET", "POST"])
@sudo_required
@person_button
def reset_two_factor(user):
    """Clear a person's two-factor set-up (a lost device); they set it up again."""
    totp.reset_by_administrator(user, actor=me())
    flash(f"Two-factor authentication of {user.username} is reset; they log in with their password "
          "alone until they set it up again.", "success")


@bp.route("/people/<int:user_id>/api-keys/<int:key_id>/revoke", methods=["GET", "POST"])
@sudo_required
@person_button
def revoke_api_key(user, key_id):
    """Revoke one of a person's API keys (a leaked one, or a departing program's)."""
    try:
        record = apikeys.revoke_api_key(user, key_id, actor=me())
    except NotFound:
        abort(404, f"{user.username} has no such API key. It may have been revoked already.")
    flash(f"The API key “{record.name}” of {user.username} has been revoked.", "success")


@bp.route("/people/<int:user_id>/confirmation", methods=["GET", "POST"])
@sudo_required
@person_button
def resend_confirmation(user):
    return _make_link(user, "confirm")


@bp.route("/people/<int:user_id>/reset-link", methods=["GET", "POST"])
@sudo_required
@person_button
def reset_link(user):
    return _make_link(user, "reset")


def _make_link(user: User, purpose: str):
    if not _has_local_password(user):
        return _person_page(user, 409, errors=[
            f"{user.username} signs in through {user.provider}; their password is not kept here."])
    if purpose == "confirm" and user.password_hash is not None:
        return _person_page(user, 409, errors=[
            f"{user.username} has already set a password; make a reset link instead."])
    send = recovery.send_confirmation_email if purpose == "confirm" else recovery.send_reset_email
    _, sent = send(user)
    _flash_link(user, purpose, sent)
    return None


@bp.route("/people/<int:user_id>/verification-link", methods=["GET", "POST"])
@sudo_required
@person_button
def verification_link(user):
    """A fresh verification link to copy (when no mail is configured) and pass on."""
    _, sent = recovery.make_verification_link(user)
    _flash_link(user, "verify", sent)


@bp.route("/people/<int:user_id>/mark-verified", methods=["GET", "POST"])
@sudo_required
@person_button
def mark_verified(user):
    """Vouch for the person's address without a link (recorded in the audit log)."""
    accounts.mark_email_verified(me(), user)
    flash(f"The address {user.email} of {user.username} is marked verified.", "success")


@bp.route("/people/<int:user_id>/delete", methods=["GET", "POST"])
@sudo_required
def delete_person(user_id):
    user = person_or_404(user_id)
    form = DeletePersonForm()
    if request.method == "POST":
        if form.validate():
            actor = me()
            try:
                recipient = accounts.transfer_recipient(form.transfer_to.data)
                accounts.delete_user(user, actor=actor, transfer_to=recipient)
            except ServiceError as e:
                show_service_error(form, e)
                return _delete_person_page(user, form, e.status)
            flash(f"{user.username} has been deleted" + (
                f"; their documents now belong to {recipient.username}." if recipient else "."), "success")
            if user.id == actor.id:
                return redirect(url_for("auth.login"), SEE_OTHER)
            return redirect(url_for("admin.people"), SEE_OTHER)
        return _delete_person_page(user, form, 400)
    return _delete_person_page(user, form)


def _delete_person_page(user: User, form, status: int = 200):
    owned, shared = document_service.owned_counts(user)
    return make_response(render_template("admin/person_delete.html", person=user, form=form,
                                         groups=accounts.groups_of(user), documents=owned,
                                         shared_documents=shared), status)
