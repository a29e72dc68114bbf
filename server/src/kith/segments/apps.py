from django.apps import AppConfig


class SegmentsConfig(AppConfig):
    name = "kith.segments"
    label = "segments"
    verbose_name = "Segments"

    def ready(self) -> None:
        # Membership follows contact writes and processed events (kith.segments.membership); registered here so
        # that web processes and workers subscribe alike.
        from kith.contacts.hooks import contacts_changed_subscribe
        from kith.events.hooks import events_processed_subscribe
        from kith.segments import membership

        contacts_changed_subscribe(membership.contacts_mark_dirty)
        events_processed_subscribe(membership.events_mark_dirty)
