"""The root of Kith's domain errors. Services raise these; the API and views turn them into 400/403/404/409."""


class KithError(Exception):
    """Base class: a domain rule was broken. ``message`` is safe to show to the user."""

    status_code = 400
    code = "invalid"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class PermissionDenied(KithError):
    status_code = 403
    code = "permission_denied"


class NotFound(KithError, LookupError):
    status_code = 404
    code = "not_found"


class Conflict(KithError):
    status_code = 409
    code = "conflict"
