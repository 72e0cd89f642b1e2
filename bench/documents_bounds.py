"""Benchmark: bounded document processing (issue 12 items 7 and 8).

Starts `gunicorn wsgi:app` (2 sync workers, as bench/run.py) on a temporary instance,
uploads documents built to make a naive server work hard (1 MB of spaces; HTML of
unfinished tags, comments and quotes; Markdown of brackets; PDFs of many pages sharing
one content stream, of too many pages, and of a heavy form drawn on every page) while
another thread asks GET /api/v1/health every 50 ms, and prints for each upload its
status, how long it took, and the slowest health answer while it ran.

    .venv/bin/python bench/documents_bounds.py
    .venv/bin/python bench/documents_bounds.py --pdf-time-limit 2s

The goal: every upload answered in under 2 s except the PDF built to be slow, which is
stopped at Documents.PdfTimeLimit; /api/v1/health answering in under 1 s throughout.
"""
from __future__ import annotations

import argparse
import io
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import ADMIN_PASSWORD, ADMIN_USERNAME, Server, api_login, keystead_env  # noqa: E402

MB = 1_000_000


# ---------------------------------------------------------------- adversarial documents

def _pdf(pages: int, content: bytes, *, form: bytes | None = None) -> bytes:
    """`pages` pages sharing one content stream (or each drawing one shared form)."""
    def stream(body: bytes, extra: bytes = b"") -> bytes:
        data = zlib.compress(body, 9)
        return b"<< /Length %d /Filter /FlateDecode %s>>\nstream\n" % (len(data), extra) + data + b"\nendstream"

    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    resources = b"<< /Font << /F1 3 0 R >>"
    if form is not None:
        objects.append(stream(form, b"/Type /XObject /Subtype /Form /BBox [0 0 612 792] "
                                    b"/Resources << /Font << /F1 3 0 R >> >> "))
        resources += b" /XObject << /X1 4 0 R >>"
    else:
        objects.append(stream(content))
    resources += b" >>"
    kids = []
    for _ in range(pages):
        if form is not None:
            objects.append(stream(b"q /X1 Do Q"))
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources %s "
                       b"/Contents %d 0 R >>" % (resources, len(objects) if form is not None else 4))
        kids.append(len(objects))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(b"%d 0 R" % k for k in kids), pages)
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % o for o in offsets))
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def documents() -> list[tuple[str, str, bytes]]:
    """(what, file name, bytes)."""
    text_page = b"BT /F1 12 Tf 72 720 Td 14 TL\n" + b"(The quick brown fox jumps over the lazy dog) Tj T*\n" * 200 + b"ET"
    return [
        ("text: 1 MB of spaces", "spaces.txt", b"a" + b" " * MB + b"b"),
        ("HTML: <p> and 500,000 <a", "tags.html", b"<p>words</p><p>" + b"<a" * (MB // 2)),
        ("HTML: 250,000 unclosed comments", "comments.html", b"<p>words</p>" + b"<!--" * (MB // 4)),
        ("HTML: 166,000 unclosed quotes", "quotes.html", b"<p>words</p>" + b'<a x="' * (MB // 6)),
        ("HTML: 125,000 closed tags", "closed.html", b"<p>" + b"<b>x</b>" * (MB // 8)),
        ("Markdown: 1 MB of [", "brackets", b"# T\n\n- a\n- b\n\n" + b"[" * MB),
        ("PDF: 1,500 pages, one content stream", "shared.pdf", _pdf(1500, text_page)),
        ("PDF: 5,000 pages", "long.pdf", _pdf(5000, b"BT /F1 12 Tf (page) Tj ET")),
        ("PDF: a heavy form on 200 pages", "slow.pdf",
         _pdf(200, b"", form=b"BT /F1 12 Tf (x) Tj " + b"0 0 Td " * 50_000 + b"ET")),
    ]


# ---------------------------------------------------------------- measuring

def measure(base: str, token: str, name: str, data: bytes) -> tuple[int, float, float, int]:
    """(status, seconds for the upload, slowest health answer meanwhile, health answers)."""
    slowest, count = 0.0, 0
    done = threading.Event()

    def poll():
        nonlocal slowest, count
        while not done.is_set():
            start = time.perf_counter()
            requests.get(base + "/api/v1/health", timeout=30)
            slowest = max(slowest, time.perf_counter() - start)
            count += 1
            done.wait(0.05)

    poller = threading.Thread(target=poll)
    poller.start()
    start = time.perf_counter()
    r = requests.post(base + "/api/v1/documents", headers={"Authorization": f"Bearer {token}"},
                      files={"file": (name, data, "application/octet-stream")}, timeout=120)
    took = time.perf_counter() - start
    done.set()
    poller.join()
    return r.status_code, took, slowest, count


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pdf-time-limit", default="10s", help="Documents.PdfTimeLimit")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="keystead-bounds-") as tmp:
        env = keystead_env(argparse.Namespace(bcrypt_rounds=4), Path(tmp) / "instance")
        env["KEYSTEAD_DOCUMENTS_PDFTIMELIMIT"] = args.pdf_time_limit
        server = Server("keystead", "wsgi:app", env, "/api/v1/health", Path(tmp))
        try:
            server.wait_ready()
            token = api_login(server.base, ADMIN_USERNAME, ADMIN_PASSWORD)
            print(f"{'document':40} {'bytes':>9} {'status':>6} {'upload s':>9} {'health max s':>13} {'polls':>6}")
            for what, name, data in documents():
                status, took, slowest, count = measure(server.base, token, name, data)
                print(f"{what:40} {len(data):>9,} {status:>6} {took:>9.2f} {slowest:>13.3f} {count:>6}")
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
