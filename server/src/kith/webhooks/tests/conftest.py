from kith.webhooks.tests.receiver import receiver  # noqa: F401  (fixture)
