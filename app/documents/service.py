"""What the API and the /documents page do with documents, on the rules of
app/documents/access.py. Every function takes the acting user first."""
from __future__ import annotations

from flask import current_app
from peewee import IntegrityError, fn

from .. import groups as groups_service
from ..authorization import has_permission, require_permission
from ..errors import Forbidden, ValidationFailed
from ..models import Group, Membership, User, database
from ..plugins import hook
from . import access, search as search_module
from .ingest import HTML, MARKDOWN, TEXT, Ingested, ingest
from .models import Document, DocumentShare

SCOPES = ("own", "shared", "all")


def max_bytes() -> int:
    """Documents.MaxBytes: the largest upload, in bytes (docs/configuration.md)."""
    return _settings()["Documents.MaxBytes"]


def _settings():
    return current_app.extensions["keystead.settings"]


def _record(event: str, actor: User, doc: Document, group: Group | None = None) -> None:
    """Report a document event (audit log) inside the caller's transaction. The target is
    the document's owner, so an administrator's action on someone else's document shows
    as theirs on that person."""
    details = {"document_id": doc.id, "title": doc.title}
    if group is not None:
        details.update(group_id=group.id, group=group.name)
    hook().keystead_event(event=event, actor=actor, target=doc.owner, outcome="success", details=details)


def _store(owner: User, ingested: Ingested) -> Document:
    with database.atomic():
        doc = Document.create(owner=owner.id, title=ingested.title, filename=ingested.filename,
                              content_type=ingested.content_type, size=ingested.size,
                              text=ingested.text)
        doc.owner = owner
        _record("document_upload", owner, doc)
    return doc


def upload_document(owner: User, data: bytes, *, filename: str | None = None,
                    declared_type: str | None = None, title: str | None = None) -> Document:
    """Store an uploaded file (text, Markdown, HTML or PDF) as `owner`'s document, or raise
    the ServiceError that says why not (nothing is stored then). Reading a PDF is bounded
    by Documents.PdfMaxPages and Documents.PdfTimeLimit. Needs documents.create (403)."""
    require_permission(owner, "documents.create")
    settings = _settings()
    return _store(owner, ingest(data, max_bytes=settings["Documents.MaxBytes"],
                                pdf_max_pages=settings["Documents.PdfMaxPages"],
                                pdf_seconds=settings["Documents.PdfTimeLimit"],
                                filename=filename, declared_type=declared_type, title=title))


TEXT_TYPES = (TEXT, MARKDOWN, HTML)


def create_text_document(owner: User, title, content, content_type=None) -> Document:
    """A document from text sent as JSON: {title, content, content_type?}."""
    require_permission(owner, "documents.create")  # before the fields: a viewer learns why at once
    problems = {}
    if not isinstance(title, str) or not title.strip():
        problems["title"] = "Enter a title."
    if not isinstance(content, str) or not content.strip():
        problems["content"] = "Enter the text of the document."
    elif not _encodable(content):
        problems["content"] = "Must be valid Unicode text."
    if content_type is not None and content_type not in TEXT_TYPES:
        problems["content_type"] = "One of " + ", ".join(TEXT_TYPES) + "."
    if problems:
        raise ValidationFailed(problems)
    return upload_document(owner, content.encode("utf-8"), declared_type=content_type or TEXT,
                           title=title)


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def get_document(user: User, document_id) -> Document:
    return access.get_readable(user, document_id)


