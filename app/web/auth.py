"""Browser pages for getting in and back in: log in and out, sign up, email verification,
password reset, account confirmation and password re-entry (web sudo). With
two-factor authentication on, logging in takes a second step, /login/two-factor.

Views are thin: the form checks shape, a service function applies the rules, and its
ServiceError is shown beside the fields it names.
"""
from __future__ import annotations

import hmac
import time

from flask import (Blueprint, abort, current_app, flash, make_response, redirect, render_template, request,
                   session, url_for)
from flask_login import current_user, login_required

from .. import accounts, recovery, throttle
from ..errors import AccountLocked, AuthenticationFailed, EmailNotVerified, Forbidden, ServiceError, ValidationFailed
from ..links import InvalidLink
from ..login import (SecondFactorRequired, WrongSecondFactor, client_address, complete_second_factor,
                     complete_terms_acceptance, log_in_with_password)
from ..models import User
from ..plugins import active_providers, hook, password_providers
from ..ratelimits import send_retry_after
from ..signup import challenge
from ..signup.approval import ApprovalPending, ApprovalRejected
from ..signup.terms import TermsNotAccepted, current_terms
from ..userfields.service import create_with_fields
from ..userfields.values import signup_fields
from .forms import (EmailRequestForm, LoginForm, RegisterForm, SecondFactorForm, SetPasswordForm, SudoForm,
                    TermsForm, add_error, show_service_error)
from .profile_fields import aliases as field_aliases, submitted, with_fields
from .session import end_session, grant_sudo, safe_next, start_page, start_session

bp = Blueprint("auth", __name__)

SEE_OTHER = 303  # after a POST, the browser GETs the next page

# Between the password and the code, the session holds only whose password it was, when,
# and where to go next: never a login (Flask-Login's user id is not set until the code).
PENDING_KEY = "second_factor"
PENDING_SECONDS = 5 * 60
# Likewise between the password (and code) and accepting new terms of service.
TERMS_KEY = "terms_step"


def _settings():
    return current_app.extensions["keystead.settings"]


@bp.app_context_processor
def _password_hint():
    def password_hint() -> str:
        """What a new password needs, from the Password settings (shown beside the field)."""
        s = _settings()
        hint = f"At least {s['Password.MinimumLength']} characters; a few unrelated words make a good one."
        if s["Password.MinimumScore"] >= 3:
            hint += " It must be hard to guess: avoid names, dates and common words."
        return hint
    return {"password_hint": password_hint}


@bp.app_context_processor
def _signup_challenge():
    def signup_challenge() -> dict | None:
        """The widget's settings when forms need a solved challenge (templates/_challenge.html)."""
        if not challenge.required():
            return None
        return {"hideFooter": True, "validationMessage": challenge.MISSING}
    return {"signup_challenge": signup_challenge}


@bp.after_request
def _allow_the_way_back_to_an_app(response):
    """The login steps' pages may send their form on to a registered app (the `next` of a
    forward-auth login): their form-action then names that app's origin too."""
    step = {"auth.login": None, "auth.second_factor": PENDING_KEY, "auth.accept_terms": TERMS_KEY,
            "auth.sudo": None}.get(request.endpoint, False)
    if step is False:
        return response
    pending = session.get(step) if step else None
    target = pending.get("next") if isinstance(pending, dict) else request.args.get("next")
    if isinstance(target, str) and not target.startswith("/") and safe_next(target, default="") == target:
        from urllib.parse import urlsplit
        from .headers import policy_with_form_target
        parts = urlsplit(target)
        response.headers["Content-Security-Policy"] = policy_with_form_target(f"{parts.scheme}://{parts.netloc}")
    return response


def _page(template: str, status: int = 200, **context):
    return make_response(render_template(template, **context), status)


def _challenge_refused(template: str, form, **context):
    """With Password.SignupChallenge, the form again (nothing done) with the message beside
    the widget when it did not carry a good solution; None when it did or none is needed."""
    try:
        challenge.check(request.form.get(challenge.FIELD))
    except ValidationFailed as e:
        return _page(template, e.status, form=form, challenge_error=e.fields[challenge.FIELD], **context)
    return None


# ---------------------------------------------------------------- the start, log in and out

@bp.route("/")
def start():
    """The site's address: a signed-in person goes to their apps (/apps) when they may
    use any, else to their start page; anyone else to the login page."""
    if current_user.is_authenticated:
        from ..apps.service import apps_for
        if apps_for(current_user._get_current_object()):
            return redirect(url_for("apps.launcher"))
        return redirect(start_page())
    return redirect(url_for("auth.login"))


