"""Environment defaults for the test suite, loaded as a pytest plugin (``-p kith.pytest_env`` in pytest.ini).

It must run before pytest-django imports the settings, which happens before any conftest.py is read; an explicit
environment (the Makefile's PostgreSQL run, CI) still wins because these are only defaults.
"""

import os
from pathlib import Path

_SERVER_DIR = Path(__file__).resolve().parents[2]

os.environ.setdefault("KITH_JOBS_RUNNER", "immediate")
os.environ.setdefault("KITH_DATA_DIR", str(_SERVER_DIR / "var"))
os.environ.setdefault("KITH_LOG_FORMAT", "plain")
os.environ.setdefault("KITH_LOG_LEVEL", "WARNING")
os.environ.setdefault("KITH_EMAIL_VERIFICATION", "mandatory")
# The tenancy walk and the contract fuzzing send thousands of requests with one key; the rate-limit tests turn the
# limit on for themselves (kith/core/tests/test_ratelimit.py).
os.environ.setdefault("KITH_API_RATE_LIMIT", "0")
Path(os.environ["KITH_DATA_DIR"], "static").mkdir(parents=True, exist_ok=True)
