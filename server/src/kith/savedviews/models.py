"""Saved views: a named list page layout (filters, visible columns, sort key) of contacts, companies or deals."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.db import models

from kith.core.models import WorkspaceOwnedModel


class ListKind(models.TextChoices):
    CONTACT = "contact", "Contacts"
    COMPANY = "company", "Companies"
    DEAL = "deal", "Deals"


class SavedView(WorkspaceOwnedModel):
    """What a list page shows, by name. ``query`` is the page's own filter query string (``lifecycle_stage=lead&
    tag=vip``), so a view is exactly a URL of the list and needs no filter language of its own; ``columns`` and
    ``sort`` name list columns (``email``, ``attr.plan``; ``-attr.seats`` sorts descending)."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=ListKind.choices)
    name = models.CharField(max_length=100)
    query = models.CharField(max_length=2000, blank=True)
    columns = models.JSONField(default=list, blank=True)
    sort = models.CharField(max_length=80, blank=True)
    # Shared views appear in every member's list; personal ones only in their owner's.
    shared = models.BooleanField(default=False)

    class Meta:
        constraints = [
            # Saving under a name one already uses replaces that view.
            models.UniqueConstraint(fields=["workspace", "kind", "owner", "name"], name="savedview_unique_name"),
        ]
        indexes = [
            # The views menu of a list page: the member's own and the shared views of one kind.
            models.Index(fields=["workspace", "kind", "shared"], name="savedview_ws_kind_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def list_query(self) -> str:
        """The list page's query string that shows this view."""
        extra = {"view": self.pk}
        if self.columns:
            extra["columns"] = ",".join(self.columns)
        if self.sort:
            extra["sort"] = self.sort
        return "&".join(part for part in (self.query, urlencode(extra)) if part)
