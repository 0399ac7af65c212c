"""Typed domain errors; each carries a stable code, none knows about HTTP."""


class DomainError(Exception):
    """Base of every refusal the service explains to its caller."""

    code = "error"
    title = "The request could not be completed"

    def __init__(self, detail: str | None = None, *, errors: dict | None = None):
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.errors = errors or {}


class ConfigurationError(DomainError):
    code = "configuration_error"
    title = "The service is not configured correctly"


class ValidationFailed(DomainError):
    code = "validation_failed"
    title = "Some fields are not valid"


class InvalidIdentifier(ValidationFailed):
    code = "invalid_identifier"
    title = "The identifier is not valid"


class AuthenticationFailed(DomainError):
    code = "authentication_failed"
    title = "Wrong username or password"


class AuthenticationRequired(DomainError):
    code = "authentication_required"
    title = "You must log in first"


class PermissionDenied(DomainError):
    code = "permission_denied"
    title = "You are not allowed to do this"


class NotFound(DomainError):
    code = "not_found"
    title = "Not found"


class Conflict(DomainError):
    code = "conflict"
    title = "This conflicts with the current state"


class AlreadyExists(Conflict):
    code = "already_exists"
    title = "This already exists"


class CatalogFileRefused(DomainError):
    code = "catalog_file_refused"
    title = "This is not a BDPM file"
