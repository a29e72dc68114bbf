"""PLACEHOLDER — being written by the jobs helper."""
from __future__ import annotations

import json
from typing import Any

from django.db import transaction


def enqueue_on_commit(task, **kwargs: Any) -> None:
    payload = json.loads(json.dumps(kwargs))
    transaction.on_commit(lambda: task.func(**payload))
