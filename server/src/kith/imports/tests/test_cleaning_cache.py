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


def _cleaner(definitions=DEFINITIONS):
    return RowCleaner(kind="contacts", mapping={"0": "email", "1": "attr.plan", "2": "attr.seats", "3": "attr.tags"},
                      upsert_key="email", definitions=definitions, phone_region="")


def _direct(cells, exists):
    """What attributes_clean says about the row's attribute cells, without any memo."""
    values = {key: ([p.strip() for p in text.replace(";", ",").split(",") if p.strip()] if key == "tags" else text)
              for key, text in zip(("plan", "seats", "tags"), cells, strict=True) if text.strip()}
    try:
        return attributes_clean(definitions=DEFINITIONS, values=values, current={} if exists else None), {}
    except InvalidFields as exc:
        return None, exc.errors


@pytest.mark.parametrize("cells", [("pro", "12", ""), ("gold", "x", ""), ("Free", "", ""), ("", "3", "a;B"),
                                   ("Pro", "1", "a,c"), ("", "", "")])
@pytest.mark.parametrize("exists", [True, False])
def test_the_memo_gives_each_row_what_attributes_clean_gives_it(cells, exists):
    cleaner = _cleaner()
    expected_values, expected_errors = _direct(cells, exists)
    for number in (2, 3):  # the second row's cells come from the memo
        record = cleaner.clean(SourceRow(number, ["x@example.com", *cells]))
        assert isinstance(record, Record)
        assert cleaner.finish(record, exists=exists) == expected_errors
        if not expected_errors:
            assert record.attributes == expected_values


def test_remembered_lists_are_not_shared_between_rows():
    cleaner = _cleaner()
    first = cleaner.clean(SourceRow(2, ["x@example.com", "", "1", "a"]))
    second = cleaner.clean(SourceRow(3, ["y@example.com", "", "1", "a"]))
    first.attributes["tags"].append("b")
    assert second.attributes["tags"] == ["a"]


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
