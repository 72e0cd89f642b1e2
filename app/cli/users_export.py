"""`keystead users export [FILE]`: everyone as CSV, in the columns `keystead users import`
reads, so an export imports back (passwords are never exported)."""
from __future__ import annotations

import csv
import sys

import click
from flask.cli import with_appcontext

from .common import db_session, private_new_file

EXPORT_COLUMNS = ("username", "email", "first_name", "last_name", "role")
PAGE = 1000


def export_rows():
    """The header, then one row per person (by username), a thousand people per query."""
    from ..models import User
    from ..userfields.csvcolumns import field_cells, field_columns, quote_cell
    yield [*EXPORT_COLUMNS, *field_columns()]
    last = ""
    while True:
        page = list(User.select().where(User.username_key > last).order_by(User.username_key).limit(PAGE))
        for user in page:
            yield [quote_cell(user.username), quote_cell(user.email or ""), quote_cell(user.first_name),
                   quote_cell(user.last_name), user.role, *field_cells(user)]
        if len(page) < PAGE:
            return
        last = page[-1].username_key


@click.command("export")
@click.argument("file", required=False, type=click.Path(dir_okay=False, allow_dash=True))
@with_appcontext
def users_export(file):
    """Write everyone to FILE as CSV (standard output without FILE or with -): username,
    email, first_name, last_name, role and a field:<name> column per custom profile field.
    FILE must not exist; it is made readable by its owner only (it holds addresses).
    `keystead users import FILE` reads it back."""
    if file in (None, "-"):
        out, close = sys.stdout, False
    else:
        out, close = private_new_file(file), True
    count = -1
    try:
        writer = csv.writer(out)
        with db_session():
            for row in export_rows():
                writer.writerow(row)
                count += 1
    finally:
        if close:
            out.close()
    if close:
        click.echo(f"Exported {count} people to {file}.", err=True)
