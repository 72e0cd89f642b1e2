"""`keystead keys ...`: the OpenID Provider's signing keys (app/openid_provider/keys.py)."""
from __future__ import annotations

from datetime import datetime, timezone

import click
from flask.cli import with_appcontext

from .common import db_session


def _when(epoch) -> str:
    if epoch is None:
        return "-"
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


@click.group()
def keys():
    """The keys that sign ID tokens for apps (OpenID Connect)."""


@keys.command("list")
@with_appcontext
def keys_list():
    """List the signing keys: current ones sign, retired ones stay in the JWKS until the
    ID tokens they signed have expired."""
    from ..openid_provider.keys import ensure_keys, list_keys
    with db_session():
        ensure_keys()
        rows = list_keys()
    click.echo(f"{'KEY ID':34} {'ALG':6} {'STATE':8} {'CREATED':21} LEAVES THE JWKS")
    for k in rows:
        click.echo(f"{k['kid']:34} {k['alg']:6} {k['state']:8} {_when(k['created_at']):21} {_when(k['dropped_at'])}")


@keys.command("rotate")
@with_appcontext
def keys_rotate():
    """Make new signing keys (RS256 and ES256); the old ones stop signing and stay in the
    JWKS until the ID tokens they signed have expired."""
    from ..openid_provider.keys import rotate
    with db_session():
        made = rotate()
    for k in made:
        click.echo(f"New {k.alg} signing key {k.kid}.")
    click.echo("The previous keys no longer sign; they stay in the JWKS until their ID tokens expire.")
