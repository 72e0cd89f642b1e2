"""/api/v1/documents (docs/documents.md): upload, list, read, delete, share and search documents,
on the service functions of app/documents/ (the /documents page uses the same)."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from ..documents import service
from ..documents.ingest import CONTENT_TYPES, DocumentTooLarge
from ..documents.models import Document
from ..errors import ValidationFailed
from ..models import iso
from .auth import current_api_user, login_required
from .jsonbody import fields, json_body
from .openapi import obj, operation, path_parameter, query_parameter, ref, string
from .users import paging

bp = Blueprint("api_documents", __name__)

SEARCH_PER_PAGE_DEFAULT = 20


def document_json(doc: Document, *, text: bool = False, groups=None) -> dict:
    """The OpenAPI `Document` schema (with `text` and `groups`: `DocumentDetail`)."""
    out = {
        "id": doc.id,
        "title": doc.title,
        "filename": doc.filename,
        "size": doc.size,
        "content_type": doc.content_type,
        "created_at": iso(doc.created_at),
        "owner": {"id": doc.owner.id, "username": doc.owner.username},
    }
    if text:
        out["text"] = doc.text
    if groups is not None:
        out["groups"] = [{"id": g.id, "name": g.name} for g in groups]
    return out


def _flag(name: str) -> bool:
    raw = request.args.get(name, "").strip().lower()
    if raw in ("", "false", "0", "no"):
        return False
    if raw in ("true", "1", "yes"):
        return True
    raise ValidationFailed({name: "Must be true or false."})


@bp.post("/documents")
@login_required
def upload():
    user = current_api_user()
    if request.mimetype == "multipart/form-data":
        upload_file = request.files.get("file")
        if upload_file is None:
            raise ValidationFailed({"file": "Send the document as the multipart field `file`."})
        limit = service.max_bytes()
        data = upload_file.stream.read(limit + 1)
        if len(data) > limit:
            raise DocumentTooLarge(f"The document is larger than the {limit:,} bytes allowed "
                                   f"(Documents.MaxBytes). Nothing was stored.")
        doc = service.upload_document(user, data, filename=upload_file.filename,
                                      declared_type=upload_file.mimetype,
                                      title=request.form.get("title"))
    else:
        # The text may be long (the 1 MB bound of a JSON body holds); the service says
        # what a missing title or text lacks.
        body = fields(json_body(), optional=("title", "content", "content_type"),
                      unbounded=("content",))
        doc = service.create_text_document(user, body.get("title"), body.get("content"),
                                           body.get("content_type"))
    return jsonify(document_json(doc)), 201


@bp.get("/documents")
@login_required
def list_documents():
    user = current_api_user()
    page, per_page = paging()
    scope = "all" if _flag("all") else "shared" if _flag("shared") else "own"
    docs, total = service.list_documents(user, scope, page, per_page)
    return jsonify(results=[document_json(d) for d in docs], total=total, page=page,
                   per_page=per_page)


@bp.get("/documents/search")
@login_required
def search():
    user = current_api_user()
    if "per_page" not in request.args:
        page, _ = paging()
        per_page = SEARCH_PER_PAGE_DEFAULT
    else:
        page, per_page = paging()
    found = service.search_documents(user, request.args.get("q", ""), page, per_page)
    return jsonify(results=[{**document_json(hit.document), "snippet": str(hit.snippet)}
                            for hit in found.results],
                   total=found.total, page=found.page, per_page=found.per_page)


@bp.get("/documents/<int:id>")
@login_required
def read(id: int):
    doc = service.get_document(current_api_user(), id)
    return jsonify(document_json(doc, text=True, groups=service.document_groups(doc)))


@bp.delete("/documents/<int:id>")
@login_required
def delete(id: int):
    service.delete_document(current_api_user(), id)
    return "", 204


@bp.put("/documents/<int:id>/groups/<int:group_id>")
@login_required
def share(id: int, group_id: int):
    service.share_document(current_api_user(), id, group_id)
    return "", 204


@bp.delete("/documents/<int:id>/groups/<int:group_id>")
@login_required
def unshare(id: int, group_id: int):
    service.unshare_document(current_api_user(), id, group_id)
    return "", 204


# ---------------------------------------------------------------- OpenAPI

_OWNER = obj(("id", "username"), id={"type": "integer"}, username=string())
_DOCUMENT_PROPERTIES = {
    "id": {"type": "integer"},
    "title": string(),
    "filename": {"type": ["string", "null"], "description": "The uploaded file's name, if any."},
    "size": {"type": "integer", "description": "Bytes as uploaded."},
    "content_type": string("Decided from the content, not the name.", enum=list(CONTENT_TYPES)),
    "created_at": string(format="date-time"),
    "owner": _OWNER,
}
_DOCUMENT_REQUIRED = ["id", "title", "filename", "size", "content_type", "created_at", "owner"]

OPENAPI_SCHEMAS = {
    "Document": {"type": "object", "required": _DOCUMENT_REQUIRED, "properties": _DOCUMENT_PROPERTIES},
    "DocumentDetail": {
        "type": "object", "required": _DOCUMENT_REQUIRED + ["text", "groups"],
        "properties": {
            **_DOCUMENT_PROPERTIES,
            "text": string("The extracted text (HTML markup dropped, PDF text extracted)."),
            "groups": {"type": "array", "description": "The groups it is shared with.",
                       "items": obj(("id", "name"), id={"type": "integer"}, name=string())},
        },
    },
    "DocumentPage": obj(("results", "total", "page", "per_page"),
                        results={"type": "array", "items": ref("Document")},
                        total={"type": "integer"}, page={"type": "integer"},
                        per_page={"type": "integer"}),
    "DocumentSearchPage": obj(
        ("results", "total", "page", "per_page"),
        results={"type": "array", "items": {
            "allOf": [ref("Document"), obj(("snippet",), snippet=string(
                "HTML: an excerpt of the document with every match in <mark>; everything "
                "else is escaped, so it is safe to insert as HTML."))]}},
        total={"type": "integer", "description": "Matching documents the caller may read."},
        page={"type": "integer"}, per_page={"type": "integer"}),
}

_DOC_ID = path_parameter("id", "The document's id.")
_GROUP_ID = path_parameter("group_id", "The group's id.")
_PAGING = [query_parameter("page", "Page number, from 1 (default 1).", {"type": "integer", "minimum": 1}),
           query_parameter("per_page", "Items per page, 1 to 100.",
                           {"type": "integer", "minimum": 1, "maximum": 100})]


def _error(status: int, text: str) -> dict:
    return {"description": text,
            "content": {"application/json": {"schema": ref("Error")}}}


_upload = operation(
    "Upload a document", tag="documents", operation_id="createDocument",
    description="A file as multipart/form-data (`file`, and optionally `title`): text, "
                "Markdown, HTML or PDF, at most Documents.MaxBytes bytes. Its kind is decided "
                "from its content; a file whose name or Content-Type claims another kind is "
                "refused. Or JSON {title, content, content_type?} for text (content_type one of "
                "text/plain, text/markdown, text/html; at most 1 MB as JSON). Nothing is stored "
                "when the upload is refused.",
    request=obj(("title", "content"), title=string(maxLength=300), content=string(),
                content_type=string(enum=["text/plain", "text/markdown", "text/html"])),
    responses={201: ("The stored document.", ref("Document"))})
_upload["requestBody"]["content"]["multipart/form-data"] = {"schema": obj(
    ("file",), file=string("The document.", format="binary"),
    title=string("Its title (default: the HTML or PDF title, else the file name).", maxLength=300))}
_upload["responses"]["413"] = _error(
    413, "Larger than Documents.MaxBytes (or a JSON body over 1 MB): `payload_too_large`; a PDF "
         "of more than Documents.PdfMaxPages pages (`too_many_pages`) or whose text is longer "
         "than Documents.MaxBytes characters (`too_much_text`).")
_upload["responses"]["415"] = _error(
    415, "Not text, Markdown, HTML or PDF (`unsupported_media_type`), or content of another "
         "kind than its name or Content-Type claims (`content_mismatch`); or a JSON body that "
         "is not application/json.")
_upload["responses"]["422"] = _error(
    422, "A field is missing or invalid, or the file is of the right kind but its text "
         "cannot be had: `invalid_pdf` (damaged), `encrypted_pdf`, `no_text` (a scan), "
         "`pdf_too_complex` (reading it passed Documents.PdfTimeLimit or the memory allowed), "
         "`empty_document`.")

OPENAPI_PATHS: dict = {
    "/api/v1/documents": {
        "post": _upload,
        "get": operation(
            "List documents", tag="documents", operation_id="listDocuments",
            description="The caller's own documents, newest first; `shared=true`: those shared "
                        "with one of their groups; `all=true`: everyone's (administrators).",
            parameters=[query_parameter("all", "Everyone's documents (administrators only).",
                                        {"type": "boolean"}),
                        query_parameter("shared", "Documents others shared with one of the "
                                        "caller's groups.", {"type": "boolean"}), *_PAGING],
            responses={200: ("A page of documents.", ref("DocumentPage"))}, errors=(403, 422)),
    },
    "/api/v1/documents/search": {"get": operation(
        "Search documents", tag="documents", operation_id="searchDocuments",
        description="Full-text search among the documents the caller may read (own, shared "
                    "with one of their groups, or any for an administrator), best match first. "
                    "All words must match (stemmed); \"quoted phrases\" and prefix* work; "
                    "other punctuation is ignored.",
        parameters=[{**query_parameter("q", "What to search for."), "required": True}, *_PAGING],
        responses={200: ("Hits with a highlighted snippet each.", ref("DocumentSearchPage"))},
        errors=(422,))},
    "/api/v1/documents/{id}": {
        "get": operation(
            "Read a document", tag="documents", operation_id="getDocument", parameters=[_DOC_ID],
            description="Its text and the groups it is shared with. A document the caller "
                        "may not read answers 404.",
            responses={200: ("The document.", ref("DocumentDetail"))}, errors=(404,)),
        "delete": operation(
            "Delete a document", tag="documents", operation_id="deleteDocument",
            parameters=[_DOC_ID],
            description="The owner or an administrator; anyone else, a member of a group it is "
                        "shared with included, gets 404 (someone else's document answers 404, "
                        "never 403).",
            responses={204: ("Deleted.", None)}, errors=(404,)),
    },
    "/api/v1/documents/{id}/groups/{group_id}": {
        "put": operation(
            "Share a document with a group", tag="documents", operation_id="shareDocument",
            parameters=[_DOC_ID, _GROUP_ID],
            description="The members of the group may then read it. The owner (with a group "
                        "they belong to) or an administrator (any group). Idempotent.",
            responses={204: ("Shared.", None)}, errors=(403, 404)),
        "delete": operation(
            "Stop sharing a document with a group", tag="documents",
            operation_id="unshareDocument", parameters=[_DOC_ID, _GROUP_ID],
            description="The group's members lose access at once. Idempotent.",
            responses={204: ("No longer shared.", None)}, errors=(403, 404)),
    },
}
