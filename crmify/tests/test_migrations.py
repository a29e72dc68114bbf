"""crmify's migration creates its tables for the default and for a custom LEAD_MODEL (fresh databases)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("settings_module", ["tests.settings", "tests.settings_custom_lead"])
def test_migrate_from_scratch_and_nothing_left_to_make(tmp_path, settings_module):
    # Always a brand-new SQLite file: the point is a database that has never seen crmify.
    env = {key: value for key, value in os.environ.items() if key != "CRMIFY_TEST_DATABASE_URL"}
    env = {**env, "CRMIFY_TEST_DATA_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": settings_module,
           "PYTHONPATH": str(ROOT)}
    run = [sys.executable, "-m", "django"]
    migrate = subprocess.run([*run, "migrate", "--noinput"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert migrate.returncode == 0, migrate.stderr
    assert "Applying crmify.0001_initial... OK" in migrate.stdout
    check = subprocess.run([*run, "makemigrations", "crmify", "--check", "--dry-run"], cwd=ROOT, env=env,
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    fk = subprocess.run([*run, "shell", "-c",
                         "from crmify.models import Lead; print(Lead._meta.get_field('anchor').related_model._meta.label)"],
                        cwd=ROOT, env=env, capture_output=True, text=True)
    expected = "hostapp.Customer" if settings_module.endswith("custom_lead") else "auth.User"
    assert fk.stdout.strip().splitlines()[-1] == expected, fk.stderr  # 5.2's shell may print an import banner first
