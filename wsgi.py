"""What gunicorn, waitress or mod_wsgi load: `app = create_app()`."""
from app import create_app
from app.config import exit_on_config_error

with exit_on_config_error():
    app = create_app()
