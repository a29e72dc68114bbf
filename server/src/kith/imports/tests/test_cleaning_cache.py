"""The import's per-value memo (``attributes_clean(cache=…)`` and the row cleaner's field cache) gives every row the
outcome it would get without it: same values, same errors, reported on every row that has them."""

import pytest

from kith.contacts.attributes import attributes_clean
from kith.contacts.errors import InvalidFields
from kith.contacts.models import CustomFieldDefinition, FieldType
from kith.imports.reading import SourceRow
from kith.imports.rows import Record, RowCleaner

DEFINITIONS = {
    "plan": CustomFieldDefinition(key="plan", field_type=FieldType.SINGLE_CHOICE, choices=["Free", "Pro"]),
    "seats": CustomFieldDefinition(key="seats", field_type=FieldType.NUMBER, required=True),
    "tags": CustomFieldDefinition(key="tags", field_type=FieldType.MULTI_CHOICE, choices=["a", "b"]),
}


def _outcome(values, cache):
    try:
        return attributes_clean(definitions=DEFINITIONS, values=values, current=None, cache=cache)
    except InvalidFields as exc:
        return exc.errors


@pytest.mark.parametrize("values", [
    {"plan": "pro", "seats": "12"}, {"plan": "gold", "seats": "x"}, {"plan": "Free"}, {"seats": "3", "nope": "1"},
    {"plan": "", "seats": "4"}, {"tags": ["a", "B"], "seats": "1"},
])
def test_a_cached_clean_equals_an_uncached_one_the_first_and_the_second_time(values):
    cache: dict = {}
    expected = _outcome(values, None)
    assert _outcome(values, cache) == expected
    assert _outcome(values, cache) == expected  # now from the cache


def test_cached_lists_are_not_shared_between_rows():
    cache: dict = {}
    definitions = {"tags": CustomFieldDefinition(key="tags", field_type=FieldType.MULTI_CHOICE, choices=["a", "b"])}
    first = attributes_clean(definitions=definitions, values={"tags": "a"}, current={}, cache=cache)
    second = attributes_clean(definitions=definitions, values={"tags": "a"}, current={}, cache=cache)
    first["tags"].append("b")
    assert second["tags"] == ["a"]


def test_the_row_cleaner_reports_a_repeated_bad_cell_on_every_row_and_required_fields_for_new_records():
    cleaner = RowCleaner(kind="contacts", mapping={"0": "email", "1": "lifecycle_stage", "2": "attr.plan",
                                                   "3": "attr.seats"},
                         upsert_key="email", definitions=DEFINITIONS, phone_region="")
    rows = [SourceRow(2, ["a@example.com", "lead", "Pro", "5"]), SourceRow(3, ["b@example.com", "nonsense", "Pro", "5"]),
            SourceRow(4, ["c@example.com", "nonsense", "Pro", "5"]), SourceRow(5, ["d@example.com", "lead", "gold", ""]),
            SourceRow(6, ["e@example.com", "lead", "gold", ""])]
    results = [cleaner.clean(row) for row in rows]

    assert isinstance(results[0], Record) and results[0].values["lifecycle_stage"] == "lead"
    assert results[0].attributes == {"plan": "Pro", "seats": 5}
    assert results[1] == results[2] and set(results[1]) == {"lifecycle_stage"}
    for record in results[3:]:
        assert isinstance(record, Record)
        assert cleaner.finish(record, exists=True) == {"attributes.plan": [
            "'gold' is not one of the choices: Free, Pro."]}
        assert set(cleaner.finish(record, exists=False)) == {"attributes.plan", "attributes.seats"}
    assert cleaner.finish(results[0], exists=False) == {}
