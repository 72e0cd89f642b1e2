"""Documents (docs/documents.md): the document and document_share tables, and the full-text index
kept by the database (an FTS5 table with triggers on SQLite, a generated tsvector column
with a GIN index on PostgreSQL; see app/documents/search.py)."""
from ..documents.models import Document, DocumentShare
from ..documents.search import install


def apply(db, migrator):
    db.create_tables([Document, DocumentShare], safe=True)
    install(db)
