"""Kith's settings (as the environment gives them), with a URLconf that adds the baseline view."""

from __future__ import annotations

from kith.settings import *

ROOT_URLCONF = "ingest_batch_app.urls"
