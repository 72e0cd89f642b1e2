"""`keystead mail test ADDRESS`: send a test message through the Email settings."""
from __future__ import annotations

import click
from flask.cli import with_appcontext


@click.group()
def mail():
    """Check the Email settings."""


@mail.command("test")
@click.argument("address")
@with_appcontext
def mail_test(address):
    """Send a test message to ADDRESS; says it went out, or the SMTP server's error."""
    from ..accounts.rules import clean_email
    from ..mail import MailNotSent, send_test_mail
    try:
        address = clean_email(address)
    except ValueError as e:
        raise click.ClickException(f"{address!r}: {e}") from None
    try:
        send_test_mail(address)
    except MailNotSent as e:
        raise click.ClickException(f"the test message to {address} was not sent: {e}") from None
    click.echo(f"Sent a test message to {address}.")
