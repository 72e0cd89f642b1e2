"""The document tables. The full-text index lives beside them and is kept by the
database itself (app/documents/search.py: an FTS5 table with triggers on SQLite, a
generated tsvector column on PostgreSQL), so no code path can forget to update it."""
from __future__ import annotations

from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from ..models import BaseModel, Group, NeverReusedId, User, utcnow

TITLE_MAX = 300
FILENAME_MAX = 255


class Document(BaseModel):
    """A person's document: its extracted text and what was uploaded. Deleting the owner
    deletes it (ON DELETE CASCADE, and peewee's recursive delete_instance finds the
    backref too)."""
    id = NeverReusedId()
    owner = ForeignKeyField(User, backref="documents", on_delete="CASCADE")
    title = CharField(max_length=TITLE_MAX)
    filename = CharField(max_length=FILENAME_MAX, null=True)
    content_type = CharField(max_length=40)  # text/plain, text/markdown, text/html, application/pdf
    size = IntegerField()  # bytes as uploaded
    text = TextField()  # what search and GET /documents/{id} show
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("owner", "created_at"), False),)


class DocumentShare(BaseModel):
    """A document readable by the members of a group, for as long as both exist."""
    document = ForeignKeyField(Document, backref="shares", on_delete="CASCADE")
    group = ForeignKeyField(Group, backref="document_shares", on_delete="CASCADE")
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("document", "group"), True), (("group",), False))
