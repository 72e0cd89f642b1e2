"""The `keystead` command: thin click wrappers over the service functions.

`keystead init` prepares the instance folder and the Bootstrap administrator, `keystead
serve` runs gunicorn, `keystead users ...` manages people, `keystead doctor` checks an
instance, `keystead settings` shows the effective settings (secrets hidden). Bad input ends
with one line on stderr and a non-zero exit.

The command is a plain click group of Keystead's own commands, not Flask's FlaskGroup:
that one adds --env-file, --app and --debug, and every installed `flask.commands` plugin
(Flask-Limiter's `limiter`, which does not work here). The same commands are added to
`app.cli` for app.test_cli_runner().
"""
from __future__ import annotations

import os
import sys

import click
from flask import Flask, current_app
from flask.cli import ScriptInfo, with_appcontext

from .. import __version__
from .apps import apps
from .common import db_session
from .doctor import doctor_command
from .groups import groups
from .invitations import invitations
from .keys import keys
from .mail import mail
from .settings import settings_command
from .users import users


def _create_app_for_cli():
    from .. import create_app
    from ..config import exit_on_config_error
    with exit_on_config_error():
        return create_app()


class KeysteadGroup(click.Group):
    """Keystead's commands; those that need the app build it from the instance folder's
    settings when they run (flask.cli.with_appcontext), so `--help` never builds it."""

    def make_context(self, info_name, args, parent=None, **extra):
        extra.setdefault("obj", ScriptInfo(create_app=_create_app_for_cli, set_debug_flag=False,
                                           load_dotenv_defaults=False))
        return super().make_context(info_name, args, parent=parent, **extra)


@click.group(cls=KeysteadGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="keystead", message="%(prog)s %(version)s")
def main():
    """Keystead: authentication and user management."""


def _commands():
    return [init_command, serve_command, users, groups, apps, invitations, providers_command, doctor_command, mail,
            settings_command, keys]


def init_app(app: Flask) -> None:
    # Flask-Limiter's `limiter` group is registered as a flask.commands plugin and, with
    # some versions, on app.cli itself: it is no Keystead command (and fails here).
    # `doctor` is left out: it reads the instance folder without building an app.
    app.cli.commands.pop("limiter", None)
    for command in _commands():
        if command is not doctor_command:
            app.cli.add_command(command)


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
    from ..doctor import public_url_problem, split_bind
    served = split_bind(bind)
    if served is not None and (taken := _address_taken(*served)):
        raise click.ClickException(
            f"cannot serve at {bind}: {taken}. Stop the program using it, or choose another "
            f"port (make serve PORT={served[1] + 1}, or keystead serve --bind {served[0]}:{served[1] + 1})")
    problem = public_url_problem(current_app.extensions["keystead.settings"]["Server.PublicURL"], bind)
    if problem:
        click.echo(f"warning: {problem}", err=True)
    env = dict(os.environ, KEYSTEAD_INSTANCE=current_app.instance_path)
    gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
    args = [gunicorn, "--config", "python:keystead.serving", "--bind", bind,
            "--workers", str(workers), "keystead.wsgi:app"]
    click.echo(f"Serving Keystead on http://{bind}")
    os.execve(gunicorn, args, env)


def _address_taken(host: str, port: int) -> str | None:
    """Why gunicorn could not listen at host:port (the port in use, the address not this
    machine's), or None when it can; said before gunicorn starts, which would only retry."""
    import errno
    import socket
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds
        try:
            probe.bind((host, port))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                return f"port {port} is already in use"
            return e.strerror or str(e)
    return None


@click.command("providers")
@with_appcontext
def providers_command():
    """List installed provider plugins, which are active (and why one is not available),
    and the hooks of each plugin, by plugin name."""
    from ..plugins import provider_infos
    pm = current_app.extensions["keystead"]
    active = current_app.extensions["keystead.settings"].providers
    infos = provider_infos(pm)
    for name, info in sorted(infos.items()):
        state = "active" if name in active else ("available" if info.available else "not available")
        line = f"{name:12} {state:14} {info.title}"
        if not info.available and info.unavailable_reason:
            line += f" ({info.unavailable_reason})"
        click.echo(line)
    click.echo("")
    plugins = sorted(pm.get_plugins(), key=lambda plugin: pm.get_name(plugin) or "")
    for plugin in plugins:
        hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or [])
        click.echo(f"{pm.get_name(plugin)}: {', '.join(hooks)}")


for _command in _commands():
    main.add_command(_command)


