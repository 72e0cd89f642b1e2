"""`gunicorn wsgi:app` from the project folder: the same app as `keystead.wsgi:app`."""
from keystead.wsgi import app  # noqa: F401
