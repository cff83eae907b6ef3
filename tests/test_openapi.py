"""The OpenAPI document: 3.1, complete against the routes Flask serves, and self-consistent.

The document touches no database, so these tests run on SQLite alone.
"""

from __future__ import annotations

import re

import pytest

from gateway.idempotency import KEY_LENGTH_MAX
from gateway.money import AMOUNT_MAX

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
IMPLICIT_METHODS = {"HEAD", "OPTIONS"}  # Flask adds these to every rule
SCHEMA_REF = "#/components/schemas/"

MONEY_POSTS = [
    "/api/v1/counter/cash-in",
    "/api/v1/counter/cash-out",
    "/api/v1/counter/payouts",
    "/api/v1/payments",
    "/api/v1/payments/{payment_id}/refunds",
]
REQUEST_SCHEMAS = {
    ("post", "/api/v1/auth/login"): "LoginRequest",
    ("post", "/api/v1/auth/refresh"): "RefreshRequest",
    ("post", "/api/v1/cooperatives"): "CooperativeRequest",
    ("post", "/api/v1/cooperatives/{coop_id}/members"): "MemberRequest",
    ("post", "/api/v1/cooperatives/{coop_id}/merchants"): "MerchantRequest",
    ("post", "/api/v1/counter/cash-in"): "CashInRequest",
    ("post", "/api/v1/counter/cash-out"): "CashOutRequest",
    ("post", "/api/v1/counter/payouts"): "PayoutRequest",
}


