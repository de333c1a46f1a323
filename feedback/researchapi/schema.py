"""How the OpenAPI schema (drf-spectacular) describes our authentication; imported by `api`."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object

from feedback.researchapi.authentication import KEYWORD, ApiTokenAuthentication


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """`ApiTokenAuthentication` in the schema: an HTTP bearer scheme."""

    target_class = ApiTokenAuthentication
    name = "apiToken"

    def get_security_definition(self, auto_schema):
        return {
            **build_bearer_security_scheme_object(header_name="Authorization", token_prefix=KEYWORD),
            "description": "An API token made on /me/tokens/, sent as `Authorization: Bearer <token>`.",
        }
