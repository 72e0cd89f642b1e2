"""`keystead doctor`: check an instance, one line per check (app/doctor.py)."""
from __future__ import annotations

import click


@click.command("doctor")
@click.option("--bind", "-b", help="The address `keystead serve --bind` serves at (HOST:PORT), "
              "to compare with Server.PublicURL.")
@click.option("--url", help="The address Keystead is reached at (http://HOST:PORT), to compare "
              "with Server.PublicURL.")
@click.option("--mail", "connect_mail", is_flag=True, help="Connect to the SMTP server (NOOP).")
def doctor_command(bind, url, connect_mail):
    """Check the configuration, database, migrations, mail, rate-limit storage, file
    permissions of the instance folder and Server.PublicURL. Reads the instance without
    changing it; exits 1 when a check fails."""
    from ..config import ConfigError, default_instance_path
    from ..doctor import FAIL, run_checks
    try:
        instance_path = default_instance_path()
    except ConfigError as e:
        raise click.ClickException(str(e)) from None
    failed = 0
    for check in run_checks(instance_path, served_at=bind or url, connect_mail=connect_mail):
        click.echo(check.line())
        failed += check.status == FAIL
    if failed:
        raise click.ClickException(f"{failed} check{'s' if failed != 1 else ''} failed")
