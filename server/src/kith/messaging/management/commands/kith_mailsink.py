"""``manage.py kith_mailsink``: the development SMTP sink in the foreground (see ``kith.messaging.mailsink``)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from kith.messaging.mailsink import mailsink_start


class Command(BaseCommand):
    help = "Run a local SMTP sink that stores every message under KITH_DATA_DIR/mailsink."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=settings.EMAIL_PORT)

    def handle(self, *args: Any, **options: Any) -> None:
        directory = Path(settings.KITH_DATA_DIR) / "mailsink"
        sink = mailsink_start(directory=directory, host=options["host"], port=options["port"])
        self.stdout.write(f"SMTP sink on {options['host']}:{sink.port}, storing to {directory}")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
        finally:
            sink.stop()
