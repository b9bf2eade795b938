"""/docs shows every response shape: each JSON route in the OpenAPI schema
declares a response model for its success response (a route added without one
fails here). Pages, files, webhooks with platform bodies and the WebSockets
are left out of the schema or declare a non-JSON response class."""

from __future__ import annotations

from bot.app import create_app
from core.settings import Settings, with_sandboxes


def _is_model(schema: dict) -> bool:
    """A named model, or a list of them (not a bare `object` from `-> dict`)."""
    if schema.get("type") == "array":
        schema = schema.get("items", {})
    return "$ref" in schema


def _operations(openapi: dict):
    for path, item in openapi["paths"].items():
        for method, operation in item.items():
            yield f"{method.upper()} {path}", operation


def test_every_json_route_declares_its_response_model():
    openapi = create_app(with_sandboxes(Settings())).openapi()
    operations = dict(_operations(openapi))
    assert len(operations) > 40  # the gateway, agent console, customers, staff, editor
    unmodelled = []
    for name, operation in operations.items():
        success = {code: r for code, r in operation["responses"].items()
                   if code.startswith("2")}
        if not success:
            unmodelled.append(f"{name}: no 2xx response")
        for code, response in success.items():
            content = response.get("content", {})
            if "application/json" in content and not _is_model(
                    content["application/json"].get("schema", {})):
                unmodelled.append(f"{name}: {code} has no response model")
    assert not unmodelled, "\n".join(unmodelled)


def test_pages_and_files_are_not_documented_as_json():
    operations = dict(_operations(create_app(with_sandboxes(Settings())).openapi()))
    assert "application/json" not in operations["GET /metrics"]["responses"]["200"]["content"]
    export = operations["GET /api/kb/export"]["responses"]["200"]["content"]
    assert set(export) == {"application/zip", "text/csv"}
    assert not any(name.startswith(("GET /agent", "GET /login", "GET /kb", "GET /webchat/"))
                   and not name.startswith("GET /webchat/session") for name in operations)
