"""OpenAPI details drf-spectacular cannot infer: the token scheme and problem+json error bodies."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


class TokenAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "orders.api.auth.TokenAuthentication"
    name = "TokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "A device or driver key: `Authorization: Token <key>`.",
        }


def problem_responses_hook(result, generator, request, public):
    """Every error response is `application/problem+json`; undocumented errors fall to `default`.

    drf-spectacular derives media types from the renderers (JSON), but the exception handler answers
    every error as problem+json (oms.lib.problems). Secured operations also document 401 and 403.
    """
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    if "Problem" not in schemas:
        return result
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            for status, response in responses.items():
                if status == "default" or int(status) < 400:
                    continue
                content = response.get("content") or {"application/json": {"schema": PROBLEM_REF}}
                schema = next(iter(content.values())).get("schema", PROBLEM_REF)
                response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": schema}}
            secured = [req for req in operation.get("security", []) if req]
            if secured:
                responses.setdefault(
                    "401", _problem("No key, or an unknown or revoked key (`not_authenticated`, ...).")
                )
                responses.setdefault("403", _problem("A valid key of the wrong kind (`permission_denied`)."))
            responses.setdefault("default", _problem("Any other error, as problem details."))
            operation["responses"] = dict(sorted(responses.items(), key=lambda item: item[0]))
    return result


def _problem(description: str) -> dict:
    return {"description": description, "content": {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_REF}}}
