"""The OpenAPI 3.1 description of the API, served at GET /api/v1/openapi.json.

Each route module keeps the description of its routes beside them, in `OPENAPI_PATHS`
(path items keyed by the full path, "/api/v1/auth/login"), and may add schemas of its
own in `OPENAPI_SCHEMAS`. `document()` merges those of every module in
app.api.ROUTE_MODULES with the shared components below. In the document the one server is
`<Server.PublicURL>/api/v1` and the paths are relative to it ("/auth/login").

What follows from other tables is added here rather than written in each module: 429 on
the operations a rate limit covers (app/ratelimits.py SCOPES) and 502 on those that ask
the person's sign-in provider for a password (PROVIDER_CHECKED). tests/test_openapi.py checks that
every route of the app is described and every described path exists.

Modules write operations with `operation(...)`, which adds the error responses every
operation of its kind can give (401 when it needs a token; 400, 413, 415 and 422 when it
reads a JSON body), so each operation lists only the errors particular to it.
"""
from __future__ import annotations

from flask import current_app

# ---------------------------------------------------------------- shared components

ERROR_DESCRIPTIONS = {
    400: "The body is not valid JSON, or a link token is invalid, expired or spent.",
    401: "No valid access token or API key (missing, malformed, tampered, expired or "
         "revoked), or wrong credentials.",
    403: "Not allowed.",
    404: "Not found.",
    409: "Conflicts with the current state (a name or email already taken, the last administrator).",
    413: "The JSON body is larger than 1 MB.",
    415: "The body is not application/json.",
    422: "A field is missing or invalid; `fields` maps each field to its problem.",
    423: "Locked out after too many failed logins (with Retry-After), or locked by an "
         "administrator (without Retry-After: it lasts until they unlock).",
    429: "Too many requests from this client address (a rate limit, docs/configuration.md); "
         "`Retry-After` says in how many seconds to try again.",
    502: "The person's sign-in provider failed (`provider_error`): try again later.",
    503: "The database does not answer or is busy (`unavailable`), or the sign-in directory "
         "(LDAP) that checks the password cannot be reached (`provider_unavailable`).",
}

SCHEMAS: dict = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {
            "type": "object",
            "required": ["code", "message", "fields"],
            "properties": {
                "code": {"type": "string", "description": "Machine-readable, e.g. invalid_token, "
                         "validation_failed, taken, email_not_verified, locked."},
                "message": {"type": "string", "description": "For people."},
                "fields": {"type": "object", "additionalProperties": {"type": "string"},
                           "description": "Input field name → what is wrong with it."},
            },
        }},
    },
    "User": {
        "type": "object",
        "required": ["id", "username", "email", "first_name", "last_name", "role", "locked",
                     "email_verified", "created_at", "last_login_at", "groups", "provider", "status",
                     "terms_accepted_version", "terms_accepted_at", "fields"],
        "properties": {
            "id": {"type": "integer"},
            "username": {"type": "string"},
            "email": {"type": ["string", "null"], "format": "email"},
            "first_name": {"type": "string"},
            "last_name": {"type": "string"},
            "role": {"type": "string", "description": "viewer, publisher, administrator or a "
                     "custom role of Authorization.Roles."},
            "locked": {"type": "boolean"},
            "email_verified": {"type": "boolean"},
            "created_at": {"type": "string", "format": "date-time"},
            "last_login_at": {"type": ["string", "null"], "format": "date-time"},
            "groups": {"type": "array", "items": {"type": "string"}, "description": "Group names."},
            "provider": {"type": "string", "description": "The provider the person logs in with."},
            "status": {"type": "string", "enum": ["active", "pending", "rejected"],
                       "description": "Sign-up approval: pending waits for an approver "
                                      "(Password.SignupApproval), rejected cannot log in."},
            "terms_accepted_version": {"type": ["string", "null"], "description": "The "
                                       "Password.TermsVersion the person last accepted."},
            "terms_accepted_at": {"type": ["string", "null"], "format": "date-time",
                                  "description": "When they accepted it."},
            "fields": {"$ref": "#/components/schemas/UserFields"},
            "metadata": {"$ref": "#/components/schemas/Metadata"},
        },
    },
    "TokenPair": {
        "type": "object",
        "required": ["access_token", "refresh_token", "token_type", "expires_in"],
        "properties": {
            "access_token": {"type": "string", "description": "Send as Authorization: Bearer <token>."},
            "refresh_token": {"type": "string", "description": "Works once, at POST /api/v1/auth/refresh."},
            "token_type": {"type": "string", "const": "bearer"},
            "expires_in": {"type": "integer", "description": "Seconds the access token lives "
                           "(Authentication.AccessTokenLifetime)."},
        },
    },
    "Status": {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"type": "string"}, "message": {"type": "string"}},
    },
}

