"""What backends share: error kinds the delivery loop understands, and an HTTP client with the retry rules."""

from __future__ import annotations

import email.utils
import time
from typing import Any

import httpx

from crmify import conf


class BackendError(Exception):
    pass


class TemporaryError(BackendError):
    """Try again later (outage, timeout, 5xx, 429). ``retry_after`` seconds when the CRM said how long."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(BackendError):
    """Retrying will not help (the CRM refused the data or the credentials): dead-letter it."""


class HttpBackend:
    """A backend speaking JSON over HTTP. Subclasses set ``default_base_url`` and the auth in ``client_kwargs``."""

    default_base_url = ""

    def __init__(self, *, api_key: str = "", username: str = "", password: str = "", base_url: str = "",
                 timeout: float | None = None, **extra: Any) -> None:
        self.api_key = api_key
        self.username = username
        self.password = password
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        self.timeout = float(timeout if timeout is not None else conf.get("TIMEOUT_SECONDS"))
        self.extra = extra
        self._client: httpx.Client | None = None

    def client_kwargs(self) -> dict[str, Any]:
        return {}

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(base_url=self.base_url, timeout=self.timeout, **self.client_kwargs())
        return self._client

    def request(self, method: str, path: str, *, ok: tuple[int, ...] = (200, 201, 202, 204), **kwargs: Any
                ) -> httpx.Response:
        try:
            response = self.client.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise TemporaryError(f"{method} {path}: timed out after {self.timeout:g}s") from exc
        except httpx.HTTPError as exc:
            raise TemporaryError(f"{method} {path}: {exc}") from exc
        if response.status_code in ok:
            return response
        detail = response.text[:500]
        if response.status_code == 429 or response.status_code >= 500 or response.status_code == 408:
            raise TemporaryError(f"{method} {path}: HTTP {response.status_code} {detail}",
                                 retry_after=retry_after(response))
        raise PermanentError(f"{method} {path}: HTTP {response.status_code} {detail}")

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value)
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None
