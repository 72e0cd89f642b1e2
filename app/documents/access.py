"""Who may do what with a document: the one place the rules are written.

- Read (list, open, search), with the permission documents.read: the owner; every member
  of a group the document is shared with, for as long as both the membership and the
  share last; with documents.read_all, everyone's.
- Change (delete, share, unshare): the owner, and those who may also delete the owner with
  their documents (people.manage).
- Plugins decide per document on top (keystead_authorize with the document as resource):
  any refusal hides it (404), a grant without refusal lets the person read it.

Each rule is a condition in the query itself, never a check after loading, so leaving a
group, removing a share or deleting a person ends access on the very next request, and
a document the caller may not read is never loaded, searched or counted.

A document the caller may not read is answered as missing (404), so its existence is
not leaked. A group member who may read a document but tries to change it gets 403:
they already know it exists, and "not found" for a document they can open would only
mislead.
"""
from __future__ import annotations

from peewee import Expression

from ..authorization import authorize, has_permission
from ..errors import NotFound
from ..models import Membership, User
from .models import Document, DocumentShare

MAX_ID = 2**63 - 1


def shared_with(user: User):
    """The ids of the documents shared with one of `user`'s groups (a subquery)."""
    return (DocumentShare.select(DocumentShare.document)
            .join(Membership, on=(Membership.group == DocumentShare.group))
            .where(Membership.user == user.id))


def readable(user: User) -> Expression | bool:
    """The condition on Document that `user` may read it (before plugins' say)."""
    if not has_permission(user, "documents.read"):
        return False
    if has_permission(user, "documents.read_all"):
        return True
    return (Document.owner == user.id) | (Document.id.in_(shared_with(user)))


def readable_sql(user: User, param: str, alias: str = "d", postgres: bool = False) -> tuple[str, list]:
    """The same condition as SQL on `alias` (a document row), for the raw search query.

    On PostgreSQL the readable ids are gathered first (an array computed once), so the
    planner fetches those rows by primary key and tests only them against the search:
    otherwise it tests the (TOASTed, costly to read) tsvector of every row before the
    cheap ownership check."""
    if not has_permission(user, "documents.read"):
        return "1 = 0", []
    if has_permission(user, "documents.read_all"):
        return "1 = 1", []
    shared = ("SELECT s.document_id FROM document_share s "
              f"JOIN membership m ON m.group_id = s.group_id WHERE m.user_id = {param}")
    if postgres:
        return (f"{alias}.id = ANY(ARRAY(SELECT id FROM document WHERE owner_id = {param} "
                f"UNION {shared}))", [user.id, user.id])
    return f"({alias}.owner_id = {param} OR {alias}.id IN ({shared}))", [user.id, user.id]


def may_change(user: User, document: Document) -> bool:
    """The owner, or someone who may delete the owner with their documents."""
    return document.owner_id == user.id or has_permission(user, "people.manage")


def plugins_decide() -> bool:
    """Whether any plugin implements keystead_authorize (else nothing is asked per document)."""
    from ..plugins import plugin_manager
    return bool(plugin_manager().hook.keystead_authorize.get_hookimpls())


def may_read(user: User, document: Document) -> bool:
    """Plugins' say on a document the rules above let `user` read (their refusal hides it)."""
    return not plugins_decide() or has_permission(user, "documents.read", document)


def visible(user: User, documents: list) -> list:
    """The documents of a page (a list, search hits' documents) that plugins do not hide."""
    if not plugins_decide():
        return documents
    return [d for d in documents if has_permission(user, "documents.read", d)]


def _document_id(document_id) -> int:
    try:
        value = int(document_id)
    except (TypeError, ValueError):
        return 0
    return value if 0 < value <= MAX_ID else 0  # beyond 64 bits a driver fails, not finds nothing


def get_readable(user: User, document_id) -> Document:
    """The document if `user` may read it, else NotFound (whether or not it exists). A
    plugin may refuse one the rules allow, or allow one they do not (keystead_authorize)."""
    query = (Document.select(Document, User.id, User.username).join(User)
             .where(Document.id == _document_id(document_id)))
    doc = query.where(readable(user)).first()
    if doc is not None and may_read(user, doc):
        return doc
    if doc is None and plugins_decide():
        doc = query.first()
        if doc is not None and authorize(user, "documents.read", doc) is True:
            return doc
    raise NotFound("No such document.")


def get_changeable(user: User, document_id) -> Document:
    """The document if `user` may change it, else NotFound: someone else's document
    answers 404, never 403 (docs/documents.md), even when it is shared with them to read."""
    doc = get_readable(user, document_id)
    if not may_change(user, doc):
        raise NotFound("No such document among those you can change; a document shared with "
                       "you can be read, not changed.")
    return doc
