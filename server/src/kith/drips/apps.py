from django.apps import AppConfig


class DripsConfig(AppConfig):
    name = "kith.drips"
    label = "drips"
    verbose_name = "Drip sequences"

    def ready(self) -> None:
        # Enrollment and exits follow segment membership, processed events and contact writes; registered here so
        # that web processes and workers subscribe alike.
        from kith.contacts.hooks import contacts_changed_subscribe
        from kith.drips import engine
        from kith.events.hooks import events_processed_subscribe
        from kith.segments.hooks import segment_membership_changed_subscribe

        segment_membership_changed_subscribe(engine.on_segment_membership_changed)
        events_processed_subscribe(engine.on_events_processed)
        contacts_changed_subscribe(engine.on_contacts_changed)
