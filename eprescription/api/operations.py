"""The API's blueprints, whose operations each say route, answer, callers and input in one place."""

from collections.abc import Callable
from typing import Any

from flask_smorest import Blueprint
from marshmallow import Schema

from eprescription.api import scopes
from eprescription.api.security import roles_required
from eprescription.errors import OK
from eprescription.models import Role

SECURITY: list[dict[str, list[str]]] = [{"bearer": []}]  # OpenAPI: a bearer token


class ApiBlueprint(Blueprint):
    """A flask-smorest blueprint with `operation`, the decorators every API view stacks."""

    def __init__(self, name: str, url_prefix: str, description: str) -> None:
        super().__init__(name, __name__, url_prefix=url_prefix, description=description)

    def operation(
        self,
        route: str,
        *roles: Role,
        response: type[Schema] | None = None,
        status: int = OK,
        responses: dict | None = None,
    ) -> Callable[[Callable], Callable]:
        """Serve `route` ("METHOD /rule"), answering `status` with the `response` schema;
        `responses` documents answers of other shapes. With `roles`, only a caller holding one
        of them (a bearer token, in the document) gets past 401/403; without, it is public.
        The input is read by `blp.arguments` below it, so after the roles (401 beats 422)."""
        method, _, rule = route.partition(" ")

        def decorator(view: Callable) -> Callable:
            doc: dict[str, Any] = {}
            if roles:
                view = roles_required(*roles)(view)
                doc["security"] = SECURITY
                doc.update(scopes.documented(f"{self.name}.{view.__name__}"))
            if responses is not None:
                doc["responses"] = responses
            if doc:
                view = self.doc(**doc)(view)
            if response is not None:
                view = self.response(status, response)(view)
            return self.route(rule, methods=[method])(view)

        return decorator

    def arguments(self, schema: type[Schema] | Schema, *args: Any, **kwargs: Any) -> Callable:
        """flask-smorest's `arguments`, the schema made once (given a class, webargs would
        build an instance, fields copied, at every request)."""
        return super().arguments(schema() if isinstance(schema, type) else schema, *args, **kwargs)
