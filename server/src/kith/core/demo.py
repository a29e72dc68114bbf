"""The shape of demo data: ordered steps that each app contributes, run by ``manage.py kith_demo``.

A step is a function taking the ``DemoContext``. The accounts step runs first and fills in ``owner`` and
``workspace``; later steps (contacts, deals, campaigns, ...) build on them. Every step must be idempotent — look
up what it would create and skip it when present — because ``make run`` runs the demo at every start. Steps write
through their app's services, so the demo also produces the audit rows and jobs real use would.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.db import transaction

if TYPE_CHECKING:  # core sits below accounts; the types are only needed by the type checker
    from kith.accounts.models import User, Workspace


@dataclass
class DemoContext:
    """What demo steps share. ``say`` prints a progress line; ``summary`` lines are printed once at the end."""

    say: Callable[[str], None]
    owner: User | None = None
    workspace: Workspace | None = None
    summary: list[str] = field(default_factory=list)

    def require_workspace(self) -> tuple[User, Workspace]:
        """The demo owner and workspace, for steps that run after the accounts step."""
        if self.owner is None or self.workspace is None:
            raise RuntimeError("Demo steps are out of order: the accounts step must run first.")
        return self.owner, self.workspace


DemoStep = Callable[[DemoContext], None]


def demo_run(*, steps: Sequence[DemoStep], say: Callable[[str], None]) -> DemoContext:
    """Run ``steps`` in order in one transaction, so a failing step leaves no half-built demo behind."""
    context = DemoContext(say=say)
    with transaction.atomic():
        for step in steps:
            step(context)
    return context
