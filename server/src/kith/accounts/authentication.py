"""DRF authentication with workspace API keys: ``Authorization: Bearer kith_<prefix>_<secret>``."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from kith.accounts.models import ApiKey
from kith.accounts.services import api_key_authenticate


class ApiKeyUser:
    """The ``request.user`` of a key-authenticated request: authenticated, acting for one workspace only."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False

    def __init__(self, api_key: ApiKey) -> None:
        self.api_key = api_key
        self.pk = None
        self.id = None
        self.email = f"api key {api_key.prefix}"

    def __str__(self) -> str:
        return self.email


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, ApiKey] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        parts = header.split()
        if len(parts) != 2 or parts[0] not in (self.keyword, "Token") or not parts[1].startswith("kith_"):
            return None
        key = api_key_authenticate(parts[1])
        if key is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        # The workspace of a key-authenticated request is the key's; nothing in the request can change it.
        request._request.workspace = key.workspace  # type: ignore[attr-defined]
        request._request.membership = None  # type: ignore[attr-defined]
        return ApiKeyUser(key), key

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """Describes API-key authentication in the OpenAPI document."""

    target_class = ApiKeyAuthentication
    name = "apiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "kith_<prefix>_<secret>",
            "description": "A workspace API key created under Settings → API keys.",
        }
