"""The schema documents the error answers of every operation (R44; API.md "Conventions"):
400 bad input, 401 no or a bad token, 403 a write the role may not do, 404 out of scope or
absent (R36). A drf-spectacular postprocessing hook adds them where a view did not."""

from __future__ import annotations

from typing import Any

DETAIL = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
# DRF's 400 bodies: {"field": ["message"]}, {"non_field_errors": [...]}, {"detail": "..."}
# (a body that does not parse) and, for bulk posts, {"grades": [{...row errors...}]}.
VALIDATION = {
    "type": "object",
    "additionalProperties": True,
    "description": "Field name (or non_field_errors / detail) to its messages; nothing saved.",
}

ERRORS: dict[str, tuple[str, str]] = {
    "400": ("ValidationErrorBody", "Bad input: each field names what to fix; nothing is saved."),
    "401": ("ErrorDetail", "No credentials, or a token that is not valid."),
    "403": ("ErrorDetail", "Your role may not do this here."),
    "404": ("ErrorDetail", "Not found, or outside your schools (R36)."),
}
METHODS = {"get", "put", "post", "patch", "delete", "head", "options", "trace"}


def add_error_responses(result: dict[str, Any], generator, request, public) -> dict[str, Any]:
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault("ErrorDetail", DETAIL)
    components.setdefault("ValidationErrorBody", VALIDATION)
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            if method not in METHODS:
                continue
            responses = operation.setdefault("responses", {})
            for status, (component, description) in ERRORS.items():
                responses.setdefault(
                    status,
                    {
                        "description": description,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": f"#/components/schemas/{component}"}
                            }
                        },
                    },
                )
    return result
