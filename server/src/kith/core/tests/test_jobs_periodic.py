"""Periodic jobs: one schedule file for both runners, and one start per slot however many workers race for it."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import tomllib
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connections

from kith.celery import app as celery_app
from kith.core import clock
from kith.core.jobs.celery_runner import run_periodic_task
from kith.core.jobs.models import Job, ScheduleState
from kith.core.jobs.periodic import (
    periodic_slot_claim,
    periodic_slots_due,
    periodic_tick,
)
from kith.core.jobs.registry import job_function_get
from kith.core.jobs.schedule import (
    SCHEDULE_PATH,
    PeriodicJob,
    schedule_load,
    schedule_parse,
)
from kith.core.jobs.sweeper import jobs_sweep
from kith.core.tests.jobs_processes import committing_db
from kith.core.tests.jobs_support import record_job

MINUTE = dt.timedelta(seconds=60)
SWEEP = PeriodicJob(name=jobs_sweep.name, every=MINUTE, why="test")


@pytest.mark.django_db
def test_two_workers_that_see_the_same_due_slot_start_the_periodic_job_once() -> None:
    now = clock.now()
    # given two workers that both read the schedule before either took the due slot
    seen_by_a = periodic_slots_due(entries=[SWEEP], now=now)
    seen_by_b = periodic_slots_due(entries=[SWEEP], now=now)
    assert seen_by_a == seen_by_b and len(seen_by_a) == 1

    # when both try to take it
    taken_by_a = periodic_slot_claim(slot=seen_by_a[0], now=now)
    taken_by_b = periodic_slot_claim(slot=seen_by_b[0], now=now)

    # then exactly one of them queued the job, and the schedule moved to the next slot
    assert (taken_by_a is None) != (taken_by_b is None)
    assert Job.objects.filter(name=SWEEP.name).count() == 1
    assert ScheduleState.objects.get(name=SWEEP.name).next_run_at == now + MINUTE


@committing_db
def test_concurrent_workers_ticking_through_the_same_slots_start_each_slot_once() -> None:
    start = clock.now()
    slots = 15
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for i in range(slots):
                barrier.wait(timeout=10)  # both workers tick for the same slot at the same moment
                periodic_tick(entries=[SWEEP], now=start + MINUTE * i)
        except BaseException as exc:  # noqa: BLE001 (re-raised in the test thread below)
            errors.append(exc)
        finally:
            connections.close_all()

    # when two workers (threads, each with its own database connection) tick through the same slots together
    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    # then every slot was started exactly once
    assert errors == []
    assert Job.objects.filter(name=SWEEP.name).count() == slots


@pytest.mark.django_db
def test_runner_that_was_down_for_several_periods_runs_a_periodic_job_once_and_keeps_its_grid() -> None:
    start = clock.now()
    periodic_tick(entries=[SWEEP], now=start)
    # when the next tick comes 3.5 periods later
    created = periodic_tick(entries=[SWEEP], now=start + MINUTE * 3.5)

    # then the missed slots are coalesced into one run, and the next slot stays on the original grid
    assert len(created) == 1
    assert ScheduleState.objects.get(name=SWEEP.name).next_run_at == start + MINUTE * 4
    assert periodic_tick(entries=[SWEEP], now=start + MINUTE * 3.9) == []


def test_celery_beat_schedule_is_built_from_the_schedule_file() -> None:
    # given the schedule file as written
    raw = tomllib.loads(SCHEDULE_PATH.read_text(encoding="utf-8"))["job"]

    # then beat has one entry per [[job]], sending its name to kith.jobs.periodic at its cadence
    beat = celery_app.conf.beat_schedule
    assert sorted(beat) == sorted(entry["name"] for entry in raw)
    for entry in raw:
        assert beat[entry["name"]]["task"] == "kith.jobs.periodic"
        assert beat[entry["name"]]["args"] == [entry["name"]]
        assert beat[entry["name"]]["schedule"] == dt.timedelta(seconds=entry["every"])


def test_every_scheduled_job_is_a_registered_argument_free_job_with_a_reason() -> None:
    entries = schedule_load()
    assert jobs_sweep.name in {entry.name for entry in entries}
    for entry in entries:
        function = job_function_get(entry.name)
        function.check_kwargs({})
        assert len(entry.why) > 20


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[[job]]\nname = "a.b"\nevery = 0\nwhy = "x"\n', "every must be"),
        ('[[job]]\nname = "a.b"\nevery = true\nwhy = "x"\n', "every must be"),
        ('[[job]]\nname = "a.b"\nevery = 60\n', "missing"),
        ('[[job]]\nname = "a.b"\nevery = 60\nwhy = " "\n', "why must say"),
        ('[[job]]\nname = "a.b"\nevery = 60\nwhy = "x"\nqueue = "q"\n', "unknown"),
        ('[[job]]\nname = "a.b"\nevery = 60\nwhy = "x"\n' * 2, "more than once"),
        ('[[job]]\nname = "nodots"\nevery = 60\nwhy = "x"\n', "dotted path"),
    ],
    ids=["zero", "bool", "no-why", "blank-why", "unknown-key", "duplicate", "not-dotted"],
)
def test_invalid_schedule_file_is_refused_naming_the_problem(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "schedule.toml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ImproperlyConfigured, match=message):
        schedule_parse(path=path)


@committing_db
def test_celery_periodic_task_runs_a_scheduled_job_and_ignores_names_not_in_the_schedule(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # when beat's message names the sweeper, and a stray message names a job that is not scheduled
    run_periodic_task(jobs_sweep.name)
    with caplog.at_level(logging.ERROR, logger="kith.jobs"):
        run_periodic_task(record_job.name)

    # then the sweeper ran as a job row, and the stray name started nothing
    assert Job.objects.get(name=jobs_sweep.name).status == Job.Status.DONE
    assert not Job.objects.filter(name=record_job.name).exists()
    assert "not in schedule.toml" in caplog.text