SECURITY_SCHEMES = {
    "bearerAuth": {"type": "http", "scheme": "bearer",
                   "description": "An access token from POST /api/v1/auth/login or /auth/refresh."},
    "apiKeyAuth": {"type": "apiKey", "in": "header", "name": "Authorization",
                   "description": "A personal API key, sent as `Authorization: Key <key>` (the "
                                  "value includes the word Key). A key acts as its person but "
                                  "cannot manage their credentials (403 `forbidden`)."},
}
# Either credential: an access token or a personal API key.
SECURED = [{"bearerAuth": []}, {"apiKeyAuth": []}]

API_PREFIX = "/api/v1"

# Operations that ask the person's provider to check a password, which may fail (502), or
# whose directory may not be reachable (503):
# logging in, and those that need `current_password` (for an outside provider's account).
PROVIDER_CHECKED = {("post", "/api/v1/auth/login"), ("post", "/api/v1/users/me/api-keys"),
                    ("patch", "/api/v1/users/me"), ("patch", "/api/v1/users/{id}")}


# ---------------------------------------------------------------- helpers for route modules

def ref(name: str) -> dict:
    """A reference to a schema in components."""
    return {"$ref": f"#/components/schemas/{name}"}


def obj(required: tuple[str, ...] = (), **properties) -> dict:
    """An object schema: obj(("email",), email=string("..."), ...)."""
    return {"type": "object", "required": list(required), "properties": properties}


def string(description: str | None = None, **extra) -> dict:
    schema = {"type": "string", **extra}
    if description:
        schema["description"] = description
    return schema


def path_parameter(name: str, description: str, schema: dict | None = None) -> dict:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": schema or {"type": "integer"}}


def query_parameter(name: str, description: str, schema: dict | None = None) -> dict:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema or {"type": "string"}}


def operation(summary: str, *, tag: str, responses: dict, request: dict | None = None,
              errors: tuple[int, ...] = (), secured: bool = True, description: str | None = None,
              operation_id: str | None = None, parameters: list | None = None) -> dict:
    """One operation. `responses` maps a success status to (description, schema or None);
    `request` is the JSON body's schema; `errors` the statuses particular to it."""
    op: dict = {"summary": summary, "tags": [tag]}
    if operation_id:
        op["operationId"] = operation_id
    if description:
        op["description"] = description
    if parameters:
        op["parameters"] = parameters
    if request is not None:
        if request.get("type") == "object":  # any other key answers 422 (app/api/jsonbody.py)
            request = {**request, "additionalProperties": False}
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": request}}}
    op["security"] = SECURED if secured else []
    out: dict = {}
    for status, (text, schema) in responses.items():
        out[str(status)] = {"description": text}
        if schema is not None:
            out[str(status)]["content"] = {"application/json": {"schema": schema}}
    # 400 everywhere: a NUL character in a header value or query parameter (app/request_text.py).
    implied = set(errors) | {400}
    if secured:
        implied.add(401)
    if request is not None:
        implied |= {400, 413, 415, 422}
    for status in sorted(implied):
        out[str(status)] = {"$ref": f"#/components/responses/E{status}"}
    op["responses"] = out
    return op


# ---------------------------------------------------------------- the document

