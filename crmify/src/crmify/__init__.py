"""crmify: hand a Django application's CRM work to a CRM (Kith, Insightly, HubSpot).

The public calls below only write to the host's database (an outbox entry, in the caller's transaction); the CRM is
talked to in the background. See the README.
"""

from __future__ import annotations

from typing import Any

__version__ = "2.0.0.dev0"


def track(obj: Any, event: str, properties: dict[str, Any] | None = None, *, timestamp: str | None = None) -> None:
    """Report that the lead ``obj`` (a lead model instance) did ``event`` — e.g. "Purchase Completed"."""
    from crmify import outbox

    outbox.record_event(obj, event, properties, timestamp)


def identify(obj: Any) -> None:
    """Make sure the CRM has the lead for ``obj`` with its current values (queues a sync even if unchanged)."""
    from crmify import outbox

    outbox.record_change(obj, force=True)


def set_status(obj: Any, status: str) -> None:
    """Set the lead status the CRM should hold for ``obj``."""
    from crmify import outbox

    outbox.record_change(obj, status=status)


def convert(obj: Any) -> None:
    """The seed's "Basic Sales Funnel": the lead converted (LEAD_CONVERTED_STATUS)."""
    from crmify import conf

    set_status(obj, conf.get("LEAD_CONVERTED_STATUS"))


def disqualify(obj: Any) -> None:
    from crmify import conf

    set_status(obj, conf.get("LEAD_DEAD_STATUS"))
