"""Turning uploaded bytes into a document's text.

The kind of a file is decided from its bytes, never from its name or the Content-Type
the client sent: `%PDF-` makes a PDF; UTF-8 (or UTF-16 with a byte-order mark) text
whose start looks like markup, by the rules browsers use to sniff HTML, makes HTML; any
other text is plain text, or Markdown when the client called it Markdown or its lines
look like Markdown. Anything else (images, archives, executables, random bytes, text in
an unknown 8-bit encoding) is refused.

What the client claims still matters in one way: a claim of one kind for bytes of
another (a `.pdf` that is text, a `.txt` that is a PDF, a `.png` that is text) is
refused as a mislabelled file (415 `content_mismatch`), because such a file is more
likely a mistake or an attack than what the person meant to store. Text claims are
compatible with each other (HTML and Markdown are text), and `application/octet-stream`
or an unknown extension claims nothing.

HTML keeps only its text (scripts, styles and markup dropped, entities decoded; read
in one pass by app/documents/html_text.py); PDF text is extracted with pypdf in a child
process bounded in pages, characters, time and memory (app/documents/pdf_text.py). A PDF
that pypdf cannot read, an encrypted one, one with no text (a scan) and one that takes
too long are refused with 422, one with too many pages or too much text with 413; each
refusal says why.

All work on text is linear in its length: no regular expression here can try a character
from more than a few starting points (see the comments at each).
"""
from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass

from ..errors import ServiceError, ValidationFailed
from . import html_text, pdf_text
from .models import FILENAME_MAX, TITLE_MAX

log = logging.getLogger("keystead")

TEXT = "text/plain"
MARKDOWN = "text/markdown"
HTML = "text/html"
PDF = "application/pdf"
CONTENT_TYPES = (TEXT, MARKDOWN, HTML, PDF)

# Highlight markers used by search (app/documents/search.py); never allowed in stored text,
# so a document cannot forge a highlight.
MARK_START, MARK_END = "\ue000", "\ue001"


class UnsupportedDocument(ServiceError):
    """Not text, Markdown, HTML or PDF (415)."""
    status = 415
    code = "unsupported_media_type"


class ContentMismatch(ServiceError):
    """The bytes are of another kind than the name or Content-Type claims (415)."""
    status = 415
    code = "content_mismatch"


class UnreadableDocument(ServiceError):
    """The right kind, but its text cannot be had: a broken, encrypted or image-only PDF,
    or an empty file (422)."""
    status = 422
    code = "unreadable_document"


class DocumentTooLarge(ServiceError):
    status = 413
    code = "payload_too_large"


@dataclass(frozen=True)
class Ingested:
    title: str
    filename: str | None
    content_type: str
    size: int
    text: str


# ---------------------------------------------------------------- claims

_EXTENSION_KIND = {
    ".txt": "text", ".text": "text",
    ".md": "markdown", ".markdown": "markdown", ".mdown": "markdown", ".mkd": "markdown",
    ".html": "html", ".htm": "html", ".xhtml": "html",
    ".pdf": "pdf",
}
# Extensions of kinds we do not take: such a name claims "not text, not PDF".
_BINARY_EXTENSIONS = {
    ".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".tif", ".tiff", ".ico", ".svgz",
    ".zip", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar", ".tar", ".jar",
    ".exe", ".dll", ".so", ".dylib", ".bin", ".iso", ".dmg", ".class", ".pyc", ".wasm",
    ".doc", ".docx", ".xls", ".xlsx", ".ppt", ".pptx", ".odt", ".ods", ".odp", ".rtf", ".epub",
    ".mp3", ".wav", ".ogg", ".flac", ".mp4", ".mov", ".avi", ".mkv", ".webm",
    ".sqlite", ".db", ".woff", ".woff2", ".ttf", ".otf",
}
_TYPE_KIND = {
    TEXT: "text", MARKDOWN: "markdown", "text/x-markdown": "markdown",
    HTML: "html", "application/xhtml+xml": "html", PDF: "pdf", "application/x-pdf": "pdf",
}
_NO_CLAIM_TYPES = {"", "application/octet-stream", "binary/octet-stream",
                   "application/unknown", "application/x-unknown"}


