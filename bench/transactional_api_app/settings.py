"""Kith's production settings (KITH_ENV=production from the environment), with a URLconf that adds the baseline
view ``POST /bench/txinsert/``. Nothing else differs from what gunicorn serves in production."""

from __future__ import annotations

from kith.settings import *

ROOT_URLCONF = "transactional_api_app.urls"
