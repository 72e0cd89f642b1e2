"""Issue 12 items 7 and 8: processing an uploaded document is bounded (SPEC 8). Text
clean-up is linear in the input, whatever the input (1 MB adversarial text, Markdown and
HTML are stored correctly); reading a PDF is limited in pages, characters and time, a PDF
over a bound answers 413 or 422 saying which bound, and nothing is stored.

Deadlines: the tests that feed 1 MB adversarial input run inside `deadline(...)`, which
fails the test (instead of hanging it) when the upload has not answered after DEADLINE
seconds. The linear code answers each of them in well under a second on an idle machine;
the quadratic code it replaces needs minutes (80 KB of spaces took 6 s, and the time grows
with the square of the size: 1 MB takes about 15 minutes). A deadline tens of times the
linear time and a hundred times under the quadratic one cannot flake either way.
"""
from __future__ import annotations

import contextlib
import io
import os
import signal
import threading

import pytest

from api_support import API, assert_error, bearer, login
from conftest import AuthActions, csrf_from
from documents_support import document_count, make_many_page_pdf, make_pdf, upload
from pages import error_beside
from servers import ADMIN_PASSWORD, ADMIN_USERNAME, gunicorn_servers  # noqa: F401

MB = 1_000_000
DEADLINE = 20
PAGE_TEXT = "The quick brown fox jumps over the lazy dog again and again\n" * 170  # ~10 KB


class DeadlineExceeded(BaseException):
    """Not an Exception, so that no error handler of the app turns it into a response."""


@contextlib.contextmanager
def deadline(seconds: float):
    def expire(signum, frame):
        raise DeadlineExceeded(f"no answer within {seconds}s: the processing is not bounded")
    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def token(client, users):
    users.create("alice", role="publisher")  # viewers no longer upload (issue 14)
    return login(client, "alice")["access_token"]


def _stored(client, token, response) -> dict:
    assert response.status_code == 201, response.get_data(as_text=True)[:500]
    doc = response.get_json()
    r = client.get(f"{API}/documents/{doc['id']}", headers=bearer(token))
    assert r.status_code == 200
    return r.get_json()


def _upload_within_deadline(client, token, data: bytes, filename: str, **kw):
    with deadline(DEADLINE):
        return upload(client, token, data, filename, **kw)


# ---------------------------------------------------------------- item 7: linear clean-up

SPACES = " " * MB


