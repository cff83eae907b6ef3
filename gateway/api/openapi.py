"""The OpenAPI 3.1 document, generated from the routes' pydantic request and response models.

Each endpoint is declared once with `route(...)`: it registers the Flask view and records the
operation, so the document cannot drift from the code. The same record says which endpoints an
API client may call (`client_scope`): gateway/api/support.py admits a client's token by it, and
the document lists the OAuth 2.0 client-credentials scheme on exactly those.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask import Blueprint
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from gateway.api_clients import SCOPES

JSON = "application/json"
PROBLEM_JSON = "application/problem+json"
FORM = "application/x-www-form-urlencoded"
TOKEN_URL = "/api/v1/auth/token"


@dataclass
class Operation:
    method: str
    path: str
    summary: str
    tag: str
    request: type[BaseModel] | None
    response: type[BaseModel] | None
    status: int
    authenticated: bool
    idempotent: bool
    query: dict[str, str]
    media_types: tuple[str, ...]
    problems: dict[int, str]
    endpoint: str = ""
    client_scope: str | None = None
    request_media_type: str = JSON
    security: list[dict] | None = None
    oauth_errors: bool = False


OPERATIONS: list[Operation] = []
# By Flask endpoint name ("cooperatives.list_members"): how a request finds its operation.
ENDPOINTS: dict[str, Operation] = {}


def operation_for(endpoint: str | None) -> Operation | None:
    """The operation a request's Flask endpoint serves, if it was declared with `route`."""
    return ENDPOINTS.get(endpoint or "")


def route(
    blueprint: Blueprint,
    method: str,
    path: str,
    *,
    summary: str,
    request: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    status: int = 200,
    authenticated: bool = True,
    idempotent: bool = False,
    query: dict[str, str] | None = None,
    media_types: tuple[str, ...] = (JSON,),
    problems: dict[int, str] | None = None,
    client_scope: str | None = None,
    request_media_type: str = JSON,
    security: list[dict] | None = None,
    oauth_errors: bool = False,
):
    """Register a view on `blueprint` for `path` (OpenAPI style, `{id}`) and document it.

    `media_types` lists what a success may be sent as (JSON, CSV, an image); `problems` names
    refusals worth documenting by status (every other one falls under `default`). An operation
    with a JSON request body documents 415 itself.

    `client_scope` opens the endpoint to API clients whose token has that scope; without it no
    API client may call it. An operation that moves money (`idempotent`) can never be opened,
    and a `:read` scope opens only a GET. `request_media_type` is JSON but for the OAuth token
    endpoint (a form), whose refusals are OAuth errors (`oauth_errors`).
    """
    if client_scope is not None:
        if client_scope not in SCOPES:
            raise ValueError(f"{method} {path}: no scope {client_scope!r}")
        if idempotent or not authenticated:
            raise ValueError(f"{method} {path} moves money or is public: no API client scope")
        if client_scope.endswith(":read") and method != "GET":
            raise ValueError(f"{method} {path}: a read scope opens only a GET")
    rule = re.sub(r"\{(\w+)\}", r"<\1>", path.removeprefix(blueprint.url_prefix or ""))

    def decorator(view):
        blueprint.add_url_rule(rule, view_func=view, methods=[method])
        operation = Operation(
            method=method.lower(),
            path=path,
            summary=summary,
            tag=blueprint.name,
            request=request,
            response=response,
            status=status,
            authenticated=authenticated,
            idempotent=idempotent,
            query=query or {},
            media_types=media_types,
            problems=problems or {},
            endpoint=f"{blueprint.name}.{view.__name__}",
            client_scope=client_scope,
            request_media_type=request_media_type,
            security=security,
            oauth_errors=oauth_errors,
        )
        OPERATIONS.append(operation)
        ENDPOINTS[operation.endpoint] = operation
        return view

    return decorator


PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
    },
    "required": ["type", "title", "status", "detail"],
}

OAUTH_ERROR_SCHEMA = {
    "type": "object",
    "description": "An OAuth 2.0 error (RFC 6749 §5.2), served as application/json, that is also"
    " an RFC 9457 problem document",
    "properties": {
        "error": {
            "type": "string",
            "enum": [
                "invalid_request",
                "invalid_client",
                "invalid_grant",
                "unauthorized_client",
                "unsupported_grant_type",
                "invalid_scope",
            ],
        },
        "error_description": {"type": "string"},
        **PROBLEM_SCHEMA["properties"],
    },
    "required": ["error", "type", "title", "status", "detail"],
}

