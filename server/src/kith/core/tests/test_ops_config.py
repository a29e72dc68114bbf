"""Configuration: ``.env.example`` lists every variable the code reads, and production passes ``check --deploy``."""

from __future__ import annotations

import ast
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kith.core.tests.ops_support import REPO_DIR, SERVER_DIR

PACKAGE_DIR = SERVER_DIR / "src" / "kith"
ENV_EXAMPLE = REPO_DIR / ".env.example"
COMPOSE_FILE = REPO_DIR / "deploy" / "docker-compose.yml"

_ENV_HELPERS = {"env_str", "env_bool", "env_int", "env_list"}
# Django's own variable, set by manage.py/wsgi.py; choosing another settings module is not a Kith setting.
_NOT_KITH_SETTINGS = {"DJANGO_SETTINGS_MODULE"}
_ASSIGNMENT = re.compile(r"^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$")


def _string_constants(tree: ast.Module) -> dict[str, str]:
    """Module-level ``NAME = "VALUE"`` assignments, so ``os.environ.get(MULTIPROC_ENV)`` resolves too."""
    constants = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    constants[target.id] = node.value.value
    return constants


def _is_environ(node: ast.expr) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "environ"


def _variable_reads(tree: ast.Module) -> Iterator[ast.expr]:
    """The name argument of every ``env_*("X")``, ``os.environ.get("X")``, ``os.getenv("X")``, ``os.environ["X"]``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args:
            func = node.func
            helper = isinstance(func, ast.Name) and func.id in _ENV_HELPERS
            environ_get = isinstance(func, ast.Attribute) and func.attr == "get" and _is_environ(func.value)
            getenv = isinstance(func, ast.Attribute) and func.attr == "getenv"
            if helper or environ_get or getenv:
                yield node.args[0]
        elif isinstance(node, ast.Subscript) and _is_environ(node.value) and isinstance(node.ctx, ast.Load):
            yield node.slice


def variables_read_by(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    constants = _string_constants(tree)
    names = set()
    for arg in _variable_reads(tree):
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            names.add(arg.value)
        elif isinstance(arg, ast.Name) and arg.id in constants:
            names.add(constants[arg.id])
    return names


def variables_read_by_kith() -> set[str]:
    """Every variable read by settings.py and the rest of the package (tests excluded: they configure tests)."""
    names: set[str] = set()
    for path in PACKAGE_DIR.rglob("*.py"):
        if "tests" not in path.relative_to(PACKAGE_DIR).parts:
            names |= variables_read_by(path)
    return names - _NOT_KITH_SETTINGS


def env_example_entries() -> dict[str, int]:
    """``{name: line number}`` of the variables in .env.example, active (``X=``) or optional (``# X=``)."""
    entries = {}
    for number, line in enumerate(ENV_EXAMPLE.read_text().splitlines(), start=1):
        match = _ASSIGNMENT.match(line)
        if match:
            entries[match.group(2)] = number
    return entries


def compose_interpolations() -> set[str]:
    return set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", COMPOSE_FILE.read_text()))


def test_settings_py_reads_are_found_by_the_parser():
    # Guards the parser itself: nested and defaulted calls are found.
    found = variables_read_by(PACKAGE_DIR / "settings.py")

    assert {"SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL", "ALLOWED_HOSTS", "KITH_ENV"} <= found


def test_env_example_lists_every_variable_the_code_reads():
    missing = variables_read_by_kith() - set(env_example_entries())

    assert not missing, f"Add these to .env.example with a comment: {sorted(missing)}"


def test_env_example_lists_nothing_that_nobody_reads():
    # Docker compose reads the variables it interpolates (POSTGRES_PASSWORD) from the same file.
    stale = set(env_example_entries()) - variables_read_by_kith() - compose_interpolations()

    assert not stale, f"Nothing reads these any more; remove them from .env.example: {sorted(stale)}"


def test_every_variable_in_env_example_has_a_comment_above_it():
    lines = ENV_EXAMPLE.read_text().splitlines()
    for name, number in env_example_entries().items():
        above = lines[number - 2]
        assert above.startswith("#") and not _ASSIGNMENT.match(above), f"{name} needs a comment line above it"


def _production_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    # A clean environment: nothing from the developer's shell or from conftest leaks into the check.
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
        "HOME": str(tmp_path),
        "KITH_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "kith.example.com",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'deploy-check.sqlite3'}",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
        "KITH_DATA_DIR": str(tmp_path),
        "KITH_STATIC_ROOT": str(tmp_path / "static"),
    }
    env.update(overrides)
    return {name: value for name, value in env.items() if value}


def _manage(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=SERVER_DIR, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


@pytest.mark.slow
def test_check_deploy_is_clean_with_the_production_variables(tmp_path):
    env = _production_env(tmp_path)
    # As in the Docker build: static files are collected (hashed names, a manifest) before anything else runs.
    collected = _manage(["collectstatic", "--noinput", "--verbosity", "0"], env)
    assert collected.returncode == 0, collected.stderr
    assert (tmp_path / "static" / "staticfiles.json").exists()

    result = _manage(["check", "--deploy", "--fail-level", "WARNING"], env)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
    assert "WARNING" not in result.stdout + result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("variable", ["SECRET_KEY", "ALLOWED_HOSTS"])
def test_production_without_a_required_variable_refuses_to_start_and_names_it(tmp_path, variable):
    result = _manage(["check"], _production_env(tmp_path, **{variable: ""}))

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert f"Set the environment variable {variable}." in result.stderr
