"""Kith: a self-hosted CRM and marketing-automation server."""

from kith.celery import app as celery_app

__all__ = ["celery_app"]
