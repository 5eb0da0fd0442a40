"""The OpenAPI schema also tells the error answers every operation can give, so a client
(and schemathesis) knows a 400, 401, 403, 404, 409 or 429 is part of the contract."""

from drf_spectacular.openapi import AutoSchema

_DETAIL = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
_FIELD_ERRORS = {
    "type": "object",
    "description": "Each refused field (or `non_field_errors`) with its messages.",
    "additionalProperties": True,
}
_CONFLICT = {
    "type": "object",
    "properties": {
        "detail": {"type": "string"},
        "version": {"type": "integer", "description": "The current version."},
        "changed": {
            "type": "object",
            "additionalProperties": {"type": "string", "nullable": True},
            "description": "What someone else changed, with its current value.",
        },
    },
    "required": ["detail"],
}
_SAFE = ("GET", "HEAD", "OPTIONS")


def _error(description, schema, headers=None):
    response = {"description": description, "content": {"application/json": {"schema": schema}}}
    if headers:
        response["headers"] = headers
    return response


class ErrorsAutoSchema(AutoSchema):
    """A view lists the actions that can answer 409 in `conflict_actions`."""

    def _get_parameters(self):
        parameters = super()._get_parameters()
        for parameter in parameters:
            # A filter sent empty is no filter (as from an HTML form); a page size is a number.
            if parameter.get("in") == "query" and parameter.get("name") != "page_size":
                parameter["allowEmptyValue"] = True
        return parameters

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        action = getattr(self.view, "action", None)
        errors = {
            "400": _error("Invalid input or parameters.", _FIELD_ERRORS),
            "401": _error("No or invalid credentials.", _DETAIL),
            "404": _error("No such record, or one you may not see.", _DETAIL),
            "429": _error(
                "Too many requests (API_RATE_LIMIT).",
                _DETAIL,
                {"Retry-After": {"schema": {"type": "integer"}}},
            ),
        }
        if self.method not in _SAFE:
            errors["403"] = _error("Your role may not do this.", _DETAIL)
            errors["415"] = _error("A body in a media type this operation does not read.", _DETAIL)
        if action in getattr(self.view, "conflict_actions", ()):
            errors["409"] = _error("A conflict: nothing was saved.", _CONFLICT)
        for status, response in errors.items():
            responses.setdefault(status, response)
        return responses
