"""The administration pages' forms: shape only (the service functions apply the rules)."""
from __future__ import annotations

from wtforms import BooleanField, EmailField, PasswordField, SelectField, SelectMultipleField, StringField
from wtforms.validators import InputRequired, Length

from ..forms import LONG, BrowserForm

try:  # WTForms 3.3 deprecates (value, label) tuples
    from wtforms.fields.choices import SelectChoice
except ImportError:  # pragma: no cover - older WTForms
    def SelectChoice(value, label):  # noqa: N802
        return (value, label)


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
