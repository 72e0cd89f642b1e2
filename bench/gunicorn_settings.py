"""gunicorn settings for the benchmark's servers: none. Every target runs under gunicorn's
defaults (no access log), not the project folder's gunicorn.conf.py, which would add
Keystead's access log and start-up check to Keystead and to the other targets alike."""
