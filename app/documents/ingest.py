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

HTML keeps only its text (scripts, styles and markup dropped, entities decoded);
PDF text is extracted with pypdf. A PDF that pypdf cannot read, an encrypted one and
one with no text (a scan) are refused with 422 and say why.
"""
from __future__ import annotations

import io
import logging
import os
import re
from dataclasses import dataclass
from html.parser import HTMLParser

from ..errors import ServiceError, ValidationFailed
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
_MARKDOWN_LINE = re.compile(r"^(?:#{1,6}\s+\S|```|\s{0,3}[-*+]\s+\S.*|\s{0,3}\d+\.\s+\S.*|>\s+\S)"
                            r"|\[[^\]\n]+\]\([^)\s]+\)", re.MULTILINE)
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


# ---------------------------------------------------------------- HTML

class _TextExtractor(HTMLParser):
    """The visible text of an HTML document, with block elements on lines of their own,
    and its <title>."""
    SKIP = {"script", "style", "template", "noscript", "head", "svg", "math", "iframe", "object"}
    BLOCK = {"p", "div", "br", "li", "ul", "ol", "tr", "table", "section", "article", "header",
             "footer", "nav", "aside", "main", "h1", "h2", "h3", "h4", "h5", "h6", "pre",
             "blockquote", "hr", "dt", "dd", "dl", "figure", "figcaption", "form", "address"}
    VOID = {"br", "hr", "img", "input", "meta", "link", "area", "base", "col", "embed", "source",
            "track", "wbr", "param"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title_parts: list[str] = []
        self._skip = 0
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        if tag == "title":
            self._in_title = True
        elif tag in self.SKIP and tag not in self.VOID:
            self._skip += 1
        if tag in self.BLOCK or tag in ("td", "th"):
            self.parts.append("\n" if tag in self.BLOCK else " ")

    def handle_startendtag(self, tag, attrs):
        if tag in self.BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False
        elif tag in self.SKIP and self._skip:
            self._skip -= 1
        if tag in self.BLOCK:
            self.parts.append("\n")

    def handle_data(self, data):
        if self._in_title:
            self.title_parts.append(data)
        elif not self._skip:
            self.parts.append(data)


def html_to_text(markup: str) -> tuple[str, str | None]:
    """(text, title) of an HTML document."""
    parser = _TextExtractor()
    parser.feed(markup)
    parser.close()
    return _tidy("".join(parser.parts)), (_one_line("".join(parser.title_parts)) or None)


# ---------------------------------------------------------------- PDF

def pdf_to_text(data: bytes, max_chars: int) -> tuple[str, str | None]:
    """(text, title) of a PDF, or UnreadableDocument saying why not."""
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            # Many PDFs are "encrypted" with an empty user password only to set permissions.
            try:
                if not reader.decrypt(""):
                    raise FileNotDecryptedError("needs a password")
            except (FileNotDecryptedError, DependencyError, NotImplementedError):
                raise UnreadableDocument("The PDF is encrypted with a password; upload an "
                                         "unprotected copy. Nothing was stored.",
                                         code="encrypted_pdf") from None
        pages = []
        length = 0
        for page in reader.pages:
            chunk = page.extract_text() or ""
            pages.append(chunk)
            length += len(chunk)
            if length >= max_chars:
                break
        title = None
        try:
            meta = reader.metadata
            title = _one_line(str(meta.title)) if meta and meta.title else None
        except Exception:  # metadata is optional; a broken info dictionary must not matter
            title = None
    except UnreadableDocument:
        raise
    except (PdfReadError, Exception) as e:  # pypdf raises many kinds on damaged files
        log.info("refused an unreadable PDF: %s: %s", type(e).__name__, e)
        raise UnreadableDocument("The PDF is damaged and its text cannot be read. Nothing was "
                                 "stored.", code="invalid_pdf") from None
    text = _tidy("\n\n".join(pages))[:max_chars]
    if not text.strip():
        raise UnreadableDocument("The PDF has no text to extract (a scanned image?). Nothing "
                                 "was stored.", code="no_text")
    return text, title


# ---------------------------------------------------------------- the whole step

def _tidy(text: str) -> str:
    """Clean text for storage: no NULs, no highlight markers, no lone surrogates, no
    runs of blank lines, no trailing spaces."""
    text = text.replace("\x00", "").replace(MARK_START, "").replace(MARK_END, "")
    text = text.encode("utf-8", "replace").decode("utf-8")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = re.sub(r"[ \t\f\v]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
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


def ingest(data: bytes, *, max_bytes: int, filename: str | None = None,
           declared_type: str | None = None, title: str | None = None) -> Ingested:
    """Decide what `data` is and extract its text, or raise the ServiceError that says why
    it cannot be stored. `filename` and `declared_type` are only what the client claims."""
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
        text, doc_title = pdf_to_text(data, max_chars=max_bytes)
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
