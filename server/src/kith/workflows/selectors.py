"""Reads of workflows, runs and the per-workflow funnel. Workflows are shared by the workspace (every member sees
them); runs are listed through the contacts the caller may see."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, QuerySet

from kith.accounts.models import Membership, Workspace
from kith.contacts import selectors as contact_selectors
from kith.core.errors import NotFound
from kith.workflows.models import Run, RunState, RunStep, Workflow


def workflow_list(*, workspace: Workspace) -> QuerySet[Workflow]:
    return Workflow.objects.for_workspace(workspace).select_related("current_version").order_by("-id")


def workflow_get(*, workspace: Workspace, workflow_id: int) -> Workflow:
    workflow = workflow_list(workspace=workspace).filter(pk=workflow_id).first()
    if workflow is None:
        raise NotFound("No such workflow.")
    return workflow


def run_list(*, workspace: Workspace, membership: Membership | None, workflow: Workflow | None = None,
             contact_id: int | None = None) -> QuerySet[Run]:
    """Runs, newest first, of contacts ``membership`` may see."""
    visible = contact_selectors.contact_list(workspace=workspace, membership=membership).values("pk")
    runs = (Run.objects.for_workspace(workspace).filter(contact_id__in=visible)
            .select_related("workflow", "version", "contact").prefetch_related("steps").order_by("-id"))
    if workflow is not None:
        runs = runs.filter(workflow=workflow)
    if contact_id is not None:
        runs = runs.filter(contact_id=contact_id)
    return runs


@dataclass
class FunnelStep:
    step_id: str
    kind: str
    executed: int
    waiting: int


@dataclass
class Funnel:
    entered: int
    running: int
    waiting: int
    completed: int
    goal_reached: int
    exited: int
    failed: int
    steps: list[FunnelStep]


def workflow_funnel(*, workflow: Workflow) -> Funnel:
    """Entered, and where the runs are now: per state, and per step how many executed it and how many wait there
    (of the current version's steps; runs on older versions count where their step ids match). Three GROUP BY
    queries, whatever the number of runs."""
    states = Counter(dict(workflow.runs.values_list("state").annotate(n=Count("id")).order_by()))
    waiting_at = Counter(dict(workflow.runs.filter(state=RunState.WAITING).values_list("current_step")
                              .annotate(n=Count("id")).order_by()))
    executed = Counter(dict(RunStep.objects.filter(run__workflow=workflow)
                            .values_list("step_id").annotate(n=Count("run_id", distinct=True)).order_by()))
    steps: list[dict[str, Any]] = workflow.current_version.definition["steps"] if workflow.current_version else []
    return Funnel(
        entered=sum(states.values()), running=states[RunState.RUNNING], waiting=states[RunState.WAITING],
        completed=states[RunState.COMPLETED], goal_reached=states[RunState.GOAL_REACHED],
        exited=states[RunState.EXITED], failed=states[RunState.FAILED],
        steps=[FunnelStep(step_id=step["id"], kind=step["kind"], executed=executed[step["id"]],
                          waiting=waiting_at[step["id"]]) for step in steps],
    )
