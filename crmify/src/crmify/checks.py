"""System checks: a misconfigured CRMIFY is reported at start-up with the setting to fix, not at the first save."""

from __future__ import annotations

from typing import Any

from django.core import checks
from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured
from django.utils.module_loading import import_string

from crmify import conf


def _error(msg: str, hint: str, code: int) -> checks.Error:
    return checks.Error(msg, hint=hint, id=f"crmify.E{code:03d}")


@checks.register()
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    try:
        settings = conf.raw()
    except ImproperlyConfigured as exc:
        return [_error(str(exc), "Set CRMIFY to a dict.", 1)]

    try:
        backend = import_string(settings["BACKEND"])
    except ImportError as exc:
        errors.append(_error(f"CRMIFY['BACKEND'] = {settings['BACKEND']!r} cannot be imported: {exc}",
                             "Give the dotted path of a backend class.", 2))
        backend = None
    if backend is not None:
        for method in ("sync_lead", "delete_lead"):
            if not callable(getattr(backend, method, None)):
                errors.append(_error(f"CRMIFY['BACKEND'] {settings['BACKEND']} has no {method}() method.",
                                     "A backend implements sync_lead(lead) and delete_lead(lead_id).", 3))
        needs_key = settings["BACKEND"].startswith(("crmify.backends.insightly", "crmify.backends.hubspot",
                                                     "crmify.backends.kith"))
        if needs_key and not conf.backend_auth().get("api_key"):
            errors.append(_error(f"{settings['BACKEND']} needs an API key and none is configured.",
                                 "Set CRMIFY_BACKEND_AUTH_API_KEY or CRMIFY['BACKEND_AUTH']['api_key'].", 4))

    lead_model = _model(settings, "LEAD_MODEL", errors, 5)
    try:
        mapper = import_string(settings["LEAD_MODEL_FIELDMAPPER"])
    except ImportError as exc:
        errors.append(_error(f"CRMIFY['LEAD_MODEL_FIELDMAPPER'] cannot be imported: {exc}",
                             "Give the dotted path of a LeadModelFieldMapper subclass.", 6))
        mapper = None
    if mapper is not None and lead_model is not None:
        errors.extend(_check_mapper(mapper, lead_model))

    status_model = _model(settings, "LEAD_STATUS_MODEL", errors, 9) if settings["LEAD_STATUS_MODEL"] else None
    if status_model is not None:
        from crmify.mixins import LeadStatusMixin

        if not issubclass(status_model, LeadStatusMixin) or "lead_status" not in _own_attrs(status_model):
            errors.append(_error(f"CRMIFY['LEAD_STATUS_MODEL'] {status_model._meta.label} must subclass "
                                 "crmify.mixins.LeadStatusMixin and implement lead_status().",
                                 "lead_status() returns (lead_model_instance, status).", 10))
    if settings["DELIVERY"] not in ("thread", "celery", "manual"):
        errors.append(_error(f"CRMIFY['DELIVERY'] = {settings['DELIVERY']!r} is not one of thread, celery, manual.",
                             "See the crmify README, section Delivery.", 11))
    return errors


def _own_attrs(model: type) -> set[str]:
    names: set[str] = set()
    for klass in model.__mro__:
        if klass.__module__.startswith("crmify."):
            continue
        names.update(vars(klass))
    return names


def _model(settings: dict[str, Any], key: str, errors: list[checks.CheckMessage], code: int) -> Any:
    try:
        return conf.apps.get_model(conf.model_label(settings[key]))
    except (ImproperlyConfigured, LookupError, ValueError) as exc:
        errors.append(_error(f"CRMIFY['{key}'] = {settings[key]!r} is not an installed model: {exc}",
                             "Give the dotted path (myapp.models.Customer) or label (myapp.Customer) of a model.",
                             code))
        return None


def _check_mapper(mapper: type, model: type) -> list[checks.CheckMessage]:
    from crmify.mappers import LeadModelFieldMapper, lead_field_names

    if not issubclass(mapper, LeadModelFieldMapper):
        return [_error(f"{mapper.__name__} is not a crmify.mappers.LeadModelFieldMapper subclass.",
                       "Subclass LeadModelFieldMapper.", 7)]
    errors: list[checks.CheckMessage] = []
    lead_fields = lead_field_names()
    for host_path, lead_field in [*mapper.field_mapping.items(), *mapper.fallbacks.items()]:
        if lead_field not in lead_fields:
            errors.append(_error(f"{mapper.__name__} maps to unknown Lead field {lead_field!r}.",
                                 f"Lead fields: {', '.join(sorted(lead_fields))}.", 8))
        first = host_path.split("__", 1)[0]
        try:
            model._meta.get_field(first)
        except FieldDoesNotExist:
            if not hasattr(model, first):
                errors.append(_error(f"{mapper.__name__} reads {host_path!r}, but {model._meta.label} has no "
                                     f"field or attribute {first!r}.", "Fix the field_mapping key.", 8))
    return errors
