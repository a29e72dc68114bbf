"""Normalization of the plain fields of contacts and companies, shared by every write path.

Pure functions over values: no queries. References (company, owner) and custom attributes need the database or the
workspace's definitions and are resolved by the services. Inputs may come as JSON (the API) or as text (imports),
so numbers and times are also accepted as strings.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import zoneinfo
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import phonenumbers
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from kith.contacts.attributes import printable
from kith.contacts.errors import FieldErrors
from kith.contacts.models import CompanySize, ConsentState, LeadStatus, LifecycleStage

# Scores are relative; a bound keeps sums over a workspace far from integer overflow.
MAX_ENGAGEMENT_SCORE = 1_000_000
# Long enough for any formatting people type ("+1 (415) 555-0123 ext. 99"); libphonenumber itself stops at 250.
MAX_PHONE_INPUT = 64
_LOCALE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$")
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_PLAIN_EMAIL = re.compile(r"[a-z0-9_%+-]+(?:\.[a-z0-9_%+-]+)*@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}",
                          re.ASCII | re.IGNORECASE)

CONTACT_TEXT_FIELDS = {"first_name": 150, "last_name": 150, "external_id": 255, "source": 100}
COMPANY_TEXT_FIELDS = {"name": 255, "industry": 100}
CONTACT_CHOICE_FIELDS: dict[str, type[Any]] = {
    "lifecycle_stage": LifecycleStage,
    "lead_status": LeadStatus,
    "email_consent": ConsentState,
    "sms_consent": ConsentState,
}
# Fields the services resolve themselves (references, custom attributes).
CONTACT_REFERENCE_FIELDS = frozenset({"company", "owner", "attributes"})
CONTACT_FIELDS = frozenset(
    {*CONTACT_TEXT_FIELDS, *CONTACT_CHOICE_FIELDS, *CONTACT_REFERENCE_FIELDS, "email", "phone", "timezone",
     "locale", "engagement_score", "last_seen_at"}
)
COMPANY_FIELDS = frozenset({*COMPANY_TEXT_FIELDS, "domain", "size", "owner", "attributes"})


def normalize_email(value: Any) -> str:
    """Trimmed and lower-cased; blank stays blank. Raises ``ValueError``."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError("Expected an e-mail address.")
    email = value.strip()
    if not email:
        return ""
    if len(email) > 254:
        raise ValueError("E-mail addresses are at most 254 characters long.")
    if _PLAIN_EMAIL.fullmatch(email):
        # The common case, and what imports meet a million times: a plain ASCII address. The pattern accepts a
        # strict subset of what validate_email accepts and needs no IDNA step, so the result is the same, faster.
        return email.lower()
    try:
        validate_email(email)
        local, _, domain = email.rpartition("@")
        # One mailbox, one spelling: internationalized domains are kept in their ASCII (punycode) form, so the
        # address is ASCII and lower() means the same in Python, SQLite and PostgreSQL.
        email = f"{local}@{domain.encode('idna').decode('ascii')}".lower()
    except (DjangoValidationError, UnicodeError) as exc:
        raise ValueError("Enter a valid e-mail address.") from exc
    if len(email) > 254 or not email.isascii():
        raise ValueError("Enter a valid e-mail address.")
    return email


def normalize_phone(value: Any, *, region: str) -> str:
    """E.164 (``+14155550123``); numbers without a country code are read as numbers of ``region``."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError("Expected a phone number as text.")
    text = value.strip()
    if not text:
        return ""
    if len(text) > MAX_PHONE_INPUT:
        raise ValueError(f"Phone numbers are at most {MAX_PHONE_INPUT} characters long.")
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError("Enter a valid phone number, such as +14155550123.") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError("Enter a valid phone number, such as +14155550123.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_domain(value: Any) -> str:
    """A bare, lower-case host name: ``https://www.Example.com/about`` → ``example.com``. Internationalized names
    are stored in their ASCII (punycode) form so that one company cannot exist under two spellings."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError("Expected a domain name.")
    text = value.strip().lower()
    if not text:
        return ""
    if "\x00" in text or any(ch.isspace() for ch in text):
        raise ValueError("Enter a domain name such as example.com.")
    if "://" not in text:
        text = f"//{text}"
    try:
        host = urlsplit(text).hostname or ""
    except ValueError as exc:
        raise ValueError("Enter a domain name such as example.com.") from exc
    host = host.rstrip(".").removeprefix("www.")
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise ValueError("Enter a domain name such as example.com.") from exc
    labels = host.split(".")
    if len(host) > 253 or len(labels) < 2 or not all(_LABEL.match(label) for label in labels) or labels[-1].isdigit():
        raise ValueError("Enter a domain name such as example.com.")
    return host