def _error_responses() -> dict:
    responses = {}
    for status, text in ERROR_DESCRIPTIONS.items():
        response = {"description": text, "content": {"application/json": {"schema": ref("Error")}}}
        if status == 429:
            response["headers"] = {"Retry-After": {
                "description": "Seconds until the rate limit lets the next request through.",
                "schema": {"type": "integer"}}}
        if status == 423:
            response["headers"] = {"Retry-After": {
                "description": "Seconds until a lockout after failed logins ends; absent for an "
                               "account locked by an administrator.", "schema": {"type": "integer"}}}
        if status == 401:
            response["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}}}
        responses[f"E{status}"] = response
    return responses


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("keystead")
    except PackageNotFoundError:
        return "0.0.0"


def _rate_limited() -> set[tuple[str, str]]:
    """(method, path) of every API operation a rate limit covers."""
    from ..ratelimits import SCOPES
    limited = set()
    for _limit, rules in SCOPES.values():
        for entry in rules:
            method, _, rule = entry.rpartition(" ")
            if rule.startswith(API_PREFIX + "/"):
                limited.add(((method or "POST").lower(), rule))
    return limited


def _with_added_errors(method: str, path: str, op: dict) -> dict:
    """The operation with 429 when a rate limit covers it, 502 and 503 when a provider
    checks a password in it."""
    added = []
    if (method, path) in _rate_limited():
        added.append(429)
    if (method, path) in PROVIDER_CHECKED:
        added += [502, 503]  # 503: a directory that cannot be reached (provider_unavailable)
    if not added:
        return op
    responses = dict(op["responses"])
    for status in added:
        responses[str(status)] = {"$ref": f"#/components/responses/E{status}"}
    return {**op, "responses": dict(sorted(responses.items()))}


def build_document(public_url: str) -> dict:
    """The whole OpenAPI 3.1 document: every module's paths and schemas, merged."""
    from ..userfields.declarations import declared_fields
    from ..userfields.schema import METADATA_SCHEMA, fields_schema
    from . import ROUTE_MODULES
    paths: dict = {}
    # The custom fields come from this app's declaration (configuration and plugins).
    schemas = {**SCHEMAS, "UserFields": fields_schema(declared_fields()), "Metadata": METADATA_SCHEMA}
    for module in ROUTE_MODULES:
        for path, item in getattr(module, "OPENAPI_PATHS", {}).items():
            if not path.startswith(API_PREFIX + "/"):
                raise ValueError(f"OpenAPI: {path} is not under {API_PREFIX}")
            merged = paths.setdefault(path.removeprefix(API_PREFIX), {})
            for method, op in item.items():
                if method in merged:
                    raise ValueError(f"OpenAPI: {method.upper()} {path} is described twice")
                merged[method] = _with_added_errors(method, path, op)
        for name, schema in getattr(module, "OPENAPI_SCHEMAS", {}).items():
            if name in schemas and schemas[name] != schema:
                raise ValueError(f"OpenAPI: schema {name} is defined twice")
            schemas[name] = schema
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Keystead API",
            "version": _version(),
            "description": "Accounts, tokens and administration of a Keystead server. Errors "
                           "are always {\"error\": {\"code\", \"message\", \"fields\"}}. Send "
                           "JSON bodies as application/json (at most 1 MB); unknown fields "
                           "answer 422 naming them, and so do NUL characters and lone "
                           "surrogates in any field (400 in a query parameter or header).",
        },
        "servers": [{"url": public_url.rstrip("/") + API_PREFIX,
                     "description": "This server (Server.PublicURL)"}],
        "security": SECURED,
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": schemas,
            "responses": _error_responses(),
            "securitySchemes": SECURITY_SCHEMES,
        },
    }


def document() -> dict:
    """The document of the current app (built once per app)."""
    ext = current_app.extensions
    if "keystead.openapi" not in ext:
        ext["keystead.openapi"] = build_document(ext["keystead.settings"]["Server.PublicURL"])
    return ext["keystead.openapi"]
