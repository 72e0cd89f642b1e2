"""The /documents page (docs/documents.md): the signed-in person's documents, those shared with their
groups (and, for administrators, everyone's), upload, full-text search, delete, and
sharing with groups. The rules are those of the API: the same service functions
(app/documents/service.py)."""
from __future__ import annotations

import math

from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf.file import FileField
from wtforms import SelectField, StringField
from wtforms.validators import Length

from ..authorization import has_permission
from ..documents import service
from ..documents.ingest import DocumentTooLarge
from ..documents.models import TITLE_MAX
from ..errors import NotFound, ServiceError, ValidationFailed
from .forms import BrowserForm

bp = Blueprint("documents", __name__)

SEE_OTHER = 303
PER_PAGE = 20


class UploadForm(BrowserForm):
    file = FileField("File (text, Markdown, HTML or PDF)")
    title = StringField("Title (optional)", validators=[Length(max=TITLE_MAX)])


class ShareForm(BrowserForm):
    group = SelectField("Group", coerce=int, validate_choice=False)


class ActionForm(BrowserForm):
    """A button that changes something: only its CSRF token."""


def _user():
    return current_user._get_current_object()


def _page_number() -> int:
    try:
        page = int(request.args.get("page", "1"))
    except ValueError:
        page = 1
    return min(max(page, 1), 10**9)


def _max_megabytes() -> str:
    size = service.max_bytes()
    return f"{size / 1048576:.1f} MB" if size >= 1048576 else f"{size:,} bytes"


def _index_page(status: int = 200, upload_form: UploadForm | None = None):
    user = _user()
    q = request.args.get("q", "").strip()[:500]
    scope = request.args.get("scope", "own")
    if not has_permission(user, "documents.read"):
        abort(403, "This page needs the permission documents.read.")
    may_read_all = has_permission(user, "documents.read_all")
    if scope not in service.SCOPES or (scope == "all" and not may_read_all):
        scope = "own"
    page = _page_number()
    found, search_error = None, None
    if q:
        try:
            found = service.search_documents(user, q, page, PER_PAGE)
        except ValidationFailed as e:
            search_error = e.fields.get("q", e.message)
        docs, total = [], 0
    else:
        docs, total = service.list_documents(user, scope, page, PER_PAGE)
    shown_total = found.total if found else total
    return make_response(render_template(
        "documents/index.html", user=user, q=q, scope=scope, page=page,
        pages=max(1, math.ceil(shown_total / PER_PAGE)), docs=docs, total=total, found=found,
        search_error=search_error, may_read_all=may_read_all,
        may_change=lambda doc: service.access.may_change(user, doc),
        upload_form=(upload_form or UploadForm(formdata=None))
        if has_permission(user, "documents.create") else None,
        action_form=ActionForm(), max_size=_max_megabytes()), status)


@bp.get("/documents")
@login_required
def index():
    return _index_page()


@bp.post("/documents")
@login_required
def upload():
    if not has_permission(_user(), "documents.create"):
        abort(403, "Uploading needs the permission documents.create.")
    form = UploadForm()
    if not form.validate():
        return _index_page(400, form)
    upload_file = form.file.data
    if upload_file is None or not getattr(upload_file, "filename", None):
        form.file.errors.append("Choose a file to upload.")
        return _index_page(400, form)
    try:
        limit = service.max_bytes()
        data = upload_file.stream.read(limit + 1)
        if len(data) > limit:
            raise DocumentTooLarge(f"The file is larger than the {_max_megabytes()} allowed. "
                                   f"Nothing was stored.")
        doc = service.upload_document(_user(), data, filename=upload_file.filename,
                                      declared_type=upload_file.mimetype,
                                      title=form.title.data or None)
    except ServiceError as e:
        target = form.title if "title" in e.fields else form.file
        target.errors.append(e.fields.get("title") if target is form.title else e.message)
        return _index_page(e.status, form)
    flash(f"“{doc.title}” was uploaded.", "success")
    return redirect(url_for("documents.view", id=doc.id), SEE_OTHER)


def _or_abort(fn, *args):
    """Run a service call; its NotFound and Forbidden become the error pages."""
    try:
        return fn(*args)
    except NotFound:
        abort(404)
    except ServiceError as e:
        abort(e.status, e.message)


@bp.get("/documents/<int:id>")
@login_required
def view(id: int):
    user = _user()
    doc = _or_abort(service.get_document, user, id)
    may_change = service.access.may_change(user, doc)
    share_form = None
    shared = service.document_groups(doc)
    if may_change and has_permission(user, "documents.share", doc):
        shared_ids = {g.id for g in shared}
        share_form = ShareForm(formdata=None)
        share_form.group.choices = [(g.id, g.name) for g in service.shareable_groups(user)
                                    if g.id not in shared_ids]
    return render_template("documents/view.html", doc=doc, may_change=may_change, groups=shared,
                           share_form=share_form, may_share_any=has_permission(user, "groups.manage"))


@bp.post("/documents/<int:id>/delete")
@login_required
def delete(id: int):
    form = ActionForm()
    if not form.validate():
        abort(400)
    doc = _or_abort(service.get_document, _user(), id)
    _or_abort(service.delete_document, _user(), id)
    flash(f"“{doc.title}” was deleted.", "success")
    return redirect(url_for("documents.index"), SEE_OTHER)


@bp.post("/documents/<int:id>/share")
@login_required
def share(id: int):
    form = ShareForm()
    if not form.validate():
        abort(400)
    if _or_abort(service.share_document, _user(), id, form.group.data):
        flash("The document is now shared with the group.", "success")
    return redirect(url_for("documents.view", id=id), SEE_OTHER)


@bp.post("/documents/<int:id>/unshare/<int:group_id>")
@login_required
def unshare(id: int, group_id: int):
    form = ActionForm()
    if not form.validate():
        abort(400)
    _or_abort(service.unshare_document, _user(), id, group_id)
    flash("The group no longer has access to the document.", "success")
    return redirect(url_for("documents.view", id=id), SEE_OTHER)
