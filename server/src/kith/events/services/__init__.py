"""Writes of the events app: accepting raw events, processing them, and the workspace's event settings."""

from kith.events.services.accept import events_accept
from kith.events.services.processing import (
           events_process,
           events_process_pending,
           events_process_task,
)
from kith.events.services.settings import event_write_key_create, trait_mapping_update

__all__ = ["event_write_key_create", "events_accept", "events_process", "events_process_pending",
           "events_process_task", "trait_mapping_update"]