@functools.cache
def _timezones() -> frozenset[str]:
    # available_timezones() walks the tz database on disk; once per process is enough.
    return frozenset(zoneinfo.available_timezones())


def validate_timezone(value: Any) -> str:
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or value.strip() not in _timezones():
        raise ValueError("Use an IANA time zone name such as Europe/Berlin.")
    return value.strip()


def normalize_locale(value: Any) -> str:
    """A BCP 47 tag with a hyphen separator: ``pt_br`` → ``pt-BR``."""
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or len(value.strip()) > 35 or not _LOCALE.match(value.strip()):
        raise ValueError("Use a language tag such as en or pt-BR.")
    parts = value.strip().replace("_", "-").split("-")
    out = [parts[0].lower()]
    for part in parts[1:]:
        out.append(part.upper() if len(part) == 2 else part.title() if len(part) == 4 else part.lower())
    return "-".join(out)


def _text(value: Any, *, max_length: int) -> str:
    if value is None:
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise ValueError("Expected text.")
    if "\x00" in value:
        raise ValueError("Text may not contain NUL characters.")
    value = value.strip()
    if len(value) > max_length:
        raise ValueError(f"At most {max_length} characters.")
    return value


def _choice(value: Any, *, choices: type[Any]) -> str:
    if isinstance(value, str) and value.strip().lower() in choices.values:
        return str(value.strip().lower())
    raise ValueError(f"Choose one of: {', '.join(choices.values)}.")


def _score(value: Any) -> int:
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,9}\s*", value):
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError("Expected a whole number.")
    if abs(value) > MAX_ENGAGEMENT_SCORE:
        raise ValueError(f"Scores lie between -{MAX_ENGAGEMENT_SCORE:,} and {MAX_ENGAGEMENT_SCORE:,}.")
    return value


def _moment(value: Any) -> dt.datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            parsed = parse_datetime(value.strip())
        except ValueError as exc:
            raise ValueError("Expected a date and time such as 2024-05-31T14:00:00Z.") from exc
        value = parsed
    if not isinstance(value, dt.datetime):
        raise ValueError("Expected a date and time such as 2024-05-31T14:00:00Z.")
    if timezone.is_naive(value):
        value = timezone.make_aware(value, dt.UTC)
    try:
        return value.astimezone(dt.UTC)
    except OverflowError as exc:
        raise ValueError("This date and time is out of range.") from exc


def contact_fields_clean(raw: Mapping[str, Any], *, phone_region: str) -> tuple[dict[str, Any], FieldErrors]:
    """Normalize the plain contact fields present in ``raw``. References and attributes are passed through
    untouched for the service to resolve; unknown field names are errors."""
    errors = FieldErrors()
    clean: dict[str, Any] = {}
    for name, value in raw.items():
        try:
            if name in CONTACT_TEXT_FIELDS:
                clean[name] = _text(value, max_length=CONTACT_TEXT_FIELDS[name])
            elif name in CONTACT_CHOICE_FIELDS:
                clean[name] = _choice(value, choices=CONTACT_CHOICE_FIELDS[name])
            elif name == "email":
                clean[name] = normalize_email(value)
            elif name == "phone":
                clean[name] = normalize_phone(value, region=phone_region)
            elif name == "timezone":
                clean[name] = validate_timezone(value)
            elif name == "locale":
                clean[name] = normalize_locale(value)
            elif name == "engagement_score":
                clean[name] = _score(value)
            elif name == "last_seen_at":
                clean[name] = _moment(value)
            elif name in CONTACT_REFERENCE_FIELDS:
                clean[name] = value
            else:
                errors.add(printable(str(name)), "Unknown field.")
        except ValueError as exc:
            errors.add(name, str(exc))
    return clean, errors


def company_fields_clean(raw: Mapping[str, Any]) -> tuple[dict[str, Any], FieldErrors]:
    """Normalize the plain company fields present in ``raw`` (see ``contact_fields_clean``)."""
    errors = FieldErrors()
    clean: dict[str, Any] = {}
    for name, value in raw.items():
        try:
            if name in COMPANY_TEXT_FIELDS:
                clean[name] = _text(value, max_length=COMPANY_TEXT_FIELDS[name])
            elif name == "domain":
                clean[name] = normalize_domain(value)
            elif name == "size":
                clean[name] = "" if value in (None, "") else _choice(value, choices=CompanySize)
            elif name in ("owner", "attributes"):
                clean[name] = value
            else:
                errors.add(printable(str(name)), "Unknown field.")
        except ValueError as exc:
            errors.add(name, str(exc))
    if "name" in clean and not clean["name"]:
        errors.add("name", "A company needs a name.")
    return clean, errors
