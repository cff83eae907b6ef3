"""The OpenAPI 3.1 document, generated from the routes' pydantic request and response models.

Each endpoint is declared once with `route(...)`: it registers the Flask view and records the
operation, so the document cannot drift from the code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask import Blueprint
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema


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


OPERATIONS: list[Operation] = []


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
    media_types: tuple[str, ...] = ("application/json",),
    problems: dict[int, str] | None = None,
):
    """Register a view on `blueprint` for `path` (OpenAPI style, `{id}`) and document it.

    `media_types` lists what a success may be sent as (JSON, CSV, an image); `problems` names
    refusals worth documenting by status (every other one falls under `default`). An operation
    with a request body documents 415 itself.
    """
    rule = re.sub(r"\{(\w+)\}", r"<\1>", path.removeprefix(blueprint.url_prefix or ""))

    def decorator(view):
        blueprint.add_url_rule(rule, view_func=view, methods=[method])
        OPERATIONS.append(
            Operation(
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
            )
        )
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
                    "content": {
                        "application/problem+json": {
                            "schema": {"$ref": "#/components/schemas/Problem"}
                        }
                    },
                },
            },
        }
        problems = dict(operation.problems)
        if operation.request is not None:
            problems.setdefault(415, "the body was not sent as Content-Type: application/json")
        for status, description in sorted(problems.items()):
            entry["responses"][str(status)] = {
                "description": description,
                "content": {
                    "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
                },
            }
        if operation.request is not None:
            entry["requestBody"] = {
                "required": True,
                "content": {
                    "application/json": {"schema": references[(operation.request, "validation")]}
                },
            }
        if operation.authenticated:
            entry["security"] = [{"bearer": []}]
        paths.setdefault(operation.path, {})[operation.method] = entry
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }
