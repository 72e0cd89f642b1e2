"""Administration pages: /admin/people and /admin/groups (SPEC 5)."""
from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")
