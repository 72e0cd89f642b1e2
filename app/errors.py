"""Errors raised by the service functions; the web, API and CLI layers turn each into a
message beside a field, a JSON error with the right status, or one line and an exit code."""
from __future__ import annotations


class ServiceError(Exception):
    """A refusal a user can act on. `code` is the API error code, `status` its HTTP status,
    `fields` maps input field names to messages."""
    status = 400
    code = "bad_request"

    def __init__(self, message: str, fields: dict[str, str] | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        if code:
            self.code = code


class ValidationFailed(ServiceError):
    status = 422
    code = "validation_failed"

    def __init__(self, fields: dict[str, str], message: str | None = None):
        super().__init__(message or "; ".join(fields.values()), fields)


class Conflict(ServiceError):
    status = 409
    code = "conflict"


class NotFound(ServiceError):
    status = 404
    code = "not_found"


class Forbidden(ServiceError):
    status = 403
    code = "forbidden"


class AuthenticationFailed(ServiceError):
    """Wrong credentials, unknown user: one answer for both."""
    status = 401
    code = "invalid_credentials"

    def __init__(self, message: str = "Invalid username or password."):
        super().__init__(message)


class EmailNotVerified(ServiceError):
    status = 403
    code = "email_not_verified"

    def __init__(self, message: str = "Verify your email address before logging in."):
        super().__init__(message)


class AccountLocked(ServiceError):
    status = 423
    code = "locked"

    def __init__(self, message: str = "This account is locked. Try again later or contact an administrator.",
                 retry_after: int | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class ProviderError(ServiceError):
    """A provider could not complete a login (raised by provider hooks)."""
    status = 502
    code = "provider_error"


class ProviderUnreachable(ProviderError):
    """A provider's server (a directory) cannot be reached or refused Keystead's own
    credentials: nobody can log in through it now, whatever they typed. Raised by provider
    hooks after logging why in one line (never a password)."""
    status = 503
    code = "provider_unavailable"

    def __init__(self, message: str = "The sign-in directory cannot be reached. Try again later."):
        super().__init__(message)
