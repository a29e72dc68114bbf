"""factory_boy factories for host projects' tests (``pip install crmify[testing]``)."""

from __future__ import annotations

import factory

from crmify.models import Lead


class LeadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lead

    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Sequence(lambda n: f"lead{n}@example.com")
    lead_source = "web"
    external_status = "NotContacted"
    anchor_key = factory.Sequence(lambda n: f"factory-{n}")
