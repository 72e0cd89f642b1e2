"""What the CLI commands share: a database connection and one-line failures."""
from __future__ import annotations

import click
from flask import current_app

from ..errors import ServiceError


def fail(e: ServiceError):
    """Raise a ClickException whose one line says what was refused."""
    detail = "; ".join(f"{k}: {v}" for k, v in e.fields.items()) if e.fields else e.message
    raise click.ClickException(detail)


def db_session():
    """A database connection for the length of a command."""
    return current_app.extensions["keystead.db"].connection_context()
