"""Custom profile fields in the browser: the inputs added to the Sign Up form (fields shown
at sign-up), the person's own form on /profile (the fields they may edit) and the
administrator's on /admin/people/<id>. Each form's input for field `team` is named
`field_team`; the rules are the service's (app/userfields), whose problems under
`fields.team` are shown beside that input."""
from __future__ import annotations

from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from wtforms import EmailField, SelectField, StringField, URLField
from wtforms.validators import Length
from wtforms.widgets import DateInput

try:  # WTForms 3.3 deprecates (value, label) tuples
    from wtforms.fields.choices import SelectChoice
except ImportError:  # pragma: no cover - older WTForms
    def SelectChoice(value, label):  # noqa: N802
        return (value, label)

from .. import accounts
from ..authorization import has_permission
from ..errors import NotFound, ServiceError
from ..userfields.declarations import UserField
from ..userfields.service import update_profile
from ..userfields.values import as_text, editable_fields, parse_text, visible_fields
from .forms import BrowserForm, LONG, show_service_error
from .session import sudo_required

bp = Blueprint("profile_fields", __name__)

SEE_OTHER = 303
PREFIX = "field_"


def _input(field: UserField):
    label = field.label + ("" if field.required else " (optional)")
    if field.type == "choice":
        return SelectField(label, choices=[SelectChoice("", "—")] + [SelectChoice(o, o) for o in field.options],
                           validate_choice=False)
    if field.type == "bool":
        return SelectField(label, choices=[SelectChoice("", "—"), SelectChoice("true", "Yes"),
                                           SelectChoice("false", "No")], validate_choice=False)
    kind = {"email": EmailField, "url": URLField}.get(field.type, StringField)
    extra = {"widget": DateInput()} if field.type == "date" else {}
    return kind(label, validators=[Length(max=LONG)], **extra)


def with_fields(form_class, fields) -> type:
    """`form_class` with an input per field in `fields` (named field_<name>)."""
    if not fields:
        return form_class
    inputs = {PREFIX + f.name: _input(f) for f in fields}
    return type(form_class.__name__, (form_class,), inputs)


def submitted(form, fields) -> dict:
    """{name: value} from the inputs of `fields` on `form`, typed as the API takes them."""
    return {f.name: parse_text(f, form[PREFIX + f.name].data) for f in fields}


def aliases(fields) -> dict[str, str]:
    """Service problem names -> this form's inputs (for show_service_error)."""
    return {f"fields.{f.name}": PREFIX + f.name for f in fields}


def _filled(form_class, fields, values: dict):
    return form_class(formdata=None, data={PREFIX + f.name: as_text(values.get(f.name)) for f in fields})


def display(viewer, person) -> list[tuple[UserField, str]]:
    """(field, value as text) of each field of `person` that `viewer` may see."""
    from ..userfields.declarations import declared_fields
    shown = visible_fields(viewer, person)
    return [(f, as_text(shown[f.name])) for f in declared_fields() if f.name in shown]


@bp.app_context_processor
def _helpers():
    return {"profile_fields_of": display, "profile_fields_form": _form_for}


def _form_for(viewer, person):
    """The form of the fields `viewer` may change on `person`, filled in; None when none."""
    fields = editable_fields(viewer, person)
    if not fields:
        return None
    return _filled(with_fields(BrowserForm, fields), fields, person.fields or {})


# ---------------------------------------------------------------- the person's own

@bp.route("/profile/fields", methods=["GET", "POST"])
@login_required
def own_fields():
    me = current_user._get_current_object()
    return _edit(me, me, "account/profile_fields.html", url_for("account.profile"),
                 "Your details have been saved.")


# ---------------------------------------------------------------- an administrator's

@bp.route("/admin/people/<int:user_id>/fields", methods=["GET", "POST"])
@login_required
@sudo_required
def person_fields(user_id):
    me = current_user._get_current_object()
    if not has_permission(me, "people.manage"):
        abort(403, "This needs the permission people.manage.")
    try:
        person = accounts.get_user(user_id)
    except NotFound:
        abort(404, "There is no such person. They may have been deleted.")
    return _edit(me, person, "admin/person_fields.html", url_for("admin.person", user_id=person.id),
                 f"The profile fields of {person.username} have been saved.")


def _edit(actor, person, template: str, back: str, done: str):
    fields = editable_fields(actor, person)
    form_class = with_fields(BrowserForm, fields)
    if request.method == "GET":
        form = _filled(form_class, fields, person.fields or {})
        return _page(template, 200, form, person)
    form = form_class()
    if not fields:
        abort(403, "There are no fields here that you may change.")
    if not form.validate():
        return _page(template, 400, form, person)
    try:
        update_profile(actor, person, fields=submitted(form, fields))
    except ServiceError as e:
        show_service_error(form, e, aliases(fields))
        return _page(template, e.status, form, person)
    flash(done, "success")
    return redirect(back, SEE_OTHER)


def _page(template: str, status: int, form, person):
    return make_response(render_template(template, form=form, person=person,
                                         field_inputs=[f for f in form if f.name.startswith(PREFIX)]), status)
