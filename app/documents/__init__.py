"""Documents (docs/documents.md): per-user resources on which the access rules are proven with real
data, as in R2R.

- `models`: Document and DocumentShare (a document shared with a group, read only).
- `ingest`: bytes in, text out. Text, Markdown, HTML (markup dropped) and PDF (pypdf); the
  kind is decided from the bytes, a file that is not what it claims is refused.
  `html_text` reads HTML in one pass; `pdf_text` reads a PDF in a bounded child process.
- `access`: who may read (owner, members of a group it is shared with, administrators)
  and who may change (owner, administrators): the one place these rules are written.
- `search`: full-text search behind one function, SQLite FTS5 or PostgreSQL tsvector.
- `service`: what the API, the page and the tests call.
"""
