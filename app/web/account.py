"""The person's own account page, /profile: what Keystead knows of them, editing names and
email (per Authorization.UserInfoEditableBy), changing the password and deleting the
account. Password change and deletion ask for the password again first (WebSudoMode);
so does changing the email address, which would otherwise let anyone holding a session
redirect password-reset mail and take the account over.

Also here: two-factor authentication at /profile/two-factor (setting it up and turning it
off ask for the password again too; turning it off also for a code), and personal API keys
at /profile/api-keys (creating one asks for the password again even when WebSudoMode is
off: a key outlives the session that made it)."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from .. import accounts, apikeys, recovery, throttle, totp
from ..errors import AccountLocked, Conflict, NotFound, ServiceError, ValidationFailed
from ..ratelimits import send_retry_after
from .forms import (ApiKeyForm, ChangePasswordForm, DeleteAccountForm, ProfileForm, SecondFactorForm,
                    show_service_error)
from .session import ask_for_sudo, end_session, grant_sudo, start_session, sudo_active, sudo_required

bp = Blueprint("account", __name__)

SEE_OTHER = 303


@bp.app_template_filter("when")
def when(value) -> str:
    """A stored UTC datetime for people: "2025-01-31 14:05 UTC", or "never"."""
    if value is None:
        return "never"
    return value.strftime("%Y-%m-%d %H:%M UTC")


def _user():
    return current_user._get_current_object()


def _can_change_password(user) -> bool:
    try:
        accounts.require_password_provider(user)
    except Conflict:
        return False
    return True


def _profile_page(status: int = 200, *, profile_form=None, password_form=None, delete_form=None):
    user = _user()
    may_edit = accounts.may_edit_info(user, user)
    if profile_form is None:
        profile_form = ProfileForm(formdata=None, obj=user)
    return make_response(render_template(
        "account/profile.html", user=user, groups=accounts.groups_of(user), may_edit=may_edit,
        can_change_password=_can_change_password(user), has_password=user.password_hash is not None,
        sudo_mode=current_app.extensions["keystead.settings"]["Password.WebSudoMode"],
        sudo_active=sudo_active(), email_sudo_active=sudo_active(always_ask=True), profile_form=profile_form,
        totp_enabled=totp.totp_enabled(user),
        password_form=password_form or ChangePasswordForm(formdata=None),
        delete_form=delete_form or DeleteAccountForm(formdata=None),
        key_form=ApiKeyForm(formdata=None), keys=apikeys.list_api_keys(user),
        max_keys=apikeys.MAX_KEYS_PER_USER, key_sudo_active=sudo_active(always_ask=True)), status)


@bp.route("/profile", methods=["GET", "POST"])
@login_required
def profile():
    if request.method == "GET":
        return _profile_page()
    user = _user()
    form = ProfileForm()
    if not accounts.may_edit_info(user, user):
        form.form_errors.append("Only an administrator can change this information.")
        return _profile_page(403, profile_form=form)
    if not form.validate():
        return _profile_page(400, profile_form=form)
    email = (form.email.data or "").strip()
    if not email and user.email is None:
        email = None  # no address before, none now: leave it
    if email is not None and accounts.email_would_change(user, email) and not sudo_active(always_ask=True):
        # Always asked, WebSudoMode or not, an address before or not: the new address
        # receives the reset links.
        flash("Enter your password to change your email address, then make the change again.", "info")
        return ask_for_sudo()
    try:
        updated = accounts.update_user_info(user, user, email=email, first_name=form.first_name.data or "",
                                            last_name=form.last_name.data or "")
    except ServiceError as e:
        show_service_error(form, e)
        return _profile_page(e.status, profile_form=form)
    flash("Your details have been saved.", "success")
    if updated.email_key != user.email_key:
        _, sent = recovery.send_verification_email(updated)
        if sent:
            flash(f"We sent a link to {updated.email}; follow it to verify the new address.", "info")
        else:
            flash("Your new email address is not verified yet; ask an administrator for a "
                  "verification link.", "warning")
    return redirect(url_for("account.profile"), SEE_OTHER)


@bp.route("/profile/password", methods=["GET", "POST"])
@login_required
@sudo_required
def change_password():
    user = _user()
    form = ChangePasswordForm()
    can_change = _can_change_password(user)
    if request.method == "GET" or not can_change:
        return _password_page(form, can_change, 200 if can_change or request.method == "GET" else 409)
    if not form.validate():
        return _password_page(form, can_change, 400)
    revoke_keys = bool(form.revoke_api_keys.data)
    try:
        updated = accounts.change_password(user, form.current_password.data, form.new_password.data,
                                           revoke_api_keys=revoke_keys)
    except ServiceError as e:
        show_service_error(form, e, {"password": "new_password"})
        return send_retry_after(_password_page(form, can_change, e.status), getattr(e, "retry_after", None))
    # The change ended every session of the person (a new epoch); this one goes on, fresh.
    start_session(updated)
    grant_sudo()  # they have just proved their password
    if revoke_keys:
        keys = " Your API keys have been revoked."
    else:
        keys = " Your API keys still work." if apikeys.list_api_keys(updated) else ""
    flash("Your password has been changed. Your other sessions have ended." + keys, "success")
    return redirect(url_for("account.profile"), SEE_OTHER)


def _password_page(form, can_change: bool, status: int):
    return make_response(render_template("account/password.html", form=form, can_change=can_change,
                                         key_count=len(apikeys.list_api_keys(_user()))), status)


@bp.route("/profile/delete", methods=["GET", "POST"])
@login_required
@sudo_required
def delete_account():
    user = _user()
    form = DeleteAccountForm()
    has_password = user.password_hash is not None
    if request.method == "GET" or not has_password:
        return _delete_page(form, has_password, 200 if request.method == "GET" else 409)
    if not form.validate():
        return _delete_page(form, has_password, 400)
    try:
        accounts.delete_own_account(user, form.password.data)
    except ServiceError as e:
        show_service_error(form, e)
        return send_retry_after(_delete_page(form, has_password, e.status), getattr(e, "retry_after", None))
    end_session()
    flash("Your account has been deleted.", "success")
    return redirect(url_for("auth.login"), SEE_OTHER)


def _delete_page(form, has_password: bool, status: int):
    return make_response(render_template("account/delete.html", form=form, has_password=has_password),
                         status)


# ---------------------------------------------------------------- two-factor authentication

def _page(template: str, status: int = 200, **context):
    return make_response(render_template(template, **context), status)


@bp.route("/profile/two-factor")
@login_required
def two_factor():
    user = _user()
    enabled = totp.totp_enabled(user)
    return _page("account/two_factor.html", user=user, enabled=enabled,
                 codes_left=totp.recovery_codes_left(user) if enabled else 0,
                 weak_codes=enabled and totp.has_weak_recovery_codes(user),
                 recovery_code_count=totp.RECOVERY_CODES,
                 setup_started=not enabled and totp.pending_secret(user) is not None,
                 sudo_active=sudo_active(), form=SecondFactorForm(formdata=None))


@bp.route("/profile/two-factor/setup", methods=["GET", "POST"])
@login_required
@sudo_required
def two_factor_setup():
    """GET: the QR code and the secret of a set-up in progress (or the button to begin
    one). POST `start`: a new secret. POST `code`: confirm it; the recovery codes are
    shown in the answer and never again. All behind web sudo: the secret is as good as
    the device it goes to."""
    user = _user()
    if totp.totp_enabled(user):
        flash("Two-factor authentication is already on.", "info")
        return redirect(url_for("account.two_factor"), SEE_OTHER)
    form = SecondFactorForm()
    if request.method == "POST" and "start" in request.form:
        totp.begin_setup(user)  # the form's CSRF token was checked before the view
        return redirect(url_for("account.two_factor_setup"), SEE_OTHER)
    if request.method == "POST":
        if not form.validate():
            return _setup_page(form, 400)
        try:
            codes = totp.confirm_setup(user, form.code.data)
        except ValidationFailed as e:
            show_service_error(form, e)
            return _setup_page(form, e.status)
        except Conflict:  # no set-up in progress (confirmed in another tab, or never begun)
            return redirect(url_for("account.two_factor"), SEE_OTHER)
        return _page("account/two_factor_codes.html", codes=codes)
    return _setup_page(form)


def _setup_page(form: SecondFactorForm, status: int = 200):
    user = _user()
    secret = totp.pending_secret(user)
    url = totp.otpauth_url(user, secret) if secret else None
    return _page("account/two_factor_setup.html", status, form=form, secret=secret,
                 qr_svg=totp.qr_svg(url) if url else None, issuer=totp.ISSUER, user=user)


@bp.route("/profile/two-factor/disable", methods=["GET", "POST"])
@login_required
@sudo_required
def two_factor_disable():
    """Turn two-factor authentication off: web sudo and a current code (or a recovery code).
    A wrong code counts toward the person's lockout, as at login."""
    user = _user()
    if not totp.totp_enabled(user):
        flash("Two-factor authentication is off.", "info")
        return redirect(url_for("account.two_factor"), SEE_OTHER)
    form = SecondFactorForm()
    if request.method == "GET":
        return _page("account/two_factor_disable.html", form=form)
    if not form.validate():
        return _page("account/two_factor_disable.html", 400, form=form)
    try:
        throttle.guarded(user, lambda: totp.disable(user, form.code.data))
    except AccountLocked as e:
        form.form_errors.append(e.message)
        return send_retry_after(_page("account/two_factor_disable.html", e.status, form=form), e.retry_after)
    except ValidationFailed as e:
        show_service_error(form, e)
        return _page("account/two_factor_disable.html", e.status, form=form)
    except Conflict:  # turned off meanwhile (another tab, an administrator)
        return redirect(url_for("account.two_factor"), SEE_OTHER)
    flash("Two-factor authentication is off. Your recovery codes no longer work.", "success")
    return redirect(url_for("account.two_factor"), SEE_OTHER)


