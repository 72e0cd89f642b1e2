"""A PDF's text, extracted by pypdf in a child process that is killed when it runs too long.

A small PDF can keep pypdf busy for minutes (a thousand pages drawing one heavy content
stream, forms nested in forms, streams that inflate a thousandfold), and pypdf cannot be
interrupted. So the extraction runs in a fresh Python process, `python -P <this file>`,
which gets the PDF on stdin and answers one JSON object on stdout, and is bounded by:

- pages: a PDF with more than `max_pages` pages is refused before any text is read;
- characters: extraction stops, and the PDF is refused, once the text passes `max_chars`;
- wall-clock time: the child is killed after `seconds` (and limited to as much CPU time);
- memory: the child's address space is limited to MEMORY_BYTES.

This file imports only the standard library and pypdf (never the app), so the child
starts in a fraction of a second; it runs only for PDFs.
"""
from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys

MEMORY_BYTES = 1 << 30

# Why a PDF's text was not had (the `refused` field of the child's answer).
ENCRYPTED = "encrypted"
DAMAGED = "damaged"
TOO_MANY_PAGES = "too_many_pages"
TOO_MUCH_TEXT = "too_much_text"
TOO_SLOW = "too_slow"
TOO_BIG_IN_MEMORY = "too_big_in_memory"


class PdfRefused(Exception):
    """The text of a PDF cannot be had: `reason` is one of the names above, `pages` the
    page count when known, `detail` a line for the log."""

    def __init__(self, reason: str, *, pages: int | None = None, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason, self.pages, self.detail = reason, pages, detail


def extract(data: bytes, *, max_pages: int, max_chars: int, seconds: int) -> tuple[str, str | None]:
    """(text, title) of a PDF, pages separated by blank lines, or PdfRefused. Never takes
    much longer than `seconds`: the child is killed then."""
    command = [sys.executable, "-P", os.path.abspath(__file__),
               str(max_pages), str(max_chars), str(seconds)]
    try:
        child = subprocess.run(command, input=data, capture_output=True, timeout=seconds)
    except subprocess.TimeoutExpired:  # run() has killed and reaped the child
        raise PdfRefused(TOO_SLOW, detail=f"killed after {seconds}s") from None
    if child.returncode != 0:
        last = (child.stderr.decode("utf-8", "replace").strip().splitlines() or [""])[-1]
        detail = f"exit {child.returncode} {last}".strip()
        if child.returncode == -signal.SIGXCPU:
            raise PdfRefused(TOO_SLOW, detail=detail)
        if child.returncode == -signal.SIGKILL or "MemoryError" in last:
            raise PdfRefused(TOO_BIG_IN_MEMORY, detail=detail)
        raise RuntimeError(f"PDF text extraction failed: {detail}")  # our fault: a 500
    try:
        answer = json.loads(child.stdout)
    except ValueError:
        raise RuntimeError(f"PDF text extraction answered {child.stdout[:100]!r}") from None
    if "refused" in answer:
        raise PdfRefused(answer["refused"], pages=answer.get("pages"), detail=answer.get("detail", ""))
    return answer["text"], answer.get("title")


# ---------------------------------------------------------------- in the child

def _limit_resources(seconds: int) -> None:
    try:
        import resource
    except ImportError:  # not on this platform: the parent's timeout still holds
        return
    for limit, value in ((resource.RLIMIT_CPU, seconds + 1), (resource.RLIMIT_AS, MEMORY_BYTES)):
        try:
            soft, hard = resource.getrlimit(limit)
            if hard != resource.RLIM_INFINITY:
                value = min(value, hard)
            resource.setrlimit(limit, (value, hard))
        except (ValueError, OSError):
            pass


def _identity(value, depth: int = 0):
    """A hashable stand-in for a PDF object as written: equal for the same indirect object
    or for equal direct objects (None when too deeply nested to say)."""
    from pypdf.generic import IndirectObject

    if isinstance(value, IndirectObject):
        return ("ref", value.idnum, value.generation)
    if depth > 6:
        return None
    if isinstance(value, dict):
        items = [(str(k), _identity(v, depth + 1)) for k, v in value.items()]
        return None if any(v is None for _, v in items) else ("dict", tuple(sorted(items)))
    if isinstance(value, list):
        items = [_identity(v, depth + 1) for v in value]
        return None if any(v is None for v in items) else ("list", tuple(items))
    return (type(value).__name__, repr(value))


def _page_key(page):
    """Pages that draw the same content stream with the same resources have the same text:
    a key saying which ones do, or None (extract the page on its own)."""
    from pypdf.generic import IndirectObject

    contents = dict.get(page, "/Contents")
    if not isinstance(contents, IndirectObject):
        return None
    resources = _identity(dict.get(page, "/Resources"))
    return None if resources is None else (contents.idnum, contents.generation, resources)


def _clean(text: str) -> str:
    return text.encode("utf-8", "replace").decode("utf-8")  # no lone surrogates in JSON


def read_pdf(data: bytes, max_pages: int, max_chars: int) -> dict:
    """What the child answers: {"text", "title"} or {"refused", "pages"?, "detail"?}."""
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            # Many PDFs are "encrypted" with an empty user password only to set permissions.
            try:
                if not reader.decrypt(""):
                    return {"refused": ENCRYPTED}
            except (FileNotDecryptedError, DependencyError, NotImplementedError):
                return {"refused": ENCRYPTED}
        count = len(reader.pages)
        if count > max_pages:
            return {"refused": TOO_MANY_PAGES, "pages": count}
        texts: list[str] = []
        seen: dict = {}  # page key -> text
        length = 0
        for page in reader.pages:
            key = _page_key(page)
            text = seen.get(key) if key else None
            if text is None:
                text = page.extract_text() or ""
                if key:
                    seen[key] = text
            length += len(text)
            if length > max_chars:
                return {"refused": TOO_MUCH_TEXT, "pages": count}
            texts.append(text)
        try:
            meta = reader.metadata
            title = str(meta.title) if meta and meta.title else None
        except Exception:  # metadata is optional; a broken info dictionary must not matter
            title = None
    except MemoryError:
        return {"refused": TOO_BIG_IN_MEMORY}
    except Exception as e:  # pypdf raises many kinds on damaged files
        return {"refused": DAMAGED, "detail": f"{type(e).__name__}: {e}"[:300]}
    return {"text": _clean("\n\n".join(texts)), "title": _clean(title) if title else None}


def main(argv: list[str]) -> None:
    max_pages, max_chars, seconds = (int(a) for a in argv[1:4])
    _limit_resources(seconds)
    import logging
    logging.disable(logging.WARNING)  # pypdf's warnings about damaged files are not news
    answer = read_pdf(sys.stdin.buffer.read(), max_pages, max_chars)
    sys.stdout.buffer.write(json.dumps(answer, ensure_ascii=False).encode("utf-8"))


if __name__ == "__main__":
    main(sys.argv)