@pytest.mark.parametrize("filename,data,text", [
    ("spaces.txt", f"a{SPACES}b", f"a{SPACES}b"),
    ("spaces.txt", f"a{SPACES}b{SPACES}\nc", f"a{SPACES}b\nc"),
    ("spaces.md", f"# Spaces\n\na{SPACES}b  \n", f"# Spaces\n\na{SPACES}b"),
    ("spaces.html", f"<p>a{SPACES}b</p>", f"a{SPACES}b"),
    ("tabs.txt", "a" + " \t" * (MB // 2) + "b\t\n\n\n\nc", "a" + " \t" * (MB // 2) + "b\n\nc"),
])
def test_issue12_item7_a_megabyte_run_of_spaces_is_cleaned_up_correctly(client, token, filename,
                                                                         data, text):
    """Issue 12 item 7: trailing spaces are removed in one pass (a run of spaces without a
    newline was rescanned from each of its characters: 80 KB took 6 s)."""
    doc = _stored(client, token, _upload_within_deadline(client, token, data.encode(), filename))
    assert doc["text"] == text


UNFINISHED = 500_000  # repetitions: 1 to 3 MB of markup each


@pytest.mark.parametrize("tail,kept", [
    ("<a" * UNFINISHED, ""),  # one tag that never closes: dropped, as browsers do
    ("<!--" * UNFINISHED, ""),  # an unclosed comment runs to the end
    ("</a" * UNFINISHED, ""),
    ("<!x" * UNFINISHED, ""),
    ("<?" * UNFINISHED, ""),
    ('<a x="' * UNFINISHED, ""),
    ("<a " + "= " * UNFINISHED, ""),
    # html.parser was linear on the three below; they guard the one-pass reader.
    ("<script>" * UNFINISHED, ""),
    ("<" * MB, "<" * MB),  # a "<" that starts nothing is text
    ("<b>x</b>" * (MB // 8), "x" * (MB // 8)),
])
def test_issue12_item7_html_with_a_megabyte_of_adversarial_markup_keeps_its_visible_text(
        client, token, tail, kept):
    """Issue 12 item 7: HTML is read in one pass (html.parser of Python 3.11 rescans the
    rest of the input for each `<` of an unfinished construct: 80 KB of `<a` took 1 s, 1 MB
    takes minutes)."""
    markup = "<!DOCTYPE html><title>Bounds</title><p>Visible words</p><p>" + tail
    doc = _stored(client, token, _upload_within_deadline(client, token, markup.encode(), "page.html"))
    assert (doc["content_type"], doc["title"]) == ("text/html", "Bounds")
    assert doc["text"] == "Visible words" + ("\n\n" + kept if kept else "")


def test_issue12_item7_a_numeric_character_reference_of_any_length_is_decoded(client, token):
    """Issue 12 item 7: `&#` and thousands of digits is one character reference (U+FFFD, as
    for any number beyond U+10FFFF); it made html.unescape raise (a 500)."""
    markup = "<p>big &#" + "1" * 5000 + "; small &#" + "0" * 5000 + "65; end</p>"
    doc = _stored(client, token, upload(client, token, markup.encode(), "refs.html"))
    assert doc["text"] == "big \ufffd small A end"


@pytest.mark.parametrize("body", ["[" * MB, "[a](" * (MB // 4), "[" + "a" * MB + "](" + "b" * MB])
def test_issue12_item7_markdown_with_a_megabyte_of_brackets_is_stored_as_markdown(client, token, body):
    """Issue 12 item 7: recognising Markdown is linear (a link's text stopped nowhere, so
    each `[` of `[[[[...` scanned the rest of the line). The old code looked only at the
    first 20,000 characters, so that cost at most about half a second and these pass on
    it too; they guard the linear pattern should the limit ever go."""
    source = f"# Notes\n\n- first\n- second\n\n{body}"
    doc = _stored(client, token, _upload_within_deadline(client, token, source.encode(), "notes"))
    assert (doc["content_type"], doc["text"]) == ("text/markdown", source)


# ---------------------------------------------------------------- item 8: bounded PDF reading

def _app_for_alice(make_app, users, settings: dict):
    app = make_app(settings)
    users.app = app
    users.create("alice", role="publisher")  # viewers no longer upload (issue 14)
    return app


@pytest.fixture
def small_app(make_app, users):
    """Documents of at most 1 MB (so at most 1 M characters), PDFs of at most 50 pages."""
    return _app_for_alice(make_app, users, {"Documents.MaxBytes": MB, "Documents.PdfMaxPages": 50})


@pytest.fixture
def small(small_app):
    client = small_app.test_client()
    return client, login(client, "alice")["access_token"]


@pytest.fixture
def hasty_app(make_app, users):
    """PDFs read within 1 second."""
    return _app_for_alice(make_app, users, {"Documents.PdfTimeLimit": "1s"})


def test_issue12_item8_a_pdf_of_many_pages_sharing_one_content_stream_is_413(app, client, token):
    """Issue 12 item 8: 1,500 pages drawing one 10 KB content stream (a 240 KB file that
    took 31 s) hold more text than a document may (Documents.MaxBytes, 10 M characters):
    413, and nothing is stored; pages that share their content are read once, so the
    refusal comes at once."""
    pdf = make_many_page_pdf(1500, PAGE_TEXT)
    assert len(pdf) < 300_000
    with deadline(DEADLINE):
        e = assert_error(upload(client, token, pdf, "shared.pdf"), 413, "too_much_text")
    assert "more than 10,485,760 characters" in e["message"] and "Nothing was stored" in e["message"]
    assert document_count(app) == 0


def test_issue12_item8_pages_that_share_their_content_all_keep_their_text(client, token):
    """Issue 12 item 8: reading a shared content stream once changes nothing in the text."""
    doc = _stored(client, token, upload(client, token, make_many_page_pdf(40, "heron census"), "h.pdf"))
    assert doc["text"].split("\n\n") == ["heron census"] * 40


def test_issue12_item8_a_pdf_over_the_page_limit_is_413_at_the_default_of_2000(app, client, token):
    """Issue 12 item 8: Documents.PdfMaxPages (2,000 by default) is checked before any
    text is read."""
    e = assert_error(upload(client, token, make_many_page_pdf(2001, "page"), "long.pdf"), 413,
                     "too_many_pages")
    assert "2,001 pages; at most 2,000" in e["message"] and "Nothing was stored" in e["message"]
    assert document_count(app) == 0


def test_issue12_item8_the_page_limit_is_a_setting(small_app, small):
    """Issue 12 item 8: exactly PdfMaxPages pages are read; one more is 413."""
    client, token = small
    doc = _stored(client, token, upload(client, token, make_pdf([f"page {i}" for i in range(50)]), "50.pdf"))
    assert doc["text"].startswith("page 0\n\npage 1") and doc["text"].endswith("page 49")
    e = assert_error(upload(client, token, make_pdf([f"page {i}" for i in range(51)]), "51.pdf"),
                     413, "too_many_pages")
    assert "51 pages; at most 50 are accepted (Documents.PdfMaxPages)" in e["message"]
    assert document_count(small_app) == 1


def test_issue12_item8_a_pdf_with_more_text_than_a_document_may_hold_is_413(small_app, small):
    """Issue 12 item 8: extraction stops, and the PDF is refused, once its text passes
    Documents.MaxBytes characters (the old code kept the first part, silently)."""
    client, token = small
    doc = _stored(client, token, upload(client, token, make_pdf([PAGE_TEXT * 10] * 2), "fits.pdf"))
    assert doc["text"].count("lazy dog") == 2 * 10 * 170
    e = assert_error(upload(client, token, make_pdf([PAGE_TEXT * 10] * 11), "over.pdf"), 413,
                     "too_much_text")
    assert "more than 1,000,000 characters" in e["message"] and "Documents.MaxBytes" in e["message"]
    assert document_count(small_app) == 1


def _pdf_children() -> list[int]:
    """Processes this test process started to read a PDF and that are still alive."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                command = f.read()
        except (OSError, IndexError, ValueError):
            continue
        if parent == os.getpid() and b"pdf_text.py" in command:
            found.append(int(pid))
    return found


def _slow_pdf() -> bytes:
    """50 pages that each draw one form of 50,000 text moves: many seconds of work for
    pypdf however fast the machine, in a file of 10 KB, and little text (so only the time
    limit stops it)."""
    return make_many_page_pdf(50, form=b"BT /F1 12 Tf (x) Tj " + b"0 0 Td " * 50_000 + b"ET")


def test_issue12_item8_a_pdf_that_takes_too_long_to_read_is_stopped_and_422(hasty_app):
    """Issue 12 item 8: reading a PDF stops after Documents.PdfTimeLimit (here 1 s): the
    process reading it is killed, the upload answers 422 saying so, nothing is stored."""
    client = hasty_app.test_client()
    token = login(client, "alice")["access_token"]
    with deadline(DEADLINE):
        e = assert_error(upload(client, token, _slow_pdf(), "slow.pdf"), 422, "pdf_too_complex")
    assert "took longer than the 1 second allowed (Documents.PdfTimeLimit)" in e["message"]
    assert "Nothing was stored" in e["message"]
    assert _pdf_children() == []
    assert document_count(hasty_app) == 0


def test_issue12_item8_the_page_says_which_bound_a_pdf_passed(small_app):
    """Issue 12 item 8: on /documents the refusal is the message beside the file field."""
    client = small_app.test_client()
    AuthActions(client).login("alice")
    token = csrf_from(client.get("/documents").get_data(as_text=True))
    r = client.post("/documents", content_type="multipart/form-data", data={
        "csrf_token": token, "title": "", "file": (io.BytesIO(make_pdf(["p"] * 51)), "long.pdf")})
    assert r.status_code == 413
    assert "51 pages; at most 50 are accepted" in error_beside(r.get_data(as_text=True), "file")
    assert document_count(small_app) == 0


def test_issue12_item8_under_gunicorn_a_slow_pdf_is_stopped_while_the_server_answers(
        gunicorn_servers, tmp_path):
    """Issue 12 item 8: the real server (one worker, two threads) reads an ordinary PDF,
    stops a slow one at Documents.PdfTimeLimit (here 2 s) with 422, and answers /api/v1/health while
    it is being read."""
    server = gunicorn_servers.start(tmp_path / "instance", {"Documents.PdfTimeLimit": "2s"},
                                    workers=1, threads=2)
    token = server.token(ADMIN_USERNAME, ADMIN_PASSWORD)

    def send(data: bytes, name: str):
        return server.api("POST", "/documents", token,
                          files={"file": (name, data, "application/pdf")})

    r = send(make_pdf(["Minutes of the gannet meeting"]), "minutes.pdf")
    assert r.status_code == 201, r.text
    answers: dict = {}
    uploading = threading.Thread(target=lambda: answers.update(slow=send(_slow_pdf(), "slow.pdf")))
    uploading.start()
    health = []
    while uploading.is_alive():
        health.append(server.api("GET", "/health").status_code)
    uploading.join()
    assert answers["slow"].status_code == 422, answers["slow"].text
    assert answers["slow"].json()["error"]["code"] == "pdf_too_complex"
    assert health and set(health) == {200}
    r = server.api("GET", "/documents", token)
    assert [d["title"] for d in r.json()["results"]] == ["minutes"]
