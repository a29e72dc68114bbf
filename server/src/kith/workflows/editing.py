"""Pure edits of a definition for the builder: put a step (new or changed), remove one. The result is validated by
``workflow_update`` like any other definition; these functions only keep references consistent."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

TARGET_KEYS = ("next", "then", "else", "timeout_next")


def _retarget(step: dict[str, Any], old: str, new: str | None) -> None:
    for key in TARGET_KEYS:
        if step.get(key) == old:
            step[key] = new
    for branch in step.get("branches") or []:
        if isinstance(branch, dict) and branch.get("next") == old:
            branch["next"] = new


def step_put(definition: Mapping[str, Any] | None, *, step: dict[str, Any], replaces: str | None,
             after: str | None) -> dict[str, Any]:
    """Replace step ``replaces`` with ``step`` (references follow a renamed id), or insert ``step`` as new after
    step ``after`` (which then leads to it, and it to what ``after`` led to) or at the start."""
    steps: list[dict[str, Any]] = copy.deepcopy(list((definition or {}).get("steps", [])))
    if replaces is not None:
        for index, current in enumerate(steps):
            if current.get("id") == replaces:
                steps[index] = step
        if replaces != step["id"]:
            for other in steps:
                _retarget(other, replaces, step["id"])
        return {"steps": steps}
    if not after:
        if steps and "next" in step and not step.get("next"):
            step["next"] = steps[0].get("id")
        return {"steps": [step, *steps]}
    for index, current in enumerate(steps):
        if current.get("id") == after:
            if current.get("kind") not in ("if_else", "split", "exit"):
                # Splice in: after → new step → what "after" led to (branching steps are wired by hand).
                if "next" in step and not step.get("next"):
                    step["next"] = current.get("next")
                current["next"] = step["id"]
            steps.insert(index + 1, step)
            return {"steps": steps}
    return {"steps": [*steps, step]}


def step_remove(definition: Mapping[str, Any], *, step_id: str) -> dict[str, Any]:
    """Remove a step; whatever led to it now leads where it led (its ``next``), or ends."""
    steps: list[dict[str, Any]] = copy.deepcopy(list(definition.get("steps", [])))
    removed = next((s for s in steps if s.get("id") == step_id), None)
    if removed is None:
        return {"steps": steps}
    follow = removed.get("next")
    remaining = [s for s in steps if s.get("id") != step_id]
    for other in remaining:
        _retarget(other, step_id, follow if follow != step_id else None)
    return {"steps": remaining}
