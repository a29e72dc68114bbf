"""Bench-only settings and URLconf for bench/tracking_pixel.py: Kith's own settings and URLs plus one bare view.
Never imported by the product."""
