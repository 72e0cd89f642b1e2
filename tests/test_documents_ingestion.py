"""Ingestion (SPEC 8, issue 8 item 2): text, Markdown, HTML (markup dropped) and PDF (text
extracted), the kind decided from the bytes; mislabelled, broken, binary, empty and
oversized files refused with a clear error and nothing stored."""
from __future__ import annotations

import os

import pytest

from api_support import API, assert_error, bearer, in_db, login
from documents_support import create_text, document_count, make_pdf, upload
from keystead.documents.models import Document

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"


@pytest.fixture
def token(client, users):
    users.create("alice", role="publisher")  # viewers no longer upload (issue 14)
    return login(client, "alice")["access_token"]


def _text_of(client, token, doc_id) -> str:
    r = client.get(f"{API}/documents/{doc_id}", headers=bearer(token))
    assert r.status_code == 200
    return r.get_json()["text"]


def _created(response) -> dict:
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def _search_total(client, token, q) -> int:
    r = client.get(f"{API}/documents/search", query_string={"q": q}, headers=bearer(token))
    assert r.status_code == 200
    return r.get_json()["total"]


# ---------------------------------------------------------------- each kind

def test_plain_text_is_kept_as_written(client, token):
    data = "Line one.\nLine two with ünïcödé.\n".encode()
    doc = _created(upload(client, token, data, "notes.txt"))
    assert (doc["content_type"], doc["size"], doc["title"]) == ("text/plain", len(data), "notes")
    assert _text_of(client, token, doc["id"]) == "Line one.\nLine two with ünïcödé."


def test_text_with_a_byte_order_mark_or_in_utf16(client, token):
    doc = _created(upload(client, token, "\ufeffbom text".encode("utf-8"), "a.txt"))
    assert _text_of(client, token, doc["id"]) == "bom text"
    doc = _created(upload(client, token, "utf sixteen words".encode("utf-16"), "b.txt"))
    assert _text_of(client, token, doc["id"]) == "utf sixteen words"


def test_markdown_by_name_or_by_its_lines(client, token):
    source = "# Heading\n\nSome *emphasis* and a [link](https://example.com).\n"
    doc = _created(upload(client, token, source.encode(), "readme.md"))
    assert doc["content_type"] == "text/markdown"
    assert _text_of(client, token, doc["id"]) == source.strip()
    # No name to go by: the lines say Markdown.
    doc = _created(upload(client, token, b"# Title\n\n- one\n- two\n", "upload"))
    assert doc["content_type"] == "text/markdown"
    # JSON with content_type.
    doc = create_text(client, token, "md", "plain *md*", content_type="text/markdown")
    assert doc["content_type"] == "text/markdown"


def test_html_keeps_only_its_text(client, token):
    html = b"""<!DOCTYPE html>
<html><head><title>The &amp; Title</title><style>body { color: red }</style>
<script>var secretToken = "xyzzy";</script></head>
<body><h1>Hello</h1><p class="lead">Caf&eacute; &lt;menu&gt; <b>today</b></p>
<ul><li>one</li><li>two</li></ul><!-- a comment --><noscript>enable js</noscript></body></html>"""
    doc = _created(upload(client, token, html, "page.html"))
    assert doc["content_type"] == "text/html"
    assert doc["title"] == "The & Title"  # from <title>
    text = _text_of(client, token, doc["id"])
    assert text == "Hello\n\nCafé <menu> today\n\none\n\ntwo"
    for gone in ("<", "class", "color", "secretToken", "xyzzy", "comment", "enable js"):
        assert gone not in text.replace("<menu>", "")
    # Markup and scripts are not searchable; the text is.
    assert _search_total(client, token, "xyzzy") == 0
    assert _search_total(client, token, "lead") == 0
    assert _search_total(client, token, "café") == 1


def test_html_is_recognised_from_its_bytes_whatever_the_name(client, token):
    doc = _created(upload(client, token, b"<html><body><p>inside</p></body></html>", "looks-plain.txt"))
    assert doc["content_type"] == "text/html"
    assert _text_of(client, token, doc["id"]) == "inside"
    doc = create_text(client, token, "json html", "<p>from <i>json</i></p>", content_type="text/html")
    assert _text_of(client, token, doc["id"]) == "from json"


@pytest.mark.parametrize("compress", [True, False])
def test_pdf_text_is_extracted(client, token, compress):
    pdf = make_pdf(["Annual report of the heron society", "Second page (with parentheses)"],
                   title="Heron Report", compress=compress)
    doc = _created(upload(client, token, pdf, "report.pdf"))
    assert (doc["content_type"], doc["size"], doc["title"]) == ("application/pdf", len(pdf), "Heron Report")
    text = _text_of(client, token, doc["id"])
    assert "Annual report of the heron society" in text
    assert "Second page (with parentheses)" in text
    assert _search_total(client, token, "heron") == 1


def test_pdf_without_a_name_or_title_is_still_a_pdf(client, token):
    pdf = make_pdf(["Untitled content here"])
    doc = _created(upload(client, token, pdf, "blob", content_type="application/octet-stream",
                          title="Given title"))
    assert (doc["content_type"], doc["title"]) == ("application/pdf", "Given title")


# ---------------------------------------------------------------- refusals: nothing stored

