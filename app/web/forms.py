"""The browser forms. They check shape only (a field is present, two new passwords match,
nothing absurdly long); every rule about usernames, emails and passwords lives in the
service functions (app/accounts.py, app/login.py, app/recovery.py), which the API and the
CLI share. `show_service_error` puts a ServiceError's messages beside the fields they name.
Every form derives from `BrowserForm`, which refuses NUL characters and lone surrogates
beside their field before any rule or database sees them.
"""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, StringField
from wtforms.validators import EqualTo, InputRequired, Length

from ..errors import ServiceError
from ..request_text import text_problem

# Far above every real limit (passwords up to 1,024 characters, emails 320): the
# service gives the precise message; this only keeps absurd input out.
LONG = 4096


class BrowserForm(FlaskForm):
    """The base of every browser form. A NUL character (PostgreSQL cannot store one; SQLite
    would) or a lone surrogate in any field fails validation with a message beside that
    field, and nothing else is checked: no rule, no query ever sees it."""

    def validate(self, extra_validators=None) -> bool:
        refused = False
        for field in self:
            problems = [text_problem(raw) for raw in field.raw_data or () if isinstance(raw, str)]
            problem = next((p for p in problems if p), None)
            if problem:
                field.errors = [problem]
                field.raw_data, field.data = [], None  # not echoed back into the page
                refused = True
        if refused:
            return False
        return super().validate(extra_validators)


def _required(message: str):
    return InputRequired(message=message)


class LoginForm(BrowserForm):
    username = StringField("Username or email", validators=[_required("Enter your username or email."),
                                                            Length(max=LONG)])
    password = PasswordField("Password", validators=[_required("Enter your password."),
                                                     Length(max=LONG)])


class RegisterForm(BrowserForm):
    username = StringField("Username", validators=[_required("Choose a username."), Length(max=LONG)])
    email = EmailField("Email", validators=[_required("Enter your email address."), Length(max=LONG)])
    first_name = StringField("First name (optional)", validators=[Length(max=LONG)])
    last_name = StringField("Last name (optional)", validators=[Length(max=LONG)])
    password = PasswordField("Password", validators=[_required("Choose a password."), Length(max=LONG)])
    password_confirm = PasswordField("Repeat the password", validators=[
        _required("Repeat the password."), EqualTo("password", message="The two passwords differ.")])
    # Shown only when there are terms of service; the sign-up service checks it.
    accept_terms = BooleanField("I accept the terms of service")


class EmailRequestForm(BrowserForm):
    """One email address: ask for a reset link or a new verification link."""
    email = EmailField("Email", validators=[_required("Enter your email address."), Length(max=LONG)])


class SetPasswordForm(BrowserForm):
    """A new password twice: reset and confirmation links."""
    new_password = PasswordField("New password", validators=[_required("Choose a password."),
                                                             Length(max=LONG)])
    new_password_confirm = PasswordField("Repeat the new password", validators=[
        _required("Repeat the password."), EqualTo("new_password", message="The two passwords differ.")])


class ChangePasswordForm(BrowserForm):
    current_password = PasswordField("Current password", validators=[
        _required("Enter your current password."), Length(max=LONG)])
    new_password = PasswordField("New password", validators=[_required("Choose a password."),
                                                             Length(max=LONG)])
    new_password_confirm = PasswordField("Repeat the new password", validators=[
        _required("Repeat the password."), EqualTo("new_password", message="The two passwords differ.")])
    revoke_api_keys = BooleanField("Also revoke my API keys")


class SudoForm(BrowserForm):
    password = PasswordField("Password", validators=[_required("Enter your password."), Length(max=LONG)])


class ProfileForm(BrowserForm):
    first_name = StringField("First name", validators=[Length(max=LONG)])
    last_name = StringField("Last name", validators=[Length(max=LONG)])
    email = EmailField("Email", validators=[_required("Enter your email address."), Length(max=LONG)])


class DeleteAccountForm(BrowserForm):
    password = PasswordField("Password", validators=[_required("Enter your password."), Length(max=LONG)])
    confirm = BooleanField("I understand that my account and everything of mine will be deleted",
                           validators=[_required("Tick the box to confirm.")])


def add_error(form: FlaskForm, name: str | None, message: str) -> None:
    """Put `message` beside the field `name`, or at the top of the form."""
    if name and name in form and name != "csrf_token":
        field = form[name]
        field.errors = [*field.errors, message]
    else:
        form.form_errors = [*form.form_errors, message]


def show_service_error(form: FlaskForm, error: ServiceError, aliases: dict[str, str] | None = None) -> None:
    """Show each of `error.fields` beside its form field (`aliases` renames service field
    names onto this form's, e.g. password -> new_password); the rest at the top."""
    aliases = aliases or {}
    if not error.fields:
        add_error(form, None, error.message)
        return
    for name, message in error.fields.items():
        add_error(form, aliases.get(name, name), message)


class SecondFactorForm(BrowserForm):
    """One code: the authenticator app's current one or, where allowed, a recovery code."""
    code = StringField("Code", validators=[_required("Enter the code from your authenticator app."),
                                           Length(max=64)])


class ApiKeyForm(BrowserForm):
    name = StringField("Name", validators=[_required("Give the key a name."), Length(max=LONG)])


class TermsForm(BrowserForm):
    """The terms step of a login: the box must be ticked."""
    accept_terms = BooleanField("I accept the terms of service",
                                validators=[_required("Tick the box to accept the terms of service.")])
