"""`keystead groups ...`: manage groups from the command line."""
from __future__ import annotations

import click


@click.group()
def groups():
    """Manage groups."""
