"""``manage.py storefront_configure_kith``: set up the Kith workspace the store reports to (see
``cars.kith_workspace``). Kith's REST API only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from cars.kith_workspace import TEMPLATE_KEYS, KithApi, KithConfigError, configure


def parse_templates(value: str) -> dict[str, int]:
    ids: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in value.split(","))):
        key, _, raw = part.partition("=")
        if key not in TEMPLATE_KEYS or not raw.isdigit():
            raise CommandError(f"--templates: {part!r} is not one of {', '.join(TEMPLATE_KEYS)}=<id>.")
        ids[key] = int(raw)
    return ids


def duration(seconds: int) -> dict[str, int]:
    """Kith's duration object, in minutes when whole (so the workflow builder shows "30 minutes")."""
    return {"minutes": seconds // 60} if seconds % 60 == 0 else {"seconds": seconds}


class Command(BaseCommand):
    help = "Configure the Kith workspace for the store: deal pipeline and workflows (welcome, SMS, thank-you)."

    def add_arguments(self, parser: CommandParser) -> None:
        auth = settings.CRMIFY.get("BACKEND_AUTH") or {}
        parser.add_argument("--kith-url", default=auth.get("base_url", ""), help="Kith's base URL (KITH_URL).")
        parser.add_argument("--api-key", default=auth.get("api_key", ""),
                            help="A Kith API key with read and write scopes (KITH_API_KEY).")
        parser.add_argument("--templates", default="",
                            help="Kith template ids: welcome=ID,thank_you=ID,abandoned_sms=ID.")
        parser.add_argument("--bootstrap-file", default="",
                            help="The JSON written by kith_setup/bootstrap.py (API key and template ids).")
        parser.add_argument("--pipeline", default=auth.get("pipeline", "Car sales"))
        parser.add_argument("--abandoned-after-seconds", type=int, default=30 * 60,
                            help="How long a purchase stays abandoned before the SMS (default 30 minutes).")

    def handle(self, *args: Any, **options: Any) -> None:
        api_key, templates = options["api_key"], parse_templates(options["templates"])
        if options["bootstrap_file"]:
            try:
                boot = json.loads(Path(options["bootstrap_file"]).read_text())
            except (OSError, ValueError) as exc:
                raise CommandError(f"--bootstrap-file: {exc}") from exc
            api_key = api_key or boot["api_key"]
            templates = {**{k: int(v) for k, v in boot.get("templates", {}).items()}, **templates}
        if not options["kith_url"] or not api_key:
            raise CommandError("Give --kith-url and --api-key (or set KITH_URL and KITH_API_KEY).")
        seconds = options["abandoned_after_seconds"]
        if seconds <= 0:
            raise CommandError("--abandoned-after-seconds must be positive.")
        api = KithApi(options["kith_url"], api_key)
        try:
            result = configure(api=api, templates=templates, pipeline=options["pipeline"],
                               abandoned_after=duration(seconds), say=self.stdout.write)
        except KithConfigError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            api.close()
        self.stdout.write(self.style.SUCCESS(
            f"Kith is configured: pipeline {result['pipeline']['name']!r}, "
            f"{len(result['workflows'])} active workflows."))