def _login_page(form: LoginForm, status: int = 200, **context):
    next_target = request.args.get("next")
    return _page("auth/login.html", status, form=form,
                 password_login=bool(password_providers()),
                 redirect_providers=[p for p in active_providers() if p.login_url],
                 next=next_target if safe_next(next_target, default="") else None,
                 **context)


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if request.method == "POST":
        if not password_providers():
            abort(404)
        if not form.validate():
            return _login_page(form, 400)
        try:
            user = log_in_with_password(form.username.data, form.password.data)
        except SecondFactorRequired as e:
            _await_second_factor(e.user, safe_next(request.args.get("next")))
            return redirect(url_for("auth.second_factor"), SEE_OTHER)
        except TermsNotAccepted as e:
            return await_terms(e.user, safe_next(request.args.get("next")))
        except (ApprovalPending, ApprovalRejected) as e:
            # Only the right password gets here; no session is made.
            return _waiting_page(e)
        except AuthenticationFailed as e:
            # One answer for an unknown name and a wrong password: no user enumeration.
            form.form_errors.append(e.message)
            return _login_page(form, e.status)
        except AccountLocked as e:
            form.form_errors.append(e.message)
            return send_retry_after(_login_page(form, e.status), e.retry_after)
        except EmailNotVerified as e:
            # Only the right password gets here, so saying so reveals nothing new.
            resend = EmailRequestForm(formdata=None)
            if "@" in form.username.data:
                resend.email.data = form.username.data.strip()
            form.form_errors.append(e.message)
            return _login_page(form, e.status, resend_form=resend)
        start_session(user)
        return redirect(safe_next(request.args.get("next")), SEE_OTHER)
    return _login_page(form)


def _await_second_factor(user: User, next_target: str, step: str = PENDING_KEY) -> None:
    """The password was right; remember whose it was for PENDING_SECONDS (for the second
    factor, or with `step` TERMS_KEY for the terms). The session is cleared first: like a
    login, nothing of the anonymous session (or an earlier login) is kept."""
    end_session()
    session[step] = {"user": user.id, "key": user.uniquifier, "epoch": user.session_epoch,
                     "at": int(time.time()), "next": next_target}


def await_second_factor(user: User, next_target: str):
    """An outside provider vouched for `user`, who has two-factor authentication on: no
    session yet, only the code step (which records the login)."""
    _await_second_factor(user, next_target)
    return redirect(url_for("auth.second_factor"), SEE_OTHER)


def await_terms(user: User, next_target: str):
    """The password (and second factor, or an outside provider) vouched for `user`, who has
    yet to accept the current terms of service: no session yet, only the terms step."""
    _await_second_factor(user, next_target, TERMS_KEY)
    return redirect(url_for("auth.accept_terms"), SEE_OTHER)


def _waiting_page(error: ServiceError):
    """What the right password of a pending or rejected sign-up sees: no session."""
    end_session()
    return _page("auth/waiting.html", error.status, rejected=isinstance(error, ApprovalRejected))


def _pending_user(step: str = PENDING_KEY) -> tuple[User | None, str | None]:
    """(the person whose password was right a moment ago, None), or (None, why not) when
    no such step is in progress, it expired, or their sessions were ended since (a password
    change, a lock)."""
    pending = session.get(step)
    if not isinstance(pending, dict):
        return None, "Log in first."
    if not 0 <= time.time() - pending.get("at", 0) <= PENDING_SECONDS:
        return None, "That took too long. Log in again."
    user = User.get_or_none(User.id == pending.get("user"))
    if (user is None or user.locked or user.session_epoch != pending.get("epoch")
            or not hmac.compare_digest(user.uniquifier.encode(), str(pending.get("key")).encode())):
        return None, "Log in again."
    return user, None


def _second_factor_page(form: SecondFactorForm, status: int = 200):
    return _page("auth/two_factor.html", status, form=form)


