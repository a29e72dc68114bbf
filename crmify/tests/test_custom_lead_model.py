"""A host whose LEAD_MODEL is a custom model (the seed's quick start): its suite runs in its own project settings,
in a subprocess, because the lead table's foreign key is fixed when that project first migrates."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_custom_lead_model_suite_passes():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--ds", "tests.settings_custom_lead",
         "-o", "python_files=check_*.py", "tests/custom_lead_suite"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "2 passed" in run.stdout, run.stdout[-2000:]