def list_documents(user: User, scope: str = "own", page: int = 1,
                   per_page: int = 50) -> tuple[list[Document], int]:
    """A page of documents, newest first, without their text: `own`, `shared` (with one of
    the user's groups, not their own) or `all` (documents.read_all). Needs documents.read;
    plugins may hide documents of the page (keystead_authorize; `total` counts before)."""
    require_permission(user, "documents.read")
    if scope == "own":
        where = Document.owner == user.id
    elif scope == "shared":
        where = (Document.owner != user.id) & Document.id.in_(access.shared_with(user))
    elif scope == "all":
        require_permission(user, "documents.read_all")
        where = True
    else:
        raise ValidationFailed({"scope": "One of " + ", ".join(SCOPES) + "."})
    fields = [f for f in Document._meta.sorted_fields if f.name != "text"]
    query = (Document.select(*fields, User.id, User.username).join(User).where(where)
             .order_by(Document.created_at.desc(), Document.id.desc()))
    total = Document.select(fn.COUNT(Document.id)).where(where).scalar()
    return access.visible(user, list(query.paginate(page, per_page))), total


def delete_document(user: User, document_id) -> None:
    doc = access.get_changeable(user, document_id)
    with database.atomic():
        DocumentShare.delete().where(DocumentShare.document == doc.id).execute()
        if Document.delete().where(Document.id == doc.id).execute():
            _record("document_delete", user, doc)


def owned_counts(user: User) -> tuple[int, int]:
    """(how many documents `user` owns, how many of them are shared with a group): what
    deleting the person would delete, for the pages that warn of it."""
    owned = Document.select(Document.id).where(Document.owner == user.id)
    shared = (DocumentShare.select(fn.COUNT(fn.DISTINCT(DocumentShare.document)))
              .where(DocumentShare.document.in_(owned)).scalar())
    return owned.count(), shared or 0


def document_groups(document: Document) -> list[Group]:
    return list(Group.select().join(DocumentShare)
                .where(DocumentShare.document == document.id).order_by(Group.name_key))


def shareable_groups(user: User) -> list[Group]:
    """The groups `user` may share with: their own; every group for those who manage
    groups (groups.manage); none without documents.share."""
    if not has_permission(user, "documents.share"):
        return []
    if has_permission(user, "groups.manage"):
        return list(Group.select().order_by(Group.name_key))
    return list(Group.select().join(Membership).where(Membership.user == user.id)
                .order_by(Group.name_key))


def share_document(user: User, document_id, group_id) -> bool:
    """Share the document with the group (its members may read it); False when it already
    was. Needs documents.share (403 naming it; a plugin may refuse it for this document).
    Owners share with groups they belong to; those who manage groups with any group."""
    doc = access.get_changeable(user, document_id)
    require_permission(user, "documents.share", doc)
    group = groups_service.get_group(group_id)
    if not has_permission(user, "groups.manage") and not groups_service.is_member(group, user):
        raise Forbidden("You can share only with groups you belong to.")
    if DocumentShare.select().where((DocumentShare.document == doc.id)
                                    & (DocumentShare.group == group.id)).exists():
        return False
    try:
        with database.atomic():
            DocumentShare.create(document=doc.id, group=group.id)
            _record("document_share", user, doc, group)
    except IntegrityError:  # shared by another request meanwhile: the outcome is the same
        return False
    return True


def unshare_document(user: User, document_id, group_id) -> None:
    """End the group's access to the document (at once). Idempotent. Needs no
    documents.share: taking access away is always allowed to the owner (a viewer keeps
    control of what they shared before viewers stopped sharing)."""
    doc = access.get_changeable(user, document_id)
    group = groups_service.get_group(group_id)
    with database.atomic():
        if DocumentShare.delete().where((DocumentShare.document == doc.id)
                                        & (DocumentShare.group == group.id)).execute():
            _record("document_unshare", user, doc, group)


def search_documents(user: User, q: str, page: int = 1, per_page: int = 20) -> search_module.SearchPage:
    """Full-text search among the documents `user` may read (app/documents/search.py).
    Needs documents.read; plugins may hide hits of the page (`total` counts before)."""
    require_permission(user, "documents.read")
    found = search_module.search(current_app.extensions["keystead.db"], user, q, page, per_page)
    if access.plugins_decide():
        kept = set(id(d) for d in access.visible(user, [hit.document for hit in found.results]))
        found.results[:] = [hit for hit in found.results if id(hit.document) in kept]
    return found