PROBLEM_REFERENCE = {"$ref": "#/components/schemas/Problem"}
OAUTH_ERROR_REFERENCE = {"$ref": "#/components/schemas/OAuthError"}


def _refusal_content(operation: Operation) -> dict:
    if operation.oauth_errors:
        return {JSON: {"schema": OAUTH_ERROR_REFERENCE}}
    return {PROBLEM_JSON: {"schema": PROBLEM_REFERENCE}}


def _security(operation: Operation) -> list[dict] | None:
    if operation.security is not None:
        return operation.security
    if not operation.authenticated:
        return None
    if operation.client_scope is not None:
        return [{"bearer": []}, {"apiClient": [operation.client_scope]}]
    return [{"bearer": []}]


def _success_schema(operation: Operation, media_type: str, references: dict) -> dict:
    if media_type != "application/json":
        if media_type == "image/png":
            return {"type": "string", "format": "binary"}
        return {"type": "string"}
    if operation.response is not None:
        return references[(operation.response, "validation")]
    return {"type": "object"}


def document(title: str, version: str) -> dict:
    """Return the OpenAPI 3.1 document of every registered operation."""
    models = {
        model
        for operation in OPERATIONS
        for model in (operation.request, operation.response)
        if model is not None
    }
    keyed = [
        (model, mode)
        for model in sorted(models, key=lambda m: m.__name__)
        for mode in ("validation",)
    ]
    references, definitions = models_json_schema(keyed, ref_template="#/components/schemas/{model}")
    schemas = dict(definitions.get("$defs", {}))
    schemas["Problem"] = PROBLEM_SCHEMA
    schemas["OAuthError"] = OAUTH_ERROR_SCHEMA
    paths: dict[str, dict] = {}
    for operation in OPERATIONS:
        parameters = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in re.findall(r"\{(\w+)\}", operation.path)
        ]
        parameters += [
            {
                "name": name,
                "in": "query",
                "required": False,
                "description": text,
                "schema": {"type": "string"},
            }
            for name, text in operation.query.items()
        ]
        if operation.idempotent:
            parameters.append(
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": True,
                    "description": "A unique key per operation, reused on every retry of it",
                    "schema": {"type": "string", "maxLength": 255},
                }
            )
        entry: dict = {
            "summary": operation.summary,
            "tags": [operation.tag],
            "parameters": parameters,
            "responses": {
                str(operation.status): {
                    "description": "Success",
                    "content": {
                        media_type: {"schema": _success_schema(operation, media_type, references)}
                        for media_type in operation.media_types
                    },
                },
                "default": {
                    "description": "A problem",
                    # An OAuth endpoint's own refusals are OAuth errors; a failure of the service
                    # itself (503) is still a problem document.
                    "content": {
                        **_refusal_content(operation),
                        PROBLEM_JSON: {"schema": PROBLEM_REFERENCE},
                    },
                },
            },
        }
        problems = dict(operation.problems)
        if operation.request is not None and operation.request_media_type == JSON:
            problems.setdefault(415, "the body was not sent as Content-Type: application/json")
        for status, description in sorted(problems.items()):
            entry["responses"][str(status)] = {
                "description": description,
                "content": _refusal_content(operation),
            }
        if operation.request is not None:
            entry["requestBody"] = {
                "required": True,
                "content": {
                    operation.request_media_type: {
                        "schema": references[(operation.request, "validation")]
                    }
                },
            }
        security = _security(operation)
        if security is not None:
            entry["security"] = security
        paths.setdefault(operation.path, {})[operation.method] = entry
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                # A cooperative's back office: OAuth 2.0 client credentials (RFC 6749 §4.4).
                "apiClient": {
                    "type": "oauth2",
                    "description": "An API client of one cooperative (docs/api-clients.md): it"
                    " acts as that cooperative's admin within its scopes and never moves money.",
                    "flows": {"clientCredentials": {"tokenUrl": TOKEN_URL, "scopes": SCOPES}},
                },
                # How an API client authenticates at the token endpoint (or in the form body).
                "clientBasic": {"type": "http", "scheme": "basic"},
            },
        },
    }
