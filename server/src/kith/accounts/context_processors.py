from typing import Any

from django.http import HttpRequest

from kith.accounts import selectors


def workspace(request: HttpRequest) -> dict[str, Any]:
    """The current workspace and membership, and (lazily) the user's other workspaces for the switcher."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "workspace": getattr(request, "workspace", None),
        "membership": getattr(request, "membership", None),
        "my_memberships": lambda: list(selectors.membership_list_for_user(user=user)),
    }