def _claim_of_name(filename: str | None) -> str | None:
    if not filename:
        return None
    ext = os.path.splitext(filename)[1].lower()
    if ext in _EXTENSION_KIND:
        return _EXTENSION_KIND[ext]
    if ext in _BINARY_EXTENSIONS:
        return "binary"
    return None


def _claim_of_type(content_type: str | None) -> str | None:
    mimetype = (content_type or "").split(";", 1)[0].strip().lower()
    if mimetype in _NO_CLAIM_TYPES:
        return None
    if mimetype in _TYPE_KIND:
        return _TYPE_KIND[mimetype]
    if mimetype.startswith("text/"):
        return "text"
    return "binary"  # image/png, application/zip, application/msword...


def _claims(filename: str | None, content_type: str | None) -> set[str]:
    return {c for c in (_claim_of_name(filename), _claim_of_type(content_type)) if c}


_CLAIM_WORDS = {"text": "text", "markdown": "Markdown", "html": "HTML", "pdf": "a PDF",
                "binary": "a file of another kind"}


def _refuse_mismatch(claims: set[str], actual: str) -> None:
    """ContentMismatch when a claim contradicts what the bytes are ("text" for any of
    text, Markdown and HTML; "pdf"; "binary" for kinds we do not take)."""
    family = {"text": "text", "markdown": "text", "html": "text", "pdf": "pdf", "binary": "binary"}
    for claim in claims:
        if family[claim] != family[actual]:
            said = _CLAIM_WORDS[claim]
            raise ContentMismatch(f"The file is named or labelled as {said}, but its content is "
                                  f"{_CLAIM_WORDS[actual]}. Nothing was stored.")


# ---------------------------------------------------------------- sniffing

# Most binary formats fail as text by themselves (NULs, bytes that are not UTF-8); these
# are the ones that are plain ASCII at the start yet no document we take.
_BINARY_MAGIC = (b"{\\rtf", b"%!PS-Adobe")

# The WHATWG MIME Sniffing "HTML" patterns: after leading whitespace, one of these tags
# (case-insensitive) followed by a space or ">" (or "!--" for a comment).
_HTML_START = re.compile(
    r"^\s*(?:<!doctype\s+html|<(?:html|head|script|iframe|h1|div|font|table|a|style|title|b|body|br|p)"
    r"(?=[\s>/])|<!--)", re.IGNORECASE)
