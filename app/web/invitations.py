"""Invitations in the browser: /admin/invitations (holders of `people.invite`: the open
invitations, a form to invite an address with a role and groups, revoke buttons) and the
link's page /invite/<token> (sign up with the invited address; open even with
Password.SelfRegistration off). Views are thin: app/signup/invitations.py has the rules."""
from __future__ import annotations

import functools

from flask import Blueprint, abort, current_app, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms import BooleanField, EmailField, PasswordField, SelectField, SelectMultipleField, StringField
from wtforms.validators import EqualTo, InputRequired, Length

from .. import accounts
from ..authorization import has_permission
from ..errors import ServiceError
from ..links import InvalidLink
from ..login import client_address
from ..mail import mail_configured
from ..plugins import hook
from ..signup import invitations
from ..signup.terms import current_terms
from ..userfields.service import create_with_fields
from ..userfields.values import signup_fields
from .forms import BrowserForm, LONG, show_service_error
from .profile_fields import aliases as field_aliases, submitted, with_fields
from .session import start_session, sudo_required

bp = Blueprint("invitations", __name__)

SEE_OTHER = 303


class InviteForm(BrowserForm):
    email = EmailField("Email", validators=[InputRequired("Enter the address to invite."), Length(max=LONG)])
    role = SelectField("Role")
    groups = SelectMultipleField("Groups (optional)")


class RevokeForm(BrowserForm):
    """A button: the CSRF token is all it carries."""


class InvitationSignupForm(BrowserForm):
    username = StringField("Username", validators=[InputRequired("Choose a username."), Length(max=LONG)])
    first_name = StringField("First name (optional)", validators=[Length(max=LONG)])
    last_name = StringField("Last name (optional)", validators=[Length(max=LONG)])
    password = PasswordField("Password", validators=[InputRequired("Choose a password."), Length(max=LONG)])
    password_confirm = PasswordField("Repeat the password", validators=[
        InputRequired("Repeat the password."), EqualTo("password", message="The two passwords differ.")])
    accept_terms = BooleanField("I accept the terms of service")  # asked when terms are set


def inviters_only(view):
    """Anonymous visitors are sent to log in; people without people.invite get 403."""
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_authenticated:
            return current_app.login_manager.unauthorized()
        if not has_permission(current_user, "people.invite"):
            abort(403, "This page is for people who may invite (permission people.invite).")
        return view(*args, **kwargs)
    return wrapped


def _me():
    return current_user._get_current_object()


def _invite_form(blank: bool = False) -> InviteForm:
    """The invitation form, offering only the roles and groups the person may pre-set;
    `blank` ignores what was submitted (after an invitation was made)."""
    me = _me()
    form = InviteForm(formdata=None) if blank else InviteForm()
    form.role.choices = [(r, r.capitalize()) for r in invitations.grantable_roles(me)]
    form.groups.choices = [(g.name, g.name) for g in invitations.presettable_groups(me)]
    if blank or request.method == "GET":
        form.role.data = invitations.default_role()
    return form


def _list_page(form: InviteForm, status: int = 200, **context):
    me = _me()
    rows = invitations.list_open_invitations(me)
    return make_response(render_template(
        "admin/invitations.html", form=form, revoke_form=RevokeForm(),
        rows=[(i, invitations.group_names(i)) for i in rows], mail=mail_configured(), **context), status)


@bp.get("/admin/invitations")
@inviters_only
def admin_list():
    return _list_page(_invite_form())


@bp.route("/admin/invitations/new", methods=["GET", "POST"])
@inviters_only
@sudo_required
def admin_create():
    if request.method == "GET":  # back from /sudo
        return redirect(url_for("invitations.admin_list"), SEE_OTHER)
    form = _invite_form()
    if not form.validate():
        return _list_page(form, 400)
    try:
        invitation, url = invitations.create_invitation(_me(), form.email.data, form.role.data, form.groups.data)
    except ServiceError as e:
        show_service_error(form, e)
        return _list_page(form, e.status)
    sent = invitations.send_invitation_mail(invitation, url)
    # The link is shown now or never (only its digest is stored): unless it was mailed,
    # the inviter copies it from this page.
    return _list_page(_invite_form(blank=True), 201, created=invitation,
                      created_url=None if sent else url, sent=sent)


@bp.route("/admin/invitations/<int:invitation_id>/revoke", methods=["GET", "POST"])
@inviters_only
@sudo_required
def admin_revoke(invitation_id):
    if request.method == "POST":
        if not RevokeForm().validate():
            abort(400, "The form expired; try again.")
        try:
            invitation = invitations.revoke_invitation(_me(), invitation_id)
        except ServiceError:
            flash("That invitation is no longer open.", "info")
        else:
            flash(f"The invitation to {invitation.email} is revoked; its link no longer works.", "success")
    return redirect(url_for("invitations.admin_list"), SEE_OTHER)


# ---------------------------------------------------------------- the link's page

def _invalid_link():
    return make_response(render_template("auth/invalid_link.html", purpose="invite"), 400)


@bp.route("/invite/<token>", methods=["GET", "POST"])
def accept(token):
    """Sign up with the invited address fixed; the person is signed in at once."""
    try:
        invitation = invitations.open_invitation(token)
    except InvalidLink:
        return _invalid_link()
    asked = signup_fields()  # custom profile fields shown at sign-up
    form = with_fields(InvitationSignupForm, asked)()
    terms = current_terms()

    def page(status: int = 200):
        return make_response(render_template("auth/invitation.html", form=form, invitation=invitation,
                                             terms=terms), status)

    if request.method == "GET":
        return page()
    if not form.validate():
        return page(400)
    try:
        user = create_with_fields(lambda columns: invitations.accept_invitation(
            token, form.username.data, form.password.data, first_name=form.first_name.data or "",
            last_name=form.last_name.data or "", accept_terms=bool(form.accept_terms.data),
            columns=columns), submitted(form, asked), signup=True)
    except InvalidLink:  # spent by a racing request meanwhile
        return _invalid_link()
    except ServiceError as e:
        show_service_error(form, e, field_aliases(asked))
        return page(e.status)
    user = accounts.record_login(user)
    hook().keystead_event(event="login", actor=user, target=user, outcome="success",
                          details={"client": client_address(), "provider": "password", "via": "invitation"})
    start_session(user)
    flash(f"Welcome, {user.username}. Your account is ready.", "success")
    return redirect(url_for("account.profile"), SEE_OTHER)
