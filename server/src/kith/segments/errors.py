from kith.core.errors import KithError


class InvalidSegment(KithError, ValueError):
    """A segment definition that cannot be evaluated; the message names the bad condition by its path
    (``all[1].any[0]: unknown field 'lang'``). Reported on the ``definition`` field."""

    def __init__(self, message: str) -> None:
        super().__init__(message, field="definition")
