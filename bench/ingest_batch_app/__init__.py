"""Bench-only settings and URLconf for bench/ingest_batch.py: Kith's own settings and URLs plus one bare view.
Never imported by the product."""
