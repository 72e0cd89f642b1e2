"""The WSGI apps the benchmark serves beside Keystead: `bare` (the limit) and `fst`
(Flask-Security-Too, the peer). Each is loaded by gunicorn as `bench.targets.NAME:app`."""
