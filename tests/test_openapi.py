"""GET /api/v1/openapi.json: an OpenAPI 3.1 document that describes every route of the API
(with its methods) and nothing that does not exist; its references resolve and what it
says of authentication holds."""
from __future__ import annotations

import re

import pytest

from api_support import API, assert_error

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def openapi_path(rule: str) -> str:
    """/api/v1/users/<int:id> -> /users/{id} (paths are relative to the server, .../api/v1)"""
    return re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", r"{\1}", rule.removeprefix(API))


def app_routes(app) -> dict[str, set[str]]:
    """Every route under /api/v1: OpenAPI path -> lower-case methods (not HEAD/OPTIONS)."""
    routes: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(API + "/") or rule.rule == API:
            methods = {m.lower() for m in rule.methods} - {"head", "options"}
            routes.setdefault(openapi_path(rule.rule), set()).update(methods)
    return routes


@pytest.fixture
def doc(client):
    r = client.get(f"{API}/openapi.json")
    assert r.status_code == 200 and r.mimetype == "application/json"
    return r.get_json()


def operations(doc):
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method in HTTP_METHODS:
                yield path, method, op


def test_it_is_an_openapi_3_1_document(doc, client):
    assert doc["openapi"].startswith("3.1.")
    assert doc["info"]["title"] and doc["info"]["version"]
    assert [s["url"] for s in doc["servers"]] == ["http://keystead.test/api/v1"]
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "description": doc["components"]["securitySchemes"]["bearerAuth"]["description"]}
    for name in ("Error", "User", "TokenPair"):
        assert name in doc["components"]["schemas"]
    # Served without credentials, and not an error on a second request.
    assert client.get(f"{API}/openapi.json").get_json() == doc


def test_every_route_of_the_api_is_described(app, doc):
    described = {path: {m for m in item if m in HTTP_METHODS} for path, item in doc["paths"].items()}
    missing = []
    for path, methods in sorted(app_routes(app).items()):
        for method in sorted(methods - described.get(path, set())):
            missing.append(f"{method.upper()} {path}")
    assert not missing, "routes missing from openapi.json (add them to the module's OPENAPI_PATHS): " + ", ".join(missing)


def test_every_described_operation_exists(app, doc):
    routes = app_routes(app)
    extra = [f"{m.upper()} {p}" for p, m, _ in operations(doc) if m not in routes.get(p, set())]
    assert not extra, "openapi.json describes routes that do not exist: " + ", ".join(extra)


def test_every_reference_resolves(doc):
    def resolve(ref: str):
        assert ref.startswith("#/"), ref
        node = doc
        for part in ref[2:].split("/"):
            assert isinstance(node, dict) and part in node, f"unresolved $ref {ref}"
            node = node[part]
        return node

    def walk(node):
        if isinstance(node, dict):
            if "$ref" in node:
                resolve(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
    walk(doc)


def test_every_operation_is_complete(doc):
    operation_ids = []
    for path, method, op in operations(doc):
        where = f"{method.upper()} {path}"
        assert op.get("summary"), where
        assert op.get("responses"), where
        codes = set(op["responses"])
        assert all(re.fullmatch(r"[1-5]\d\d", c) for c in codes), where
        assert any(c.startswith("2") for c in codes), f"{where}: no success response"
        if op.get("security", doc["security"]):
            assert "401" in codes, f"{where} needs a token but documents no 401"
        if "requestBody" in op:
            assert {"400", "413", "415", "422"} <= codes, where
            assert "application/json" in op["requestBody"]["content"] or \
                "multipart/form-data" in op["requestBody"]["content"], where
        # Every {parameter} in the path is declared.
        declared = {p["name"] for p in op.get("parameters", []) + doc["paths"][path].get("parameters", [])
                    if p.get("in") == "path"}
        assert set(re.findall(r"{([^}]+)}", path)) <= declared, f"{where}: undeclared path parameter"
        if "operationId" in op:
            operation_ids.append(op["operationId"])
    assert len(operation_ids) == len(set(operation_ids)), "duplicate operationId"


def test_what_the_document_says_of_authentication_holds(app, client, doc):
    """An operation documented with a token answers 401 without one; one documented
    without a token never asks for one."""
    for path, method, op in operations(doc):
        url = API + re.sub(r"{[^}]+}", "1", path)
        r = client.open(url, method=method.upper(), json={})
        secured = bool(op.get("security", doc["security"]))
        code = (r.get_json() or {}).get("error", {}).get("code") if r.is_json else None
        if secured:
            assert r.status_code == 401 and code == "authentication_required", (method, path, r.status_code)
        else:
            assert code != "authentication_required", (method, path)


def test_the_auth_endpoints_are_documented_as_the_spec_says(doc):
    paths = doc["paths"]
    assert set(paths[f"/auth/login"]["post"]["responses"]) >= {"200", "401", "403", "422", "423"}
    assert paths[f"/auth/login"]["post"]["security"] == []
    assert set(paths[f"/auth/register"]["post"]["responses"]) >= {"201", "403", "409", "422"}
    assert "202" in paths[f"/auth/request-password-reset"]["post"]["responses"]
    assert "202" in paths[f"/auth/resend-verification"]["post"]["responses"]
    assert "204" in paths[f"/auth/logout"]["post"]["responses"]
    assert {"get", "patch", "delete"} <= set(paths[f"/users/me"])
    assert "204" in paths[f"/users/me/password"]["post"]["responses"]
    locked = doc["components"]["responses"]["E423"]
    assert "Retry-After" in locked["headers"]


def test_an_unknown_api_path_is_a_404_in_the_error_shape(client):
    assert_error(client.get(f"{API}/no-such-thing"), 404, "not_found")
    assert_error(client.put(f"{API}/auth/login"), 405, "method_not_allowed")
