"""How gunicorn serves Keystead: one set of settings for a plain `gunicorn wsgi:app` (the
project folder's gunicorn.conf.py takes them from here) and for `keystead serve` (which
gives gunicorn `-c python:keystead.serving`).

- The access log goes to stdout, written by RedactingLogger: link tokens
  (`/reset-password/<token>` and the like) are replaced before a line is written, since
  whoever reads the log could otherwise use the link.
- The configuration is checked once in the master before any worker starts
  (check_configuration): an invalid setting prints its one line once and gunicorn exits
  with status 4, instead of booting workers that fail one after another.

Only the names gunicorn knows are read from this module as settings; command-line options
override them.
"""
from __future__ import annotations

from urllib.parse import unquote

from gunicorn.glogging import Logger, SafeAtoms

from .links import redact_link_tokens

# gunicorn's status for "the application failed to load": its master stops instead of
# starting new workers (a worker exiting with most other statuses is replaced, endlessly).
APP_LOAD_ERROR = 4


class RedactedAtoms(SafeAtoms):
    """The values an access-log line is formatted from, each with its link tokens replaced
    as the format reads it (request line, path, Referer, any header or environ value)."""

    def __getitem__(self, name):
        value = super().__getitem__(name)
        return _redacted(value) if isinstance(value, str) else value


class RedactingLogger(Logger):
    """gunicorn's logger, writing access-log lines without link tokens."""

    atoms_wrapper_class = RedactedAtoms


def _redacted(value: str) -> str:
    cleaned = redact_link_tokens(value)
    # A client may percent-encode the path (/reset-password%2F<token> reaches the same
    # page): such a value is logged decoded, with its token replaced.
    decoded = unquote(value)
    if decoded != value:
        decoded_clean = redact_link_tokens(decoded)
        if decoded_clean != decoded:
            return decoded_clean
    return cleaned


def check_configuration(server=None) -> None:
    """gunicorn's on_starting hook (in the master): build the app once, as every worker
    will; on a configuration error print its one line and exit with APP_LOAD_ERROR (status
    1 when the database could not be opened, which may pass: a service manager may start
    it again). The app is then dropped (each worker builds its own), its database
    connections closed so that no worker inherits one."""
    from . import create_app
    from .config import exit_on_config_error
    with exit_on_config_error(status=APP_LOAD_ERROR, unavailable_status=1):
        app = create_app()
    db = app.extensions["keystead.db"]
    if hasattr(db, "close_all"):
        db.close_all()
    elif not db.is_closed():
        db.close()


# ---------------------------------------------------------------- gunicorn settings

accesslog = "-"
logger_class = RedactingLogger
on_starting = check_configuration
# gunicorn 25.1 and later open a control socket at one fixed path per Unix user
# ($HOME/.gunicorn/gunicorn.ctl) that accepts "shutdown" and "worker kill": two Keystead
# instances of one user would share it, each start taking it over from the other. Keystead
# needs none of it (signals to the master do the same), so it stays closed.
control_socket_disable = True
