"""The `keystead` command: thin click wrappers over the service functions.

`keystead init` prepares the instance folder and the Bootstrap administrator, `keystead
serve` runs gunicorn, `keystead users ...` manages people. Bad input ends with one line
on stderr and a non-zero exit.
"""
from __future__ import annotations

import os
import sys

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from .. import __version__
from .common import db_session
from .groups import groups
from .users import users


def _create_app_for_cli():
    from .. import create_app
    from ..config import exit_on_config_error
    with exit_on_config_error():
        return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app_for_cli, add_default_commands=False,
             add_version_option=False, load_dotenv=False, set_debug_flag=False)
@click.version_option(__version__, "--version", prog_name="keystead", message="%(prog)s %(version)s")
def main():
    """Keystead: authentication and user management."""


def init_app(app: Flask) -> None:
    app.cli.add_command(init_command)
    app.cli.add_command(serve_command)
    app.cli.add_command(users)
    app.cli.add_command(groups)
    app.cli.add_command(providers_command)


@click.command("init")
@with_appcontext
def init_command():
    """Create the instance folder, secret key, database and Bootstrap administrator."""
    from ..bootstrap import init_admin
    with db_session():
        user, generated, message = init_admin()
    click.echo(f"Instance folder: {current_app.instance_path}")
    click.echo(message)
    if generated:
        click.echo(f"Username: {user.username}")
        click.echo(f"Password: {generated}")
        click.echo("This password is shown only once: keep it safe and change it after logging in.")


@click.command("serve")
@click.option("--bind", "-b", default="127.0.0.1:8000", show_default=True, help="Address to listen on.")
@click.option("--workers", "-w", default=2, show_default=True, type=click.IntRange(1, 64))
@with_appcontext
def serve_command(bind, workers):
    """Serve with gunicorn (the app is built in each worker from the same settings), with
    the settings a plain `gunicorn wsgi:app` gets from gunicorn.conf.py (keystead.serving:
    an access log on stdout without link tokens). Runs from any folder: gunicorn imports
    the installed package."""
    env = dict(os.environ, KEYSTEAD_INSTANCE=current_app.instance_path)
    gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
    args = [gunicorn, "--config", "python:keystead.serving", "--bind", bind,
            "--workers", str(workers), "keystead.wsgi:app"]
    click.echo(f"Serving Keystead on http://{bind}")
    os.execve(gunicorn, args, env)


@click.command("providers")
@with_appcontext
def providers_command():
    """List installed provider plugins, which are active, and their hooks."""
    from ..plugins import provider_infos
    pm = current_app.extensions["keystead"]
    active = current_app.extensions["keystead.settings"].providers
    infos = provider_infos(pm)
    for name, info in sorted(infos.items()):
        state = "active" if name in active else ("available" if info.available else "not available")
        click.echo(f"{name:12} {state:14} {info.title}")
    click.echo("")
    for plugin in pm.get_plugins():
        hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or [])
        click.echo(f"{pm.get_name(plugin)}: {', '.join(hooks)}")


