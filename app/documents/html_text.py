"""The visible text and the <title> of an HTML document, in one pass over the markup.

This is a small tokenizer after the HTML standard's (tags, comments, declarations, raw
text elements such as <script>, character references), written so that every scan starts
where the previous one stopped: the time is linear in the markup, whatever it holds.
The standard library's html.parser is not used because, before Python 3.13.4 (and the
matching security releases), it rescans the rest of the input for every `<` of an
unfinished construct, so `<a<a<a...` takes time quadratic in its length.

Where the markup is broken, the standard's rules for the end of input are followed: an
unfinished tag is dropped (as a browser shows nothing for it), an unclosed comment or
<script> runs to the end.
"""
from __future__ import annotations

import html
import re
import string

# Elements whose content is not shown, however deeply nested.
SKIP = {"template", "head", "svg", "math", "object"}
# Elements whose content is raw text up to their end tag (no tags inside), and is not shown.
RAW_HIDDEN = {"script", "style", "noscript", "iframe", "xmp", "noembed", "noframes"}
# Raw text that is shown (entities decoded): <textarea>; <title> becomes the title.
RAW_SHOWN = {"textarea", "title"}
BLOCK = {"p", "div", "br", "li", "ul", "ol", "tr", "table", "section", "article", "header",
         "footer", "nav", "aside", "main", "h1", "h2", "h3", "h4", "h5", "h6", "pre",
         "blockquote", "hr", "dt", "dd", "dl", "figure", "figcaption", "form", "address"}
CELL = {"td", "th"}

_ASCII_LETTERS = set(string.ascii_letters)
# What can start markup: anything else after "<" is text.
_MARKUP_START = re.compile(r"<[A-Za-z!?/]")
# A start or end tag: its name, then attributes up to the closing ">", a ">" inside a
# quoted value (after "=") not counting. Every quantifier is possessive, so a tag that
# never closes is scanned once to the end of the input, never again from another point.
_TAG = re.compile(r"""<(/?)([A-Za-z][^\t\n\f\r />]*+)"""
                  r"""(?:[^>=]++|=[\t\n\f\r ]*+(?:"[^"]*+"|'[^']*+'|(?!["'])))*+>""")
_COMMENT_END = re.compile(r"--!?>")
# A numeric character reference of 9 digits or more: html.unescape would turn its digits
# into an int, which Python refuses beyond 4,300 decimal digits (ValueError).
_LONG_NUMBER_REF = re.compile(r"&#(?:([xX])([0-9a-fA-F]{9,})|([0-9]{9,}));?")
_raw_end_cache: dict[str, re.Pattern] = {}


def _raw_end(name: str) -> re.Pattern:
    """`</name` followed by a character that ends a tag name, in any case."""
    if name not in _raw_end_cache:
        _raw_end_cache[name] = re.compile(r"</" + re.escape(name) + r"(?=[\t\n\f\r />])",
                                          re.IGNORECASE)
    return _raw_end_cache[name]


def _short_number_ref(m: re.Match) -> str:
    hexadecimal = m.group(1) is not None
    digits = (m.group(2) if hexadecimal else m.group(3)).lstrip("0") or "0"
    if len(digits) > (6 if hexadecimal else 7):
        return "\ufffd"  # beyond U+10FFFF, which the standard replaces so
    return "&#" + (m.group(1) or "") + digits + ";"


def unescape(text: str) -> str:
    """html.unescape, for references of any length."""
    if "&" not in text:
        return text
    return html.unescape(_LONG_NUMBER_REF.sub(_short_number_ref, text))


def html_to_text(markup: str) -> tuple[str, str]:
    """(visible text, title text) of an HTML document, both untidied: block elements on
    lines of their own, table cells separated by spaces, character references decoded."""
    parts: list[str] = []
    title_parts: list[str] = []
    skip = 0  # depth inside SKIP elements
    n = len(markup)
    i = 0
    while i < n:
        start = _MARKUP_START.search(markup, i)
        lt = start.start() if start else n
        if lt > i and not skip:
            parts.append(unescape(markup[i:lt]))
        if lt >= n:
            break
        nxt = markup[lt + 1]
        if nxt == "!":
            if markup.startswith("<!--", lt):
                if markup.startswith(("<!-->", "<!--->"), lt):  # empty comments
                    i = markup.index(">", lt + 4) + 1
                    continue
                end = _COMMENT_END.search(markup, lt + 4)
                i = end.end() if end else n
            else:  # <!DOCTYPE ...>, <![CDATA[...]]> and bogus declarations: to the next >
                end = markup.find(">", lt + 2)
                i = end + 1 if end >= 0 else n
            continue
        if nxt == "?" or (nxt == "/" and markup[lt + 2:lt + 3] not in _ASCII_LETTERS):
            # A processing instruction, or </ and no letter: a bogus comment to the next >
            # ("</>" is nothing; "</" at the end is text).
            if lt + 2 >= n:
                if nxt == "/" and not skip:
                    parts.append("</")
                break
            end = markup.find(">", lt + 2)
            i = end + 1 if end >= 0 else n
            continue
        tag = _TAG.match(markup, lt)
        if tag is None:
            break  # the input ends inside a tag: the tag is dropped
        closing, name = tag.group(1), tag.group(2).lower()
        i = tag.end()
        if closing:
            if name in SKIP and skip:
                skip -= 1
            if name in BLOCK:
                parts.append("\n")
            continue
        if name in BLOCK:
            parts.append("\n")
        elif name in CELL:
            parts.append(" ")
        if name in SKIP:
            if markup[i - 2] != "/":  # <svg/> has no content to skip
                skip += 1
        elif name in RAW_HIDDEN or name in RAW_SHOWN:
            close = _raw_end(name).search(markup, i)
            content = markup[i:close.start() if close else n]
            if name == "title":
                title_parts.append(unescape(content))
            elif name == "textarea" and not skip:
                parts.append(unescape(content))
            if close is None:
                break
            end = _TAG.match(markup, close.start())
            if end is None:
                break
            i = end.end()
    return "".join(parts), "".join(title_parts)
