"""Backfill and reconcile: queue a sync for every host record (``--all``) or for leads the CRM is behind on."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from crmify import conf, delivery, outbox


class Command(BaseCommand):
    help = "Queue syncs for existing records (--all) or for leads whose last sync is behind, then deliver them."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--all", action="store_true", help="Every record of the lead model, synced or not.")
        parser.add_argument("--no-deliver", action="store_true", help="Only queue; let the worker deliver.")

    def handle(self, *args: Any, all: bool = False, no_deliver: bool = False, **options: Any) -> None:
        queued = 0
        if all:
            for obj in conf.lead_model()._default_manager.order_by("pk").iterator(chunk_size=500):
                with transaction.atomic():
                    outbox.record_change(obj, force=True)
                queued += 1
        queued += delivery.requeue_behind()
        self.stdout.write(f"queued {queued} leads")
        if not no_deliver:
            result = delivery.drain()
            self.stdout.write(f"delivered {result.delivered}, retrying {result.retried}, dead {result.dead}")
