"""Helpers for the document tests (tests/test_documents_*.py): real PDF bytes written by
hand (no PDF library needed to make them), uploads and group set-up."""
from __future__ import annotations

import io
import zlib

from api_support import API, bearer, in_db


def _pdf_string(text: str) -> bytes:
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return b"(" + escaped.encode("latin-1") + b")"


def make_pdf(pages: list[str], *, title: str | None = None, compress: bool = True) -> bytes:
    """A valid PDF (1.4, Helvetica) with one page per string (lines split on \\n), an
    optional /Title, and a correct cross-reference table."""
    objects: list[bytes] = []  # objects[i] is object number i + 1

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog = add(b"")  # filled in below
    pages_obj = add(b"")
    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    kids = []
    for text in pages:
        ops = [b"BT /F1 12 Tf 72 720 Td 14 TL"]
        for line in text.split("\n"):
            ops.append(_pdf_string(line) + b" Tj T*")
        ops.append(b"ET")
        stream = b"\n".join(ops)
        if compress:
            data = zlib.compress(stream)
            content = add(b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(data) + data + b"\nendstream")
        else:
            content = add(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        kids.append(add(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] "
                        b"/Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>"
                        % (pages_obj, font, content)))
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % pages_obj
    objects[pages_obj - 1] = (b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % k for k in kids)
                              + b"] /Count %d >>" % len(kids))
    info = add(b"<< /Title " + _pdf_string(title) + b" /Producer (keystead tests) >>") if title else None

    return _write_pdf(objects, catalog, info)


def _write_pdf(objects: list[bytes], root: int, info: int | None = None) -> bytes:
    """PDF 1.4 bytes of `objects` (objects[i] is object number i + 1) with a correct
    cross-reference table."""
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    trailer = b"<< /Size %d /Root %d 0 R" % (len(objects) + 1, root)
    if info:
        trailer += b" /Info %d 0 R" % info
    out.write(b"trailer\n" + trailer + b" >>\nstartxref\n%d\n%%%%EOF\n" % xref)
    return out.getvalue()


def _stream(body: bytes, extra: bytes = b"") -> bytes:
    data = zlib.compress(body, 9)
    return b"<< /Length %d /Filter /FlateDecode %s>>\nstream\n" % (len(data), extra) + data + b"\nendstream"


def make_many_page_pdf(pages: int, page_text: str = "", *, shared_content: bytes | None = None,
                       form: bytes | None = None) -> bytes:
    """A PDF of `pages` pages that all draw one thing, the way a small file makes a PDF
    reader work hard: each page shows `page_text` from one content stream they all share
    (`shared_content` replaces that stream); with `form`, each page has a content stream
    of its own that only draws one shared form XObject whose content is `form`."""
    objects: list[bytes] = [b"", b""]  # catalog, page tree
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    font = len(objects)
    resources = b"<< /Font << /F1 %d 0 R >>" % font
    if form is not None:
        objects.append(_stream(form, b"/Type /XObject /Subtype /Form /BBox [0 0 612 792] "
                                     b"/Resources << /Font << /F1 %d 0 R >> >> " % font))
        resources += b" /XObject << /X1 %d 0 R >>" % len(objects)
    else:
        if shared_content is None:
            lines = [_pdf_string(line) + b" Tj T*" for line in page_text.split("\n")]
            shared_content = b"BT /F1 12 Tf 72 720 Td 14 TL\n" + b"\n".join(lines) + b"\nET"
        objects.append(_stream(shared_content))
        content = len(objects)
    resources += b" >>"
    kids = []
    for _ in range(pages):
        if form is not None:
            objects.append(_stream(b"q /X1 Do Q"))
            content = len(objects)
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources %s "
                       b"/Contents %d 0 R >>" % (resources, content))
        kids.append(len(objects))
    objects[0] = b"<< /Type /Catalog /Pages 2 0 R >>"
    objects[1] = (b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % k for k in kids)
                  + b"] /Count %d >>" % len(kids))
    return _write_pdf(objects, 1)


def upload(client, token: str, data: bytes, filename: str = "doc.txt",
           content_type: str | None = None, title: str | None = None):
    form = {"file": (io.BytesIO(data), filename, content_type) if content_type
            else (io.BytesIO(data), filename)}
    if title is not None:
        form["title"] = title
    return client.post(f"{API}/documents", data=form, headers=bearer(token),
                       content_type="multipart/form-data")


def create_text(client, token: str, title: str, content: str, **extra):
    r = client.post(f"{API}/documents", json={"title": title, "content": content, **extra},
                    headers=bearer(token))
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.get_json()


def make_group(app, name: str, members=()):
    """A group with `members`, through the groups service the administrators use."""
    from keystead import groups

    def run():
        group = groups.create_group(name)
        for user in members:
            groups.add_member(group, user)
        return group
    return in_db(app, run)


def document_count(app) -> int:
    from keystead.documents.models import Document
    return in_db(app, lambda: Document.select().count())
