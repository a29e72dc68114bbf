"""Signal receivers, connected only for the models crmify is configured to watch (never for every model)."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save

from crmify import conf, outbox

_connected: list[tuple[Any, Any, str]] = []


def on_lead_saved(sender: type, instance: Any, raw: bool = False, **kwargs: Any) -> None:
    if raw:  # loaddata: fixtures are not host activity
        return
    outbox.record_save(instance)


def on_lead_deleted(sender: type, instance: Any, **kwargs: Any) -> None:
    outbox.record_delete(instance.pk)


def on_status_saved(sender: type, instance: Any, raw: bool = False, **kwargs: Any) -> None:
    if raw:
        return
    lead_obj, status = instance.lead_status()
    if lead_obj is not None and status:
        outbox.record_change(lead_obj, status=status)


def related_saved_receiver(path: str) -> Any:
    def on_related_saved(sender: type, instance: Any, raw: bool = False, **kwargs: Any) -> None:
        if raw:
            return
        lead_obj = conf.mapper_class()().lookup_value(path, instance) if path else instance
        if lead_obj is not None and lead_obj.pk is not None:
            outbox.record_change(lead_obj)

    return on_related_saved


def connect() -> None:
    """(Re)connect receivers for the configured models. Called at start-up and when CRMIFY changes in tests."""
    disconnect()
    lead_model = conf.lead_model()
    _connect(post_save, on_lead_saved, lead_model, "crmify.lead_saved")
    _connect(post_delete, on_lead_deleted, lead_model, "crmify.lead_deleted")
    status_model = conf.status_model()
    if status_model is not None:
        _connect(post_save, on_status_saved, status_model, "crmify.status_saved")
    for model_path, path in (conf.get("RELATED_MODELS") or {}).items():
        model = conf.apps.get_model(conf.model_label(model_path))
        _connect(post_save, related_saved_receiver(path), model, f"crmify.related_saved.{model._meta.label}")


def _connect(signal: Any, receiver: Any, sender: Any, uid: str) -> None:
    signal.connect(receiver, sender=sender, dispatch_uid=uid, weak=False)
    _connected.append((signal, sender, uid))


def disconnect() -> None:
    while _connected:
        signal, sender, uid = _connected.pop()
        signal.disconnect(sender=sender, dispatch_uid=uid)
