"""The peer: Flask-Security-Too set up the way its documentation's SQLAlchemy quick start
does, for the same workloads as Keystead, on SQLite, with bcrypt at the bench cost.

- POST /login (JSON; `?include_auth_token` returns the token), POST /register (JSON):
  Flask-Security-Too's own views.
- GET /api/me: `auth_required("token")`, the current user as JSON with their roles (the
  counterpart of Keystead's groups), token sent in the Authentication-Token header.
- GET /profile: `auth_required("session")`, a small page about the current user (the
  library has no profile page of its own, so this is a floor for its session path).
- GET /ready: readiness probe.

CSRF follows the library's advice for JSON clients: CSRFProtect on, checked for session
and basic authentication, not for tokens nor the unauthenticated login and sign-up.

Settings from the environment: BENCH_FST_DB (SQLite file), BENCH_BCRYPT_ROUNDS.
`seed()` creates the tables and the accounts the workloads use; the runner calls it
before gunicorn starts, so the workers never race to create the schema.
"""
from __future__ import annotations

import os
import uuid
from datetime import timedelta

from flask import Flask, jsonify, render_template_string
from flask_security import (Security, SQLAlchemyUserDatastore, auth_required, current_user,
                            hash_password)
from flask_security.models import fsqla_v3 as fsqla
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect

ROUNDS = int(os.environ.get("BENCH_BCRYPT_ROUNDS", "12"))
DB_PATH = os.environ.get("BENCH_FST_DB", "/tmp/keystead-bench-fst.db")

db = SQLAlchemy()
fsqla.FsModels.set_db_info(db)


class Role(db.Model, fsqla.FsRoleMixin):
    pass


class User(db.Model, fsqla.FsUserMixin):
    pass


PROFILE = """<!doctype html><html><head><title>Profile</title></head><body>
<h1>{{ user.email }}</h1><dl><dt>Email</dt><dd>{{ user.email }}</dd>
<dt>Roles</dt><dd>{{ user.roles|map(attribute='name')|join(', ') or 'none' }}</dd>
<dt>Active</dt><dd>{{ user.active }}</dd></dl></body></html>"""


def create_app() -> Flask:
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY="bench-fst-secret-key-not-for-production",
        SECURITY_PASSWORD_SALT="bench-fst-password-salt",
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{DB_PATH}",
        SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": False},
        SECURITY_PASSWORD_HASH="bcrypt",
        SECURITY_PASSWORD_HASH_PASSLIB_OPTIONS={"bcrypt__rounds": ROUNDS},
        SECURITY_REGISTERABLE=True,
        SECURITY_SEND_REGISTER_EMAIL=False,
        SECURITY_TOKEN_MAX_AGE=timedelta(minutes=60),  # Keystead's access-token life
        SECURITY_CSRF_PROTECT_MECHANISMS=["session", "basic"],
        SECURITY_CSRF_IGNORE_UNAUTH_ENDPOINTS=True,
        WTF_CSRF_CHECK_DEFAULT=False,
        SECURITY_FLASH_MESSAGES=False,
        # Keystead checks address syntax only; without this the library asks DNS on sign-up.
        SECURITY_EMAIL_VALIDATOR_ARGS={"check_deliverability": False},
    )
    db.init_app(app)
    CSRFProtect(app)
    app.security = Security(app, SQLAlchemyUserDatastore(db, User, Role))

    @app.get("/ready")
    def ready():
        return jsonify(status="ok")

    @app.get("/api/me")
    @auth_required("token")
    def me():
        u = current_user
        return jsonify(id=u.id, username=u.username, email=u.email, active=u.active,
                       roles=[r.name for r in u.roles], created_at=u.create_datetime.isoformat(),
                       confirmed_at=u.confirmed_at and u.confirmed_at.isoformat())

    @app.get("/profile")
    @auth_required("session")
    def profile():
        return render_template_string(PROFILE, user=current_user)

    return app


app = create_app()


def seed(count: int, password: str) -> None:
    """Create the schema and `count` accounts person1..personN@example.com sharing one
    password hash (computed once), in bulk."""
    with app.app_context():
        db.drop_all()
        db.create_all()
        hashed = hash_password(password)
        batch = []
        for i in range(1, count + 1):
            batch.append({"email": f"person{i}@example.com", "password": hashed, "active": True,
                          "fs_uniquifier": uuid.uuid4().hex})
            if len(batch) == 5000:
                db.session.execute(User.__table__.insert(), batch)
                batch = []
        if batch:
            db.session.execute(User.__table__.insert(), batch)
        db.session.commit()
