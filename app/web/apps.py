"""Browser pages for apps: /apps, the signed-in person's launcher (tiles of the apps they
may use), and /admin/apps, where holders of apps.manage register and manage apps (their own;
every app with apps.manage_all). The rules are app/apps/service.py's, shared with the API
and the command line; a client secret is shown once, on the page that made it."""
from __future__ import annotations

import re

from flask import Blueprint, abort, current_app, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from wtforms import BooleanField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length

from ..apps import service
from ..authorization import has_permission
from ..errors import NotFound, ServiceError
from .forms import BrowserForm, show_service_error
from .session import sudo_required

bp = Blueprint("apps", __name__)

SEE_OTHER = 303
LONG = 2000
LISTS = 20_000


class AppForm(BrowserForm):
    name = StringField("Name", validators=[InputRequired("Enter a name."), Length(max=100)])
    icon = StringField("Icon (one letter, or an https URL of an image)", validators=[Length(max=LONG)])
    launch_url = StringField("Launch URL", validators=[Length(max=LONG)])
    hosts = TextAreaField("Forward-auth hosts (one per line: host or host:port)", validators=[Length(max=LISTS)])
    redirect_uris = TextAreaField("OpenID Connect redirect URIs (one per line)", validators=[Length(max=LISTS)])
    allowed_groups = TextAreaField("Only these groups (one per line or comma-separated)",
                                   validators=[Length(max=LISTS)])
    allowed_users = TextAreaField("Only these people (usernames)", validators=[Length(max=LISTS)])
    consent = BooleanField("Ask people before the app learns who they are")
    public = BooleanField("Public client (no secret; PKCE)")


class ActionForm(BrowserForm):
    """A button: the CSRF token is all it carries."""


class DeleteAppForm(BrowserForm):
    confirm = BooleanField("Yes, delete it", validators=[InputRequired("Tick the box to confirm.")])


def _me():
    return current_user._get_current_object()


def _items(text: str | None, commas: bool = False) -> list[str]:
    parts = re.split(r"[\n,]" if commas else r"\n", text or "")
    return [p.strip() for p in parts if p.strip()]


def _values(form: AppForm) -> dict:
    return {"name": form.name.data, "icon": form.icon.data or "", "launch_url": form.launch_url.data or "",
            "hosts": _items(form.hosts.data), "redirect_uris": _items(form.redirect_uris.data),
            "allowed_groups": _items(form.allowed_groups.data, commas=True),
            "allowed_users": _items(form.allowed_users.data, commas=True),
            "consent": bool(form.consent.data), "public": bool(form.public.data)}


def _form_of(app) -> AppForm:
    groups, people = service.access_of(app)
    return AppForm(formdata=None, name=app.name, icon=app.icon, launch_url=app.launch_url,
                   hosts="\n".join(service.hosts_of(app)),
                   redirect_uris="\n".join(service.redirect_uris_of(app)),
                   allowed_groups="\n".join(groups), allowed_users="\n".join(people),
                   consent=app.consent, public=app.public)


# ---------------------------------------------------------------- the launcher

@bp.get("/apps")
@login_required
def launcher():
    return render_template("apps/launcher.html", apps=service.apps_for(_me()))


# ---------------------------------------------------------------- administration

@bp.before_request
def _managers_only():
    if not request.path.startswith("/admin/"):
        return None
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    if not has_permission(_me(), "apps.manage"):
        abort(403, "This page needs the permission apps.manage.")
    return None


def _app_or_404(app_id: int):
    try:
        return service.get_app(app_id, _me())
    except NotFound:
        abort(404, "There is no such app, or it is not one you manage.")


def _list_page(form: AppForm, status: int = 200):
    rows = [(a, service.hosts_of(a)) for a in service.managed_apps(_me())]
    return make_response(render_template("apps/admin_list.html", rows=rows, form=form), status)


@bp.get("/admin/apps")
def admin_list():
    return _list_page(AppForm(formdata=None, consent=True))


@bp.route("/admin/apps/new", methods=["GET", "POST"])
@sudo_required
def new_app():
    if request.method == "GET":
        return redirect(url_for("apps.admin_list"), SEE_OTHER)
    form = AppForm()
    if not form.validate():
        return _list_page(form, 400)
    try:
        saved = service.create_app(_values(form), actor=_me())
    except ServiceError as e:
        show_service_error(form, e)
        return _list_page(form, e.status)
    flash(f"The app {saved.app.name} has been registered.", "success")
    if saved.client_secret:
        return _app_page(saved.app, client_secret=saved.client_secret)
    return redirect(url_for("apps.admin_app", app_id=saved.app.id), SEE_OTHER)


def _app_page(app, status: int = 200, form: AppForm | None = None, client_secret: str | None = None):
    return make_response(render_template(
        "apps/admin_app.html", app=app, form=form or _form_of(app), client_secret=client_secret,
        action_form=ActionForm(formdata=None)), status)


@bp.route("/admin/apps/<int:app_id>", methods=["GET", "POST"])
def admin_app(app_id):
    app = _app_or_404(app_id)
    if request.method == "GET":
        return _app_page(app)
    return _update(app)


@sudo_required
def _update(app):
    form = AppForm()
    if not form.validate():
        return _app_page(app, 400, form)
    try:
        saved = service.update_app(app, _values(form), actor=_me())
    except ServiceError as e:
        show_service_error(form, e)
        return _app_page(app, e.status, form)
    flash(f"The app {saved.app.name} has been changed.", "success")
    if saved.client_secret:
        return _app_page(saved.app, client_secret=saved.client_secret)
    return redirect(url_for("apps.admin_app", app_id=app.id), SEE_OTHER)


@bp.route("/admin/apps/<int:app_id>/secret", methods=["GET", "POST"])
@sudo_required(always_ask=True)
def new_secret(app_id):
    app = _app_or_404(app_id)
    if request.method == "GET":
        return redirect(url_for("apps.admin_app", app_id=app.id), SEE_OTHER)
    form = ActionForm()
    if not form.validate():
        abort(400)
    try:
        saved = service.update_app(app, {}, actor=_me(), new_secret=True)
    except ServiceError as e:
        flash(e.message, "error")
        return redirect(url_for("apps.admin_app", app_id=app.id), SEE_OTHER)
    flash("A new client secret has been made; the old one no longer works.", "success")
    return _app_page(saved.app, client_secret=saved.client_secret)


@bp.route("/admin/apps/<int:app_id>/delete", methods=["GET", "POST"])
@sudo_required
def delete_app(app_id):
    app = _app_or_404(app_id)
    form = DeleteAppForm()
    if request.method == "POST":
        if form.validate():
            service.delete_app(app, actor=_me())
            flash(f"The app {app.name} has been deleted.", "success")
            return redirect(url_for("apps.admin_list"), SEE_OTHER)
        return make_response(render_template("apps/admin_delete.html", app=app, form=form), 400)
    return render_template("apps/admin_delete.html", app=app, form=form)
