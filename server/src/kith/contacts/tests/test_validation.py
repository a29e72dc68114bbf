import pytest

from kith.contacts.validation import (
    contact_fields_clean,
    normalize_domain,
    normalize_email,
    normalize_locale,
    normalize_phone,
    validate_timezone,
)


def test_email_is_trimmed_and_lower_cased():
    assert normalize_email("  Dana.Lee@Example.COM ") == "dana.lee@example.com"


def test_internationalized_email_domain_is_stored_in_ascii_form():
    assert normalize_email("Ana@Bücher.de") == "ana@xn--bcher-kva.de"


@pytest.mark.parametrize("bad", ["dana", "dana@", "@example.com", "dana@@example.com", 42])
def test_malformed_email_is_refused(bad):
    with pytest.raises(ValueError):
        normalize_email(bad)


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("(415) 555-0123", "US", "+14155550123"),
        ("+1 415-555-0123", "DE", "+14155550123"),
        ("030 1234567", "DE", "+49301234567"),
        ("+44 20 7946 0958", "US", "+442079460958"),
    ],
)
def test_phone_is_normalized_to_e164_using_the_default_region_without_country_code(raw, region, expected):
    assert normalize_phone(raw, region=region) == expected


@pytest.mark.parametrize("bad", ["12", "not a number", "+1 555", "1" * 70])
def test_invalid_phone_is_refused(bad):
    with pytest.raises(ValueError):
        normalize_phone(bad, region="US")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://www.Example.com/about?x=1", "example.com"),
        ("WWW.acme.io.", "acme.io"),
        ("shop.acme.co.uk:8443", "shop.acme.co.uk"),
        ("bücher.de", "xn--bcher-kva.de"),
        ("", ""),
    ],
)
def test_domain_is_reduced_to_a_bare_lower_case_host(raw, expected):
    assert normalize_domain(raw) == expected


@pytest.mark.parametrize("bad", ["localhost", "not a domain", "exa_mple.com", "http://", "1.2.3.4"])
def test_non_domain_is_refused(bad):
    with pytest.raises(ValueError):
        normalize_domain(bad)


def test_locale_gets_canonical_case_and_hyphen():
    assert normalize_locale("pt_br") == "pt-BR"
    assert normalize_locale("zh-hant-tw") == "zh-Hant-TW"


def test_timezone_must_be_an_iana_name():
    assert validate_timezone("Europe/Berlin") == "Europe/Berlin"
    with pytest.raises(ValueError):
        validate_timezone("Mars/Olympus_Mons")


def test_contact_fields_clean_collects_every_error_and_coerces_import_text():
    clean, errors = contact_fields_clean(
        {"email": "x", "phone": "12", "engagement_score": "12", "lifecycle_stage": "MQL", "colour": "red"},
        phone_region="US",
    )

    assert clean == {"engagement_score": 12, "lifecycle_stage": "mql"}
    assert set(errors.errors) == {"email", "phone", "colour"}