@pytest.mark.parametrize("data,filename,content_type,code", [
    # Claims PDF, is text.
    (b"just some text", "fake.pdf", None, "content_mismatch"),
    (b"just some text", "fake.bin", "application/pdf", "content_mismatch"),
    # Claims text, is a PDF.
    (make_pdf(["a real pdf"]), "notes.txt", None, "content_mismatch"),
    (make_pdf(["a real pdf"]), "notes.md", "text/markdown", "content_mismatch"),
    (make_pdf(["a real pdf"]), "page.html", "text/html", "content_mismatch"),
    # Claims an image, is text.
    (b"hello there", "photo.png", "image/png", "content_mismatch"),
    # Claims text, is an image.
    (PNG, "notes.txt", "text/plain", "content_mismatch"),
    # Honest about being something we do not take.
    (PNG, "photo.png", "image/png", "unsupported_media_type"),
    (b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00", "report.docx", None, "unsupported_media_type"),
    # Binary junk with no claim at all.
    (os.urandom(4096), "junk", None, "unsupported_media_type"),
    (b"\x00\x01\x02\x03" * 100, "data", "application/octet-stream", "unsupported_media_type"),
    # Text that is not UTF-8 (Latin-1).
    ("Ça coûte très cher".encode("latin-1"), "latin.txt", None, "content_mismatch"),
    ("Ça coûte très cher".encode("latin-1"), "latin", None, "unsupported_media_type"),
    (b"{\\rtf1\\ansi hello}", "letter", None, "unsupported_media_type"),
])
def test_files_that_are_not_what_they_claim_or_not_documents_are_415(app, client, token, data,
                                                                      filename, content_type, code):
    e = assert_error(upload(client, token, data, filename, content_type), 415, code)
    assert "Nothing was stored" in e["message"]
    assert document_count(app) == 0


def _broken_pdfs():
    good = make_pdf(["text that will not be read"])
    return {
        "truncated": good[: len(good) // 2],
        "header then junk": b"%PDF-1.7\n" + bytes(range(256)) * 8,
        "bad stream filter": good.replace(b"FlateDecode", b"LZWDecode"),
        "no objects": b"%PDF-1.4\n%%EOF\n",
    }


@pytest.mark.parametrize("name", list(_broken_pdfs()))
def test_a_broken_pdf_is_422(app, client, token, name):
    e = assert_error(upload(client, token, _broken_pdfs()[name], "broken.pdf"), 422, "invalid_pdf")
    assert "damaged" in e["message"]
    assert document_count(app) == 0


@pytest.mark.parametrize("algorithm", ["RC4-128", "AES-256"])
def test_an_encrypted_pdf_is_422_but_one_with_an_empty_password_is_read(app, client, token, algorithm):
    import io

    from pypdf import PdfWriter
    source = make_pdf(["confidential otter census"])

    def encrypted(user_password: str) -> bytes:
        writer = PdfWriter(clone_from=io.BytesIO(source))
        writer.encrypt(user_password=user_password, owner_password="owner", algorithm=algorithm)
        out = io.BytesIO()
        writer.write(out)
        return out.getvalue()

    assert_error(upload(client, token, encrypted("s3cret"), "locked.pdf"), 422, "encrypted_pdf")
    assert document_count(app) == 0
    doc = _created(upload(client, token, encrypted(""), "permissions-only.pdf"))
    assert "otter census" in _text_of(client, token, doc["id"])


def test_a_pdf_without_text_is_422(app, client, token):
    scan = make_pdf([""])
    assert_error(upload(client, token, scan, "scan.pdf"), 422, "no_text")
    assert document_count(app) == 0


@pytest.mark.parametrize("data", [b"", b"   \n\t  \n", b"<html><script>x()</script></html>"])
def test_empty_documents_are_422(app, client, token, data):
    assert_error(upload(client, token, data, "empty.txt"), 422, "empty_document")
    assert document_count(app) == 0


# ---------------------------------------------------------------- Documents.MaxBytes

@pytest.fixture
def small_app(make_app):
    return make_app({"Documents.MaxBytes": 1000})


@pytest.fixture
def small(small_app, users):
    users.create("alice", role="publisher")  # viewers no longer upload (issue 14)
    client = small_app.test_client()
    return client, login(client, "alice")["access_token"]


def test_exactly_max_bytes_is_accepted(small_app, small):
    client, token = small
    doc = _created(upload(client, token, b"a" * 1000, "full.txt"))
    assert doc["size"] == 1000


@pytest.mark.parametrize("size", [1001, 50_000, 1000 + 64 * 1024 + 1, 2_000_000])
def test_over_max_bytes_is_413_and_nothing_is_stored(small_app, small, size):
    client, token = small
    assert_error(upload(client, token, b"a" * size, "big.txt"), 413, "payload_too_large")
    assert document_count(small_app) == 0


def test_json_content_over_max_bytes_is_413(small_app, small):
    client, token = small
    r = client.post(f"{API}/documents", json={"title": "big", "content": "é" * 501},
                    headers=bearer(token))  # 1,002 bytes as UTF-8
    assert_error(r, 413, "payload_too_large")
    assert document_count(small_app) == 0


def test_nul_characters_and_highlight_markers_never_reach_the_database(app, client, token):
    from keystead.documents.ingest import MARK_END, MARK_START
    doc = _created(upload(client, token, f"fine{MARK_START}text{MARK_END}".encode(), "m.txt"))
    assert _text_of(client, token, doc["id"]) == "finetext"
    assert in_db(app, lambda: Document.get_by_id(doc["id"]).text) == "finetext"
