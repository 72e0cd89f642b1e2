"""Apps: the things Keystead signs people into (issue "sign in once").

An app has a name, an icon, a launch URL, who may use it (everyone signed in, or listed
groups and people), and one or both ways in: an OpenID Connect client (app/openid_provider)
and forward-auth hosts that a reverse proxy asks Keystead about (app/apps/forward_auth.py).
The models are in app/apps/models.py.
"""