# ---------------------------------------------------------------- personal API keys

@bp.route("/profile/api-keys", methods=["GET", "POST"])
@login_required
def api_keys():
    """List, create (the key is shown once, in the answer to the POST) and revoke keys.
    Creating asks for web sudo whatever WebSudoMode says; /sudo then comes back here."""
    user = _user()
    form = ApiKeyForm()
    if request.method == "GET":
        return _api_keys_page(form)
    if not sudo_active(always_ask=True):
        return ask_for_sudo(url_for("account.api_keys"))
    if not form.validate():
        return _api_keys_page(form, 400)
    try:
        record, key = apikeys.create_api_key(user, form.name.data)
    except ServiceError as e:
        show_service_error(form, e)
        return _api_keys_page(form, e.status)
    return _page("account/api_key_created.html", 201, record=record, key=key)


def _api_keys_page(form: ApiKeyForm, status: int = 200):
    return _page("account/api_keys.html", status, key_form=form, keys=apikeys.list_api_keys(_user()),
                 max_keys=apikeys.MAX_KEYS_PER_USER, key_sudo_active=sudo_active(always_ask=True))


@bp.route("/profile/api-keys/<int:key_id>/revoke", methods=["POST"])
@login_required
def revoke_api_key(key_id: int):
    try:
        apikeys.revoke_api_key(_user(), key_id, actor=_user())  # someone else's key is "not found"
    except NotFound:
        abort(404)
    flash("The key has been revoked. Programs using it can no longer call the API.", "success")
    return redirect(url_for("account.api_keys"), SEE_OTHER)
