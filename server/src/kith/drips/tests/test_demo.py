"""``kith_demo`` includes an active drip sequence with enrolled contacts, and running it again adds nothing."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from kith.drips.demo import NAME, STEPS
from kith.drips.models import Enrollment, Sequence

pytestmark = pytest.mark.django_db


def test_the_demo_has_an_active_welcome_series_and_is_idempotent():
    call_command("kith_demo", stdout=io.StringIO())
    sequence = Sequence.objects.get(name=NAME)
    assert sequence.is_active and sequence.steps.count() == len(STEPS)
    enrolled = Enrollment.objects.filter(sequence=sequence).count()
    assert enrolled > 0
    call_command("kith_demo", stdout=io.StringIO())
    assert Sequence.objects.filter(name=NAME).count() == 1
    assert Enrollment.objects.filter(sequence=sequence).count() == enrolled