# Linear: a link's text stops at the next "[" and its target at the next "(", so no two
# tries scan the same characters (else each "[" of "[[[[..." would scan to the end of
# the line).
_MARKDOWN_LINE = re.compile(r"^(?:#{1,6}\s+\S|```|\s{0,3}[-*+]\s+\S.*|\s{0,3}\d+\.\s+\S.*|>\s+\S)"
                            r"|\[[^\[\]\n]+\]\([^()\s]+\)", re.MULTILINE)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def _decode_text(data: bytes) -> str | None:
    """The bytes as text when they are UTF-8 (or UTF-16/32 with a byte-order mark) with
    next to no control characters; None when they are not text."""
    if data.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        encoding = "utf-32"
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16"
    else:
        encoding = "utf-8-sig"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        return None
    if "\x00" in text:
        return None
    controls = len(_CONTROL.findall(text[:65536]))
    if controls > max(2, len(text[:65536]) // 1000):
        return None  # a few stray form feeds or escapes are text; many are binary
    return text


def _looks_binary(data: bytes) -> bool:
    return data.startswith(_BINARY_MAGIC)


def _is_pdf(data: bytes) -> bool:
    # Readers accept the header anywhere in the first 1,024 bytes (PDF 32000-1, annex H).
    return b"%PDF-" in data[:1024]


# ---------------------------------------------------------------- HTML and PDF

def html_to_text(markup: str) -> tuple[str, str | None]:
    """(text, title) of an HTML document."""
    text, title = html_text.html_to_text(markup)
    return _tidy(text), (_one_line(title) or None)


@dataclass(frozen=True)
class PdfLimits:
    """How much of a PDF is read: its pages, the characters of its text, and the seconds
    the extraction may take (Documents.PdfMaxPages, Documents.MaxBytes,
    Documents.PdfTimeLimit)."""
    pages: int
    chars: int
    seconds: int


def pdf_to_text(data: bytes, limits: PdfLimits) -> tuple[str, str | None]:
    """(text, title) of a PDF, or the ServiceError that says why not: UnreadableDocument
    (422) for a damaged, encrypted or image-only PDF or one that takes too long or too
    much memory to read, DocumentTooLarge (413) for too many pages or too much text."""
    try:
        text, title = pdf_text.extract(data, max_pages=limits.pages, max_chars=limits.chars,
                                       seconds=limits.seconds)
    except pdf_text.PdfRefused as e:
        raise _pdf_refusal(e, limits) from None
    text = _tidy(text)
    if not text.strip():
        raise UnreadableDocument("The PDF has no text to extract (a scanned image?). Nothing "
                                 "was stored.", code="no_text")
    return text, (_one_line(title) or None) if title else None


def _pdf_refusal(e: pdf_text.PdfRefused, limits: PdfLimits) -> ServiceError:
    if e.reason == pdf_text.ENCRYPTED:
        return UnreadableDocument("The PDF is encrypted with a password; upload an unprotected "
                                  "copy. Nothing was stored.", code="encrypted_pdf")
    if e.reason == pdf_text.TOO_MANY_PAGES:
        return DocumentTooLarge(f"The PDF has {e.pages:,} pages; at most {limits.pages:,} are "
                                f"accepted (Documents.PdfMaxPages). Nothing was stored.",
                                code="too_many_pages")
    if e.reason == pdf_text.TOO_MUCH_TEXT:
        return DocumentTooLarge(f"The PDF holds more than {limits.chars:,} characters of text, "
                                f"the most a document may hold (Documents.MaxBytes). Nothing "
                                f"was stored.", code="too_much_text")
    if e.reason == pdf_text.TOO_SLOW:
        log.warning("refused a PDF whose text took longer than %ss to extract", limits.seconds)
        seconds = f"{limits.seconds} second" + ("s" if limits.seconds != 1 else "")
        return UnreadableDocument(f"Reading the text of this PDF took longer than the {seconds} "
                                  f"allowed (Documents.PdfTimeLimit), so it was stopped. Nothing "
                                  f"was stored.", code="pdf_too_complex")
    if e.reason == pdf_text.TOO_BIG_IN_MEMORY:
        log.warning("refused a PDF whose text needed too much memory: %s", e.detail)
        return UnreadableDocument("Reading the text of this PDF needed more memory than "
                                  "allowed, so it was stopped. Nothing was stored.",
                                  code="pdf_too_complex")
    log.info("refused an unreadable PDF: %s", e.detail)
    return UnreadableDocument("The PDF is damaged and its text cannot be read. Nothing was "
                              "stored.", code="invalid_pdf")


# ---------------------------------------------------------------- the whole step

# Each run of spaces is tried once, from its first character (the look-behind refuses a
# start inside a run): `[ \t]+\n` alone would rescan the rest of a run from each of its
# characters, quadratic in the run's length.
_TRAILING_SPACE = re.compile(r"(?<![ \t\f\v])[ \t\f\v]+\n")
_BLANK_LINES = re.compile(r"\n{3,}")


def _tidy(text: str) -> str:
    """Clean text for storage: no NULs, no highlight markers, no lone surrogates, no
    runs of blank lines, no trailing spaces."""
    text = text.replace("\x00", "").replace(MARK_START, "").replace(MARK_END, "")
    text = text.encode("utf-8", "replace").decode("utf-8")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _TRAILING_SPACE.sub("\n", text)
    text = _BLANK_LINES.sub("\n\n", text)
    return text.strip()


def _one_line(text: str) -> str:
    return " ".join(_tidy(text).split())[:TITLE_MAX]


def clean_title(title) -> str | None:
    """A title given by the client: None when absent or blank, else one clean line, or
    ValidationFailed."""
    if title is None:
        return None
    if not isinstance(title, str):
        raise ValidationFailed({"title": "Must be a string."})
    if "\x00" in title:
        raise ValidationFailed({"title": "Must not contain NUL characters."})
    if len(title) > TITLE_MAX * 4:
        raise ValidationFailed({"title": f"Use at most {TITLE_MAX} characters."})
    title = " ".join(_tidy(title).split())
    if len(title) > TITLE_MAX:
        raise ValidationFailed({"title": f"Use at most {TITLE_MAX} characters."})
    return title or None


def _clean_filename(filename: str | None) -> str | None:
    if not filename:
        return None
    name = _one_line(os.path.basename(filename.replace("\\", "/")))
    return name[:FILENAME_MAX] or None


def _title_from_text(text: str) -> str | None:
    for line in text.splitlines():
        line = line.strip().lstrip("#").strip()
        if line:
            return _one_line(line)[:120]
    return None


def ingest(data: bytes, *, max_bytes: int, pdf_max_pages: int, pdf_seconds: int,
           filename: str | None = None, declared_type: str | None = None,
           title: str | None = None) -> Ingested:
    """Decide what `data` is and extract its text, or raise the ServiceError that says why
    it cannot be stored. `filename` and `declared_type` are only what the client claims.
    The work is bounded: linear in the size of text, and for a PDF at most `pdf_max_pages`
    pages, `max_bytes` characters and `pdf_seconds` seconds."""
    if len(data) > max_bytes:
        raise DocumentTooLarge(f"The document is larger than the {max_bytes:,} bytes allowed "
                               f"(Documents.MaxBytes). Nothing was stored.")
    if not data.strip():
        raise UnreadableDocument("The document is empty. Nothing was stored.", fields={"file": "Empty."},
                                 code="empty_document")
    title = clean_title(title)
    filename = _clean_filename(filename)
    claims = _claims(filename, declared_type)
    doc_title = None

    if _is_pdf(data):
        _refuse_mismatch(claims, "pdf")
        text, doc_title = pdf_to_text(data, PdfLimits(pages=pdf_max_pages, chars=max_bytes,
                                                      seconds=pdf_seconds))
        content_type = PDF
    else:
        decoded = None if _looks_binary(data) else _decode_text(data)
        if decoded is None:
            _refuse_mismatch(claims, "binary")
            raise UnsupportedDocument("This is not a text, Markdown, HTML or PDF file (text must "
                                      "be UTF-8). Nothing was stored.")
        if "markdown" not in claims and (_HTML_START.match(decoded) or "html" in claims):
            _refuse_mismatch(claims, "html")
            text, doc_title = html_to_text(decoded)
            content_type = HTML
        else:
            _refuse_mismatch(claims, "text")
            text = _tidy(decoded)
            markdown = "markdown" in claims or len(_MARKDOWN_LINE.findall(decoded[:20000])) >= 2
            content_type = MARKDOWN if markdown else TEXT
        if not text.strip():
            raise UnreadableDocument("The document has no text. Nothing was stored.",
                                     code="empty_document")

    stem = os.path.splitext(filename)[0] if filename else None
    final_title = title or doc_title or (stem and _one_line(stem)) or _title_from_text(text) or "Untitled"
    return Ingested(title=final_title[:TITLE_MAX], filename=filename, content_type=content_type,
                    size=len(data), text=text)
