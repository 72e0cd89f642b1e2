"""gunicorn reads this file from the folder it is started in: `gunicorn wsgi:app` from the
project folder gets Keystead's settings (an access log without link tokens, the
configuration checked once before the workers start). They live in keystead.serving
(app/serving.py), which `keystead serve` uses too."""
from keystead.serving import accesslog, control_socket_disable, logger_class, on_starting  # noqa: F401
