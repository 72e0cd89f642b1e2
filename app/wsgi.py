"""What gunicorn, waitress or mod_wsgi load, `keystead.wsgi:app`: `app = create_app()`.

A configuration error prints its one line and exits with status 4, which gunicorn takes as
"the application failed to load" and stops on (after most other statuses it starts the
next worker, and the next, forever). A database that cannot be opened exits with status 1
instead: that may pass, and one worker restarting while, say, a backup holds SQLite's lock
must not stop the whole server; gunicorn.conf.py refuses start-up on it once, in the
master."""
from . import create_app
from .config import exit_on_config_error

with exit_on_config_error(status=4, unavailable_status=1):
    app = create_app()
