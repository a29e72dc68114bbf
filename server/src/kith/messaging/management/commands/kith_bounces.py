"""``manage.py kith_bounces``: process the SMTP bounce Maildir once (see ``kith.messaging.bounces``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from kith.messaging.bounces import bounce_mailbox_process


class Command(BaseCommand):
    help = "Record the delivery status notifications waiting in the bounce Maildir (KITH_BOUNCE_MAILDIR)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--maildir", default=settings.KITH_BOUNCE_MAILDIR)

    def handle(self, *args: Any, **options: Any) -> None:
        report = bounce_mailbox_process(maildir=Path(options["maildir"]))
        self.stdout.write(f"{report.processed} DSN(s) recorded, {report.junk} other file(s) moved to .Junk")