@bp.route("/login/two-factor", methods=["GET", "POST"])
def second_factor():
    """The second step of a login with two-factor authentication on: a TOTP code or a
    recovery code. A wrong code counts toward the person's lockout, like a wrong password."""
    user, problem = _pending_user()
    if user is None:
        session.pop(PENDING_KEY, None)
        flash(problem, "info")
        return redirect(url_for("auth.login"), SEE_OTHER if request.method == "POST" else 302)
    form = SecondFactorForm()
    if request.method == "GET":
        return _second_factor_page(form)
    if not form.validate():
        return _second_factor_page(form, 400)
    try:
        user = complete_second_factor(user.id, form.code.data)
    except WrongSecondFactor:
        add_error(form, "code", "The code is not correct. Check your device's clock, or use a recovery code.")
        return _second_factor_page(form, WrongSecondFactor.status)
    except AccountLocked as e:
        form.form_errors.append(e.message)
        return send_retry_after(_second_factor_page(form, e.status), e.retry_after)
    except AuthenticationFailed:  # deleted or locked since the password step
        session.pop(PENDING_KEY, None)
        flash("Log in again.", "info")
        return redirect(url_for("auth.login"), SEE_OTHER)
    except TermsNotAccepted as e:
        return await_terms(e.user, safe_next(session[PENDING_KEY].get("next")))
    except (ApprovalPending, ApprovalRejected) as e:
        return _waiting_page(e)
    next_target = safe_next(session[PENDING_KEY].get("next"))
    start_session(user)  # clears the pending step with the rest of the session
    return redirect(next_target, SEE_OTHER)


@bp.route("/login/terms", methods=["GET", "POST"])
def accept_terms():
    """The terms step of a login, after the password (and second factor): the session
    starts only once the current terms of service are accepted."""
    user, problem = _pending_user(TERMS_KEY)
    terms = current_terms()
    if user is None or terms is None:
        session.pop(TERMS_KEY, None)
        flash(problem or "Log in again.", "info")
        return redirect(url_for("auth.login"), SEE_OTHER if request.method == "POST" else 302)
    form = TermsForm()
    if request.method == "GET":
        return _page("auth/terms.html", form=form, terms=terms)
    if not form.validate():
        return _page("auth/terms.html", 400, form=form, terms=terms)
    try:
        user = complete_terms_acceptance(user.id)
    except (AuthenticationFailed, ApprovalPending, ApprovalRejected):  # changed since the password
        session.pop(TERMS_KEY, None)
        flash("Log in again.", "info")
        return redirect(url_for("auth.login"), SEE_OTHER)
    next_target = safe_next(session[TERMS_KEY].get("next"))
    start_session(user)  # clears the terms step with the rest of the session
    return redirect(next_target, SEE_OTHER)


@bp.route("/logout", methods=["POST"])
def logout():
    if current_user.is_authenticated:
        user = current_user._get_current_object()
        # Bump the session epoch: every copy of this person's cookie stops working.
        accounts.end_browser_sessions(user)
        hook().keystead_event(event="logout", actor=user, target=user, outcome="success",
                              details={"client": client_address(), "via": "browser"})
    end_session()
    flash("You have logged out.", "success")
    return redirect(url_for("auth.login"), SEE_OTHER)


# ---------------------------------------------------------------- sign up

@bp.route("/register", methods=["GET", "POST"])
def register():
    if not accounts.self_registration_open():
        return _page("auth/register_closed.html", 404)
    asked = signup_fields()  # custom profile fields shown at sign-up
    form = with_fields(RegisterForm, asked)()
    terms = current_terms()
    if request.method == "GET" or not form.validate():
        return _page("auth/register.html", 400 if request.method == "POST" else 200, form=form, terms=terms)
    if refused := _challenge_refused("auth/register.html", form, terms=terms):
        return refused
    try:
        user = create_with_fields(lambda columns: accounts.register_user(
            form.username.data, form.email.data, form.password.data,
            first_name=form.first_name.data or "", last_name=form.last_name.data or "",
            accept_terms=bool(form.accept_terms.data), columns=columns),
            submitted(form, asked), signup=True)
    except Forbidden as e:
        if e.code == "registration_closed":  # closed between showing the form and sending it
            return _page("auth/register_closed.html", 404)
        raise
    except ServiceError as e:
        show_service_error(form, e, field_aliases(asked))
        return _page("auth/register.html", e.status, form=form, terms=terms)
    if user.status != "active":  # waits for approval (app/signup/approval.py): no session
        sent = recovery.send_verification_email(user)[1] if recovery.verification_required(user) else None
        if sent is None:
            recovery.offer_verification(user)
        return _page("auth/waiting.html", 201, just_signed_up=True, email=user.email, verification_sent=sent)
    if recovery.verification_required(user):
        _, sent = recovery.send_verification_email(user)
        return _page("auth/check_mail.html", 201, email=user.email, sent=sent)
    recovery.offer_verification(user)
    user = accounts.record_login(user)
    hook().keystead_event(event="login", actor=user, target=user, outcome="success",
                          details={"client": client_address(), "provider": "password", "via": "signup"})
    start_session(user)
    flash(f"Welcome, {user.username}. Your account is ready.", "success")
    return redirect(url_for("account.profile"), SEE_OTHER)


