"""The OpenAPI description of the errors every endpoint can answer, besides its success response."""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers

# Query parameters that never cause a 400: DRF ignores an unknown ordering and searches any text.
LENIENT_QUERY_PARAMETERS = {"search", "ordering", "page"}


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="What went wrong.")


VALIDATION_ERROR_SCHEMA = {
    "type": "object",
    "description": "Field name → its errors: a list of messages, or the errors of its own fields.",
    "additionalProperties": {},
}


class AgoraAutoSchema(AutoSchema):
    """Adds the error responses an operation can give: 400 (a refused input), 401 (a wrong or
    missing token), 403 (not allowed), 404 (no such record, or hidden from you, or no such page),
    415 (a body in a content type the operation does not read), 429 (throttled), and on uploads 507
    (the storage volume is full)."""

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        parameters = operation.get("parameters", [])
        query = {p["name"] for p in parameters if p["in"] == "query"}
        has_path_parameters = any(p["in"] == "path" for p in parameters)
        errors: dict[str, tuple[str, dict]] = {
            "401": ("Missing, wrong, expired or revoked credentials.", self._error_ref()),
            "403": ("You may not do this (or a read-only token was used to write).", self._error_ref()),
            "429": ("Too many requests from this address; retry later.", self._error_ref()),
        }
        # A write may be refused by its service (cancel a finished run) even without a body.
        if method != "GET" or query - LENIENT_QUERY_PARAMETERS:
            errors["400"] = ("A refused input; the body names each field.", VALIDATION_ERROR_SCHEMA)
        if "requestBody" in operation:
            errors["415"] = ("The body's content type is not one this operation reads.", self._error_ref())
        if "multipart/form-data" in operation.get("requestBody", {}).get("content", {}):
            errors["507"] = ("The storage volume is full: nothing was stored.", self._error_ref())
        if has_path_parameters or "page" in query:
            errors["404"] = ("No such record, not visible to you, or no such page.", self._error_ref())
        responses = operation["responses"]
        for code, (description, schema) in errors.items():
            # An explicit response without a body (a description only) gets the error body too.
            documented = responses.setdefault(code, {"description": description})
            documented.setdefault("content", {"application/json": {"schema": schema}})
        if "404" in responses and not path.startswith("/api/"):
            # Downloads are site routes too: an id that is not a number gets the site's not-found page.
            responses["404"]["content"]["text/html"] = {"schema": {"type": "string"}}
        return operation

    def _error_ref(self) -> dict:
        return self.resolve_serializer(ErrorSerializer, "response").ref
