"""Kith's production settings (KITH_ENV=production from the environment), with a URLconf that adds the baseline
view. ``KITH_BENCH_FULL_STACK=1`` removes TrackingEndpointsMiddleware, so the pixel goes through every middleware
and the URL resolver like any other view (used to measure what the short-circuit is worth)."""

from __future__ import annotations

import os

from kith.settings import *

ROOT_URLCONF = "tracking_pixel_app.urls"
if os.environ.get("KITH_BENCH_FULL_STACK") == "1":
    MIDDLEWARE = [m for m in MIDDLEWARE if m != "kith.tracking.middleware.TrackingEndpointsMiddleware"]
