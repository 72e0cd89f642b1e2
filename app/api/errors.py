"""The API's one error shape: {"error": {"code", "message", "fields"}}."""
from __future__ import annotations

from flask import jsonify
from werkzeug.exceptions import HTTPException

from ..errors import AccountLocked, ServiceError
from ..ratelimits import send_retry_after, too_many_requests_message

_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
               415: "unsupported_media_type", 422: "validation_failed", 423: "locked",
               429: "too_many_requests", 500: "internal_error", 503: "unavailable"}


def error_response(status: int, code: str, message: str, fields: dict | None = None):
    response = jsonify({"error": {"code": code, "message": message, "fields": fields or {}}})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="keystead"'
    return response


def service_error_response(e: ServiceError):
    response = error_response(e.status, e.code, e.message, e.fields)
    if isinstance(e, AccountLocked):
        send_retry_after(response, e.retry_after)
    return response


def http_error_response(e: HTTPException):
    status = e.code or 500
    if status == 500:
        message = "Something went wrong on the server."
    elif status == 429:
        message = too_many_requests_message()
    else:
        message = e.description
    response = error_response(status, _HTTP_CODES.get(status, "error"), message)
    if status == 405 and e.get_response().headers.get("Allow"):
        response.headers["Allow"] = e.get_response().headers["Allow"]
    return response