@pytest.fixture
def spec(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()


def operations(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield method, path, operation


def openapi_path(rule: str) -> str:
    """`/members/<member_id>/wallet` (or `<string:member_id>`) -> `/members/{member_id}/wallet`."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def resolve(spec, reference: str):
    assert reference.startswith("#/"), reference
    node = spec
    for part in reference[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"{reference} does not resolve"
        node = node[part]
    return node


def refs(node):
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


FORM = "application/x-www-form-urlencoded"
# The one body that is not JSON: OAuth's token endpoint reads a form (RFC 6749 §4.4.2).
FORM_OPERATIONS = {("post", "/api/v1/auth/token")}


def request_schema(spec, operation) -> dict:
    (content,) = operation["requestBody"]["content"].values()
    schema = content["schema"]
    return resolve(spec, schema["$ref"]) if "$ref" in schema else schema


def test_it_is_openapi_3_1(spec):
    assert spec["openapi"] == "3.1.0"
    assert spec["info"]["title"] and spec["info"]["version"]
    assert spec["paths"]
    assert spec["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    client = spec["components"]["securitySchemes"]["apiClient"]
    assert client["type"] == "oauth2"
    flow = client["flows"]["clientCredentials"]
    assert flow["tokenUrl"] == "/api/v1/auth/token"
    assert set(flow["scopes"]) == {"reports:read", "members:read", "members:write", "payments:read"}


def test_every_api_route_is_documented_with_its_methods(app, spec):
    served: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.rule == "/api/v1/openapi.json":
            continue
        methods = {method.lower() for method in rule.methods - IMPLICIT_METHODS}
        served.setdefault(openapi_path(rule.rule), set()).update(methods)
    documented = {
        path: {method for method in item if method in HTTP_METHODS}
        for path, item in spec["paths"].items()
    }
    assert served  # the comparison below means something
    assert documented == served


def test_every_operation_is_described(spec):
    for method, path, operation in operations(spec):
        assert operation["summary"], (method, path)
        assert operation["tags"], (method, path)
        successes = [code for code in operation["responses"] if code.startswith("2")]
        assert len(successes) == 1, (method, path)
        problem = operation["responses"]["default"]["content"]["application/problem+json"]
        assert problem["schema"] == {"$ref": SCHEMA_REF + "Problem"}, (method, path)


def test_the_problem_schema_is_rfc_9457(spec):
    problem = spec["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail"}
    assert problem["properties"]["type"] == {"type": "string", "format": "uri"}
    assert problem["properties"]["status"]["type"] == "integer"


def test_every_ref_resolves_inside_components_schemas(spec):
    found = list(refs(spec))
    assert found
    for reference in found:
        assert reference.startswith(SCHEMA_REF), reference
        assert reference.removeprefix(SCHEMA_REF) in spec["components"]["schemas"], reference
        assert isinstance(resolve(spec, reference), dict)


def test_path_parameters_are_declared(spec):
    for method, path, operation in operations(spec):
        in_path = re.findall(r"\{(\w+)\}", path)
        declared = [p for p in operation.get("parameters", []) if p["in"] == "path"]
        assert [p["name"] for p in declared] == in_path, (method, path)
        assert all(p["required"] is True for p in declared), (method, path)
        names = [(p["in"], p["name"]) for p in operation.get("parameters", [])]
        assert len(names) == len(set(names)), (method, path)


@pytest.mark.parametrize("path", MONEY_POSTS)
def test_money_posts_declare_the_idempotency_key_header(spec, path):
    operation = spec["paths"][path]["post"]
    headers = [p for p in operation["parameters"] if p["in"] == "header"]
    assert [h["name"] for h in headers] == ["Idempotency-Key"]
    (header,) = headers
    assert header["required"] is True
    assert header["schema"] == {"type": "string", "maxLength": KEY_LENGTH_MAX}


def test_only_posts_declare_the_idempotency_key(spec):
    for method, path, operation in operations(spec):
        if any(p["name"] == "Idempotency-Key" for p in operation.get("parameters", [])):
            assert method == "post", path


def test_request_schemas_are_the_strict_models(spec):
    for (method, path), name in REQUEST_SCHEMAS.items():
        operation = spec["paths"][path][method]
        assert operation["requestBody"]["required"] is True
        assert operation["requestBody"]["content"]["application/json"]["schema"] == {
            "$ref": SCHEMA_REF + name
        }
    for method, path, operation in operations(spec):
        if "requestBody" in operation:
            schema = request_schema(spec, operation)
            assert schema["type"] == "object", (method, path)
            if (method, path) in FORM_OPERATIONS:
                # RFC 6749 §3.2: the token endpoint MUST ignore parameters it does not know.
                assert list(operation["requestBody"]["content"]) == [FORM], path
                assert "additionalProperties" not in schema, path
            else:
                assert list(operation["requestBody"]["content"]) == ["application/json"], path
                assert schema["additionalProperties"] is False, (method, path)
        if method in ("get", "delete"):
            assert "requestBody" not in operation, (method, path)


def test_amounts_are_positive_bounded_integers(spec):
    seen = []
    for method, path, operation in operations(spec):
        if "requestBody" not in operation:
            continue
        schema = request_schema(spec, operation)
        amount = schema["properties"].get("amount")
        if amount is None:
            continue
        seen.append(path)
        variants = [v for v in amount.get("anyOf", [amount]) if v.get("type") != "null"]
        assert len(variants) == 1, (method, path, amount)
        (variant,) = variants
        assert variant["type"] == "integer", (method, path)
        assert variant.get("exclusiveMinimum") == 0 or variant.get("minimum", 0) > 0, (method, path)
        assert variant["maximum"] == AMOUNT_MAX, (method, path)
        if path.startswith("/api/v1/counter/"):
            assert "amount" in schema["required"], path
    assert {
        "/api/v1/counter/cash-in",
        "/api/v1/counter/cash-out",
        "/api/v1/counter/payouts",
    } <= set(seen)


def test_authenticated_operations_say_so(spec):
    public = {("post", "/api/v1/auth/login"), ("post", "/api/v1/auth/refresh")}
    for method, path, operation in operations(spec):
        if (method, path) in public:
            assert "security" not in operation, path
        if path.startswith(("/api/v1/counter/", "/api/v1/cooperatives", "/api/v1/me")):
            assert operation["security"][0] == {"bearer": []}, (method, path)
        personal = path == "/api/v1/me" or path.startswith("/api/v1/me/")
        if personal or path.startswith("/api/v1/counter/") or method in ("put", "delete"):
            assert operation["security"] == [{"bearer": []}], (method, path)
    token = spec["paths"]["/api/v1/auth/token"]["post"]
    assert token["security"] == [{"clientBasic": []}, {}]


def test_the_api_client_scheme_is_listed_on_exactly_the_endpoints_open_to_clients(spec):
    opened = {
        (method, path): [
            scopes
            for requirement in operation.get("security", [])
            for scopes in [requirement.get("apiClient")]
            if scopes is not None
        ]
        for method, path, operation in operations(spec)
    }
    opened = {key: value[0] for key, value in opened.items() if value}
    assert opened == {
        ("get", "/api/v1/cooperatives/{coop_id}/report"): ["reports:read"],
        ("get", "/api/v1/cooperatives/{coop_id}/report.csv"): ["reports:read"],
        ("get", "/api/v1/cooperatives/{coop_id}/report.xlsx"): ["reports:read"],
        ("get", "/api/v1/cooperatives/{coop_id}/shu"): ["reports:read"],
        ("get", "/api/v1/settlement/windows"): ["reports:read"],
        ("get", "/api/v1/settlement/windows/{window_id}"): ["reports:read"],
        ("get", "/api/v1/cooperatives/{coop_id}/members"): ["members:read"],
        ("get", "/api/v1/cooperatives/{coop_id}/merchants"): ["members:read"],
        ("post", "/api/v1/cooperatives/{coop_id}/members"): ["members:write"],
        ("post", "/api/v1/cooperatives/{coop_id}/merchants"): ["members:write"],
        ("get", "/api/v1/payments/{payment_id}"): ["payments:read"],
        ("get", "/api/v1/members/{member_id}/payments"): ["payments:read"],
        ("get", "/api/v1/members/{member_id}/wallet"): ["payments:read"],
        ("get", "/api/v1/members/{member_id}/limits"): ["payments:read"],
    }
    for method, path in opened:
        operation = spec["paths"][path][method]
        assert not any(p["name"] == "Idempotency-Key" for p in operation["parameters"]), path


def test_the_token_endpoint_documents_oauth_errors(spec):
    token = spec["paths"]["/api/v1/auth/token"]["post"]
    assert list(token["requestBody"]["content"]) == [FORM]
    for status in ("400", "401"):
        assert token["responses"][status]["content"] == {
            "application/json": {"schema": {"$ref": SCHEMA_REF + "OAuthError"}}
        }
    oauth_error = spec["components"]["schemas"]["OAuthError"]
    assert {"error", "type", "title", "status", "detail"} <= set(oauth_error["required"])
    assert "415" not in token["responses"]


def test_every_operation_with_a_body_documents_415(spec):
    seen = 0
    for method, path, operation in operations(spec):
        if "requestBody" in operation and (method, path) not in FORM_OPERATIONS:
            seen += 1
            refusal = operation["responses"]["415"]["content"]["application/problem+json"]
            assert refusal["schema"] == {"$ref": SCHEMA_REF + "Problem"}, (method, path)
    assert seen >= 10


def test_staff_only_reads_document_403(spec):
    for path in ("/api/v1/fee-schedules", "/api/v1/limit-policies"):
        assert "403" in spec["paths"][path]["get"]["responses"], path
