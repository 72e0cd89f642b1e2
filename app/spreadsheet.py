"""CSV cells that are safe to open in a spreadsheet: a cell that would run as a formula
(starting with = + - @, a tab or a carriage return) gets a leading apostrophe, which
spreadsheets show as text. Every CSV Keystead writes (the audit log, the people export)
quotes every cell that holds anything a person or a client chose; the people import
removes the apostrophe again, so an export imports back unchanged."""
from __future__ import annotations

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def quote_cell(value) -> str:
    """`value` as a CSV cell a spreadsheet shows as text (None: empty)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def unquote_cell(text: str) -> str:
    """The value quote_cell wrote `text` for."""
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_START) else text
