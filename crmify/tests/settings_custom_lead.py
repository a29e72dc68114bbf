"""The host project with a custom LEAD_MODEL and a status model, as the seed README's quick start has it."""

from tests.settings import *  # noqa: F403

CRMIFY = {
    "BACKEND": "crmify.backends.test.TestBackend",
    "LEAD_MODEL": "tests.hostapp.models.Customer",
    "LEAD_MODEL_FIELDMAPPER": "tests.hostapp.mappers.CustomerFieldMapper",
    "LEAD_STATUS_MODEL": "tests.hostapp.models.Purchase",
    "RELATED_MODELS": {"auth.User": "customer"},
    "DELIVERY": "manual",
    "RETRY_BASE_SECONDS": 0.0,
}

# Its own databases, so it can run while the default project's test run holds its own.
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    DATABASES["default"]["NAME"] = DATABASES["default"]["NAME"].replace(".sqlite3", "-custom.sqlite3")  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": DATABASES["default"]["TEST"]["NAME"].replace(".sqlite3", "-custom.sqlite3")}  # noqa: F405
else:
    DATABASES["default"]["NAME"] += "_custom"  # noqa: F405
