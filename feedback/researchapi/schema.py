"""How the OpenAPI schema (drf-spectacular) describes the API: our authentication, the error body,
and the refusals every operation can answer.

`ApiSchema` is the project's schema class (`REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]`). To each
operation it adds the error responses that the platform answers for it, whatever the endpoint
declares, all with the `Error` body and `application/json`:

- 401 everywhere: a wrong, revoked or malformed token is refused before anything else, even on
  the public reads;
- 403 where the permission is more than "anyone" (and a session's CSRF check fails with 403);
- 400 where the operation takes query parameters or a body;
- 404 where the path names something (an id, a file, a record);
- 429 everywhere, with `Retry-After`: the per-token (or per-address) throttle;
- 503 everywhere, with `Retry-After`: a service the API needs (Redis) is unreachable.

A view whose `empty_query_is_absent` is true reads `?name=` as if `name` were left out; its
query parameters say so with `allowEmptyValue`.

An endpoint documents its other answers itself (`extend_schema(responses=...)`, e.g. 409 for a
conflict); what it declares for a code wins over the generic description here.
"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny

from feedback.researchapi.authentication import KEYWORD, ApiTokenAuthentication


@extend_schema_serializer(component_name="Error")
class ErrorOutputSerializer(serializers.Serializer):
    """Every refusal: what went wrong, and for invalid input the message of each field."""

    detail = serializers.CharField()
    errors = serializers.DictField(child=serializers.JSONField(), required=False)


RETRY_AFTER_HEADER = {
    "Retry-After": {
        "schema": {"type": "integer", "minimum": 1},
        "description": "Seconds to wait before trying again.",
    }
}
REFUSALS = {
    "400": "The request is not valid: `detail` says what to change (`errors`: each field's message).",
    "401": "A wrong, revoked or malformed token (`Authorization: Bearer <token>`), or none where one is needed.",
    "403": "The account may not do this here (role, membership, licence, sanction), or a session's CSRF check failed.",
    "404": "No such item, or none you may see.",
    "429": "Too many requests: wait `Retry-After` seconds.",
    "503": "A service the API needs is unreachable for a moment: try again after `Retry-After` seconds.",
}


class ApiSchema(AutoSchema):
    """drf-spectacular's AutoSchema with the refusals of the module docstring on every operation."""

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        if getattr(self.view, "empty_query_is_absent", False):
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "query":
                    parameter["allowEmptyValue"] = True
        error = self.resolve_serializer(ErrorOutputSerializer, "response").ref
        responses = operation.setdefault("responses", {})
        for code in self._refusals(operation):
            response = responses.setdefault(code, {"description": REFUSALS[code]})
            response.setdefault("content", {"application/json": {"schema": error}})
            if code in ("429", "503"):
                response.setdefault("headers", {}).update(RETRY_AFTER_HEADER)
        operation["responses"] = dict(sorted(responses.items()))
        return operation

    def _refusals(self, operation: dict) -> list[str]:
        parameters = operation.get("parameters", [])
        codes = ["401", "429", "503"]
        if not all(isinstance(permission, AllowAny) for permission in self.view.get_permissions()):
            codes.append("403")
        if "requestBody" in operation or any(parameter["in"] == "query" for parameter in parameters):
            codes.append("400")
        if any(parameter["in"] == "path" for parameter in parameters):
            codes.append("404")
        return codes


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """`ApiTokenAuthentication` in the schema: an HTTP bearer scheme."""

    target_class = ApiTokenAuthentication
    name = "apiToken"

    def get_security_definition(self, auto_schema):
        return {
            **build_bearer_security_scheme_object(header_name="Authorization", token_prefix=KEYWORD),
            "description": "An API token made on /me/tokens/, sent as `Authorization: Bearer <token>`.",
        }
