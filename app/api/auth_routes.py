from flask import Blueprint

bp = Blueprint("api_auth_routes", __name__)

# OpenAPI path items for the routes of this module, merged by app/api/openapi.py.
OPENAPI_PATHS: dict = {}
