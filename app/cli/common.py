"""What the CLI commands share: a database connection and one-line failures."""
from __future__ import annotations

import os

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


def private_new_file(path: str, what: str = "a new file"):
    """`path` opened for writing as UTF-8 text, created 0600 (it holds secrets or
    addresses); a ClickException when it exists (never overwritten) or cannot be made."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise click.ClickException(f"{path} exists: name {what}") from None
    except OSError as e:
        raise click.ClickException(f"cannot create {path}: {e.strerror}") from None
    return os.fdopen(fd, "w", encoding="utf-8", newline="")
