"""A customer's browser, as far as the tests need one: an httpx client that keeps cookies and sends Django's CSRF
token with each form, and readers for what Kith and the sinks hold."""

from __future__ import annotations

import email
import email.policy
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx

T = TypeVar("T")
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class Browser:
    def __init__(self, base_url: str) -> None:
        self.client = httpx.Client(base_url=base_url, follow_redirects=True, timeout=30)

    def get(self, path: str) -> httpx.Response:
        response = self.client.get(path)
        assert response.status_code == 200, (path, response.status_code, response.text[:2000])
        return response

    def submit(self, page: str, action: str | None = None, *, expect: int = 200, **fields: Any) -> httpx.Response:
        """Open ``page`` and post a form from it (to ``action``, or back to the page) with the page's CSRF token."""
        html = self.get(page).text
        token = CSRF.search(html)
        assert token, f"no CSRF token on {page}"
        response = self.client.post(action or page, data={"csrfmiddlewaretoken": token.group(1), **fields},
                                    headers={"Referer": str(self.client.base_url)})
        assert response.status_code == expect, (action or page, response.status_code, response.text[:2000])
        return response

    def close(self) -> None:
        self.client.close()


class Kith:
    def __init__(self, base_url: str, api_key: str) -> None:
        self.client = httpx.Client(base_url=base_url, timeout=10,
                                   headers={"Authorization": f"Bearer {api_key}"})

    def get(self, path: str, **params: Any) -> Any:
        response = self.client.get(path, params=params)
        response.raise_for_status()
        return response.json()

    def contact(self, external_id: str) -> dict[str, Any] | None:
        results = self.get("/api/v1/contacts/", external_id=external_id)["results"]
        return results[0] if results else None

    def events(self, contact_id: int) -> list[dict[str, Any]]:
        return self.get("/api/v1/events/", contact=contact_id, page_size=500)["results"]

    def deals(self, contact_id: int) -> list[dict[str, Any]]:
        return self.get("/api/v1/deals/", contact=contact_id, page_size=500)["results"]

    def close(self) -> None:
        self.client.close()


def eventually(check: Callable[[], T], *, timeout: float = 60, what: str = "") -> T:
    """``check()``'s first truthy answer; its exceptions and falsy answers mean "not yet"."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            value = check()
            if value:
                return value
            last = value
        except (AssertionError, httpx.HTTPError, KeyError, IndexError) as exc:
            last = exc
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g} s: {what or check} (last: {last!r})")
        time.sleep(0.5)


def mails(directory: Path) -> list[email.message.EmailMessage]:
    found = []
    for path in sorted(directory.glob("**/*.eml")):
        found.append(email.message_from_bytes(path.read_bytes(), policy=email.policy.default))
    return found


def mail_text(message: email.message.EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    return part.get_content() if part is not None else ""


def mail_html(message: email.message.EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    return part.get_content() if part is not None else ""
