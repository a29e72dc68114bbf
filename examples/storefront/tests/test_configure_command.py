"""``storefront_configure_kith`` without a Kith: its input checks and its answer when Kith is unreachable (a clear
CommandError, never a traceback). Against a real Kith it runs in the end-to-end test."""

from __future__ import annotations

import socket

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from cars.kith_workspace import workflow_specs


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize(("args", "message"), [
    (["--templates", "welcome=x"], "is not one of"),
    (["--templates", "hello=1"], "is not one of"),
    (["--api-key", ""], "Give --kith-url and --api-key"),
    (["--abandoned-after-seconds", "0"], "must be positive"),
    (["--bootstrap-file", "/nonexistent/boot.json"], "--bootstrap-file"),
])
def test_bad_arguments_are_refused_clearly(args: list[str], message: str) -> None:
    base = ["--kith-url", "http://127.0.0.1:9", "--api-key", "kith_x"]
    with pytest.raises(CommandError, match=message):
        call_command("storefront_configure_kith", *base, *args)


def test_missing_template_ids_are_named() -> None:
    with pytest.raises(CommandError, match="thank_you, abandoned_sms"):
        call_command("storefront_configure_kith", "--kith-url", f"http://127.0.0.1:{closed_port()}",
                     "--api-key", "kith_x", "--templates", "welcome=1")


def test_an_unreachable_kith_is_a_clear_error() -> None:
    with pytest.raises(CommandError, match="cannot reach Kith"):
        call_command("storefront_configure_kith", "--kith-url", f"http://127.0.0.1:{closed_port()}",
                     "--api-key", "kith_x", "--templates", "welcome=1,thank_you=2,abandoned_sms=3")


def test_the_abandoned_purchase_workflow_waits_then_texts_unless_completed() -> None:
    specs = {s["name"]: s for s in workflow_specs(templates={"welcome": 1, "thank_you": 2, "abandoned_sms": 3},
                                                  abandoned_after={"minutes": 30})}
    chase = specs["Kars: abandoned purchase SMS"]
    assert chase["trigger_config"]["event"] == "Purchase Abandoned"
    assert chase["goal_event"] == "Purchase Completed"
    wait, sms = chase["definition"]["steps"]
    assert (wait["kind"], wait["event"], wait["timeout"], wait["next"], wait["timeout_next"]) == (
        "wait_event", "Purchase Completed", {"minutes": 30}, None, "sms")
    assert (sms["kind"], sms["template"]) == ("send_sms", 3)
