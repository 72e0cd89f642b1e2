"""Custom fields in the people CSV files (`keystead users import` and `export`): one column
per declared field, named `field:<name>` (so a field never clashes with a built-in column);
cells are the values as typed in a form (bool: true/false; date: YYYY-MM-DD; empty: none).

Cells are quoted against spreadsheet formulas by app/spreadsheet.py (and unquoted on
import), so an export imports back unchanged and opening it in a spreadsheet runs nothing."""
from __future__ import annotations

from ..spreadsheet import quote_cell, unquote_cell
from .declarations import declared_fields
from .values import as_text, parse_text

PREFIX = "field:"


def field_columns() -> list[str]:
    """The column of each declared field, in declaration order."""
    return [PREFIX + f.name for f in declared_fields()]


def row_fields(row: dict) -> dict:
    """{name: value} from the field columns of one CSV row (empty cells are left out)."""
    out = {}
    for field in declared_fields():
        cell = row.get(PREFIX + field.name)
        if cell not in (None, ""):
            out[field.name] = parse_text(field, unquote_cell(cell).strip())
    return out


def column_of(problem_name: str) -> str:
    """The CSV column a service problem (`fields.team`) is about (`field:team`)."""
    return PREFIX + problem_name.removeprefix("fields.") if problem_name.startswith("fields.") else problem_name


def field_cells(user) -> list[str]:
    """The field cells of `user`'s row, in field_columns() order."""
    stored = user.fields or {}
    return [quote_cell(as_text(stored.get(f.name))) for f in declared_fields()]
