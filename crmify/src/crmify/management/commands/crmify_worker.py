"""Drain the outbox continuously (or once): the delivery process for hosts without Celery or web threads."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from crmify import delivery


class Command(BaseCommand):
    help = "Deliver crmify's outbox to the CRM backend, retrying with backoff."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--once", action="store_true", help="Drain what is due, then exit.")
        parser.add_argument("--interval", type=float, default=1.0, help="Seconds between polls when idle.")

    def handle(self, *args: Any, once: bool = False, interval: float = 1.0, **options: Any) -> None:
        while True:
            result = delivery.drain()
            if result.handled:
                self.stdout.write(f"delivered {result.delivered}, retrying {result.retried}, dead {result.dead}")
            if once:
                return
            close_old_connections()
            time.sleep(interval)
