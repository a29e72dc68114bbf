"""The CRM is down for 1,000 host saves; no host request fails, and afterwards the CRM holds exactly the host's
final state (Insightly stand-in on a real socket, delivery by the background thread during the whole run)."""

import random
import time

import pytest
from django.contrib.auth.models import User
from django.test import override_settings

from crmify import delivery
from crmify.models import OutboxEntry
from tests.standins import InsightlyStandIn

pytestmark = pytest.mark.django_db(transaction=True)

NAMES = ["Zoë", "Łukasz", "Søren", "José", "Ólafur", "Nguyễn", "李", "Ελένη", "Мария", "Ana"]


def test_thousand_saves_during_an_outage_converge(client):
    rng = random.Random(7)
    with InsightlyStandIn() as crm, override_settings(CRMIFY={
        "BACKEND": "crmify.backends.insightly.InsightlyBackend",
        "BACKEND_AUTH": {"api_key": InsightlyStandIn.API_KEY, "base_url": f"{crm.url}/v3.1"},
        "DELIVERY": "thread", "MAX_ATTEMPTS": 10_000, "RETRY_BASE_SECONDS": 1.0, "RETRY_MAX_SECONDS": 4.0,
        "TIMEOUT_SECONDS": 2.0,
    }):
        alive: list[int] = []
        # A few users reach the CRM before the outage.
        for n in range(20):
            response = client.post("/signup/", {"username": f"pre{n}", "first_name": "Pre", "email": f"pre{n}@x.org"})
            alive.append(response.json()["id"])
        wait_until(lambda: not OutboxEntry.objects.filter(status="pending").exists())
        crm.stop()

        for n in range(1000):
            action = rng.random()
            if action < 0.5 or len(alive) < 5:
                name = rng.choice(NAMES)
                response = client.post("/signup/", {"username": f"u{n}", "first_name": name,
                                                    "last_name": f"{rng.choice(NAMES)}-{n}", "email": f"u{n}@x.org"})
                assert response.status_code == 201
                alive.append(response.json()["id"])
            elif action < 0.85:
                response = client.post(f"/users/{rng.choice(alive)}/rename/", {"first_name": f"{rng.choice(NAMES)}{n}"})
                assert response.status_code == 200
            else:
                victim = alive.pop(rng.randrange(len(alive)))
                assert client.post(f"/users/{victim}/close/").status_code == 204

        assert OutboxEntry.objects.filter(status="pending").exists()
        assert not OutboxEntry.objects.filter(status="dead").exists()
        crm.start_again()
        delivery.kick()
        wait_until(lambda: not OutboxEntry.objects.filter(status="pending").exists(), timeout=120)

        host = {u.email: (u.first_name, u.last_name) for u in User.objects.all()}
        in_crm = {r["EMAIL"]: (r.get("FIRST_NAME") or "", r["LAST_NAME"]) for r in crm.records.values()}
        assert in_crm == {email: (first, last or email) for email, (first, last) in host.items()}
        assert len(crm.records) == len(alive) == User.objects.count()


def wait_until(condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("condition not reached in time")
