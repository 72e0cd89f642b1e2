"""`keystead settings`: the effective settings and where each came from, secrets hidden
(the same report as /admin/settings and GET /api/v1/settings)."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext


@click.command("settings")
@click.option("--toml", "as_toml", is_flag=True,
              help="Print a keystead.toml of the settings that differ from the defaults instead.")
@with_appcontext
def settings_command(as_toml):
    """Show every effective setting and its source (default, file, environment); secrets
    are shown as (hidden), as is the password part of any URL."""
    from ..settings_report import effective_settings, settings_toml, toml_value
    settings = current_app.extensions["keystead.settings"]
    if as_toml:
        click.echo(settings_toml(settings), nl=False)
        return
    for row in effective_settings(settings):
        value = row["value"]
        shown = "(not set)" if value is None else toml_value(value)
        click.echo(f"{row['key']} = {shown}  [{row['source']}]")