# ---------------------------------------------------------------- email verification

@bp.route("/verify-email/<token>")
def verify_email(token):
    try:
        user = recovery.verify_email(token)
    except InvalidLink:
        return _invalid_link("verify")
    return _page("auth/verified.html", email=user.email)


@bp.route("/verify-email", methods=["GET", "POST"])
def resend_verification():
    form = EmailRequestForm()
    if request.method == "POST":
        if not form.validate():
            return _page("auth/verify_request.html", 400, form=form)
        if refused := _challenge_refused("auth/verify_request.html", form):
            return refused
        recovery.request_verification_email(form.email.data)
        # The same answer whatever was typed: it never tells whether an account exists.
        return _page("auth/request_sent.html", purpose="verify")
    return _page("auth/verify_request.html", form=form)


# ---------------------------------------------------------------- password reset and confirmation

@bp.route("/reset-password", methods=["GET", "POST"])
def request_reset():
    form = EmailRequestForm()
    if request.method == "POST":
        if not form.validate():
            return _page("auth/reset_request.html", 400, form=form)
        if refused := _challenge_refused("auth/reset_request.html", form):
            return refused
        recovery.request_password_reset(form.email.data)
        return _page("auth/request_sent.html", purpose="reset")
    return _page("auth/reset_request.html", form=form)


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
def reset_password(token):
    return _set_password_page(token, "reset", recovery.reset_password,
                              "Your password has been changed, and every session and API key of your "
                              "account has ended. Log in with the new one.")


@bp.route("/confirm/<token>", methods=["GET", "POST"])
def confirm(token):
    return _set_password_page(token, "confirm", recovery.confirm_account,
                              "Your password is set. You can log in now.")


def _set_password_page(token: str, purpose: str, spend, done_message: str):
    """GET: the new-password form while the link holds. POST: spend the link and set the
    password; a refused password leaves the link usable."""
    try:
        user = recovery.link_user(token, purpose)
    except InvalidLink:
        return _invalid_link(purpose)
    form = SetPasswordForm()
    if request.method == "POST":
        if not form.validate():
            return _page("auth/set_password.html", 400, form=form, purpose=purpose, user=user)
        try:
            spend(token, form.new_password.data)
        except InvalidLink:  # spent by a racing request
            return _invalid_link(purpose)
        except ServiceError as e:
            show_service_error(form, e, {"password": "new_password"})
            return _page("auth/set_password.html", e.status, form=form, purpose=purpose, user=user)
        flash(done_message, "success")
        return redirect(url_for("auth.login"), SEE_OTHER)
    return _page("auth/set_password.html", form=form, purpose=purpose, user=user)


def _invalid_link(purpose: str):
    return _page("auth/invalid_link.html", 400, purpose=purpose)


# ---------------------------------------------------------------- web sudo

@bp.route("/sudo", methods=["GET", "POST"])
@login_required
def sudo():
    """Re-enter the password before a sensitive action (Password.WebSudoMode)."""
    user = current_user._get_current_object()
    target = safe_next(request.args.get("next"))
    # A directory person (LDAP, PAM) re-enters the directory's password, checked there.
    has_password = accounts.has_password_to_give(user)
    form = SudoForm()
    if request.method == "POST" and has_password:
        if not form.validate():
            return _sudo_page(400, form=form, has_password=has_password)
        # Re-entry is a password guess like a login: the same lockout guards it.
        try:
            throttle.guarded(user, lambda: _check_sudo_password(user, form.password.data))
        except AccountLocked as e:
            form.form_errors.append(e.message)
            return send_retry_after(_sudo_page(e.status, form=form, has_password=has_password), e.retry_after)
        except ValidationFailed as e:
            form.password.errors = [e.fields["password"]]
            return _sudo_page(401, form=form, has_password=has_password)
        start_session(user)  # a new session at re-entry too, then the grant in it
        grant_sudo()
        return redirect(target, SEE_OTHER)
    return _sudo_page(200, form=form, has_password=has_password)


def _check_sudo_password(user, password) -> None:
    if not isinstance(password, str) or not accounts.password_accepted(user, password):
        raise ValidationFailed({"password": "The password is not correct."})


def _sudo_page(status: int, **context):
    """The re-entry page; people of an outside provider get a link to log in there again."""
    info = current_app.extensions["keystead.providers"].get(current_user.provider)
    return _page("auth/sudo.html", status, target=safe_next(request.args.get("next")),
                 provider_login_url=info.login_url if info else None, **context)
