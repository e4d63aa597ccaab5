"""drf-spectacular post-processing: document the one error shape on every operation.

Every endpoint can answer 401 (no or bad credentials), 403 (role too low), 404 (not found or not
yours), 429 (rate limited); writes can answer 400 and 409. Clients (and schemathesis) learn all of
them from the schema, with the body {"code", "message", "detail"}. And the schema's own view.
"""

from drf_spectacular.renderers import OpenApiYamlRenderer
from drf_spectacular.views import SpectacularAPIView

ERROR_SCHEMA = {
    "type": "object",
    "description": "Every error has this shape.",
    "properties": {
        "code": {"type": "string", "description": "Stable, machine-readable."},
        "message": {"type": "string", "description": "For people."},
        "detail": {"nullable": True, "description": "Field errors or extra detail."},
        "retryable": {"type": "boolean"},
    },
    "required": ["code", "message"],
}
DESCRIPTIONS = {
    "400": "Invalid input.",
    "401": "Not authenticated.",
    "403": "Not allowed for your role.",
    "404": "Not found (or not in a project of yours).",
    "405": "Method not allowed.",
    "406": "Not acceptable.",
    "409": "Conflict with the current state.",
    "413": "Too large.",
    "415": "Unsupported media type.",
    "429": "Too many requests.",
}
ALWAYS = ("401", "403", "404", "405", "406", "429")
ON_WRITES = ("400", "409", "413", "415")
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def require_bodies_with_required_fields(result, generator, request, public):
    """A request body whose schema has required fields (or is a oneOf of such) cannot be left
    out; drf-spectacular only says so for plain serializers."""
    schemas = result.get("components", {}).get("schemas", {})
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            body = operation.get("requestBody") if method in HTTP_METHODS else None
            if not body or body.get("required"):
                continue
            for media in body.get("content", {}).values():
                ref = media.get("schema", {}).get("$ref", "")
                component = schemas.get(ref.rpartition("/")[2], {})
                if component.get("required") or component.get("oneOf"):
                    body["required"] = True
    return result


def add_error_responses(result, generator, request, public):
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = ERROR_SCHEMA
    ref = {"$ref": "#/components/schemas/Error"}
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in HTTP_METHODS:
                continue
            codes = list(ALWAYS)
            if method in ("post", "put", "patch", "delete") or operation.get("parameters"):
                codes += ON_WRITES
            responses = operation.setdefault("responses", {})
            for code in codes:
                responses.setdefault(
                    code,
                    {
                        "description": DESCRIPTIONS[code],
                        "content": {"application/json": {"schema": ref}},
                    },
                )
    return result


class SchemaView(SpectacularAPIView):
    """GET /api/v1/schema/: the OpenAPI document, YAML unless the client asks for JSON.

    A browser asks for text/html; the YAML media type (application/vnd.oai.openapi) made it save a
    file instead of showing the schema. A browser gets the same YAML as text/plain, which it
    displays; tools (curl, generators, schemathesis) still get the OpenAPI media types."""

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        browser = "text/html" in request.META.get("HTTP_ACCEPT", "")
        renderer = getattr(response, "accepted_renderer", None)
        if browser and response.status_code == 200 and isinstance(renderer, OpenApiYamlRenderer):
            response.content_type = "text/plain; charset=utf-8"
            response.headers.pop("Content-Disposition", None)
        return response
