"""Output columns: their definitions as the editor and --columns hold them, the JSON schema sent to
the provider, and the check of an answer with its safe coercions, as tables."""

from __future__ import annotations

import json

import pytest

from core.coerce import Unreadable, read_boolean, read_date, read_integer, read_number
from core.columns import ColumnType, OutputColumn, columns_from_json, columns_from_rows, columns_to_json, json_schema, label_matches, validate
from core.errors import InputError

SENTIMENT = OutputColumn("sentiment", "choice", "how the reviewer feels", choices=("positive", "negative", "neutral"))
COLUMNS = (
    SENTIMENT,
    OutputColumn("stars", ColumnType.INTEGER),
    OutputColumn("price", "number", required=False),
    OutputColumn("recommends", "boolean"),
    OutputColumn("bought", "date", required=False),
    OutputColumn("reason", "text"),
)


# --- definitions ------------------------------------------------------------------------------


def test_the_editor_content_reads_back_as_it_was_written():
    text = columns_to_json(COLUMNS)
    assert columns_from_json(text) == COLUMNS
    assert json.loads(text)[0] == {
        "name": "sentiment", "type": "choice", "description": "how the reviewer feels", "required": True, "choices": ["positive", "negative", "neutral"],
    }  # fmt: skip


def test_editor_rows_take_choices_as_comma_separated_text_and_skip_the_empty_spare_row():
    rows = [
        {"name": " sentiment ", "type": "choice", "description": None, "required": True, "choices": "positive, negative,, Positive"},
        {"name": "", "type": "text", "description": "", "required": True, "choices": None},  # a row only the editor's defaults filled
        {"name": "score", "type": "int"},
    ]
    columns = columns_from_rows(rows)
    assert [c.name for c in columns] == ["sentiment", "score"]
    assert columns[0].choices == ("positive", "negative")  # "Positive" is "positive" again
    assert columns[1].type is ColumnType.INTEGER and columns[1].required


@pytest.mark.parametrize(
    "content, code",
    [
        ('[{"name": ""}]', None),  # only defaults: skipped, nothing to check
        ('[{"name": "", "description": "why"}]', "column_no_name"),
        ('[{"name": "a"}, {"name": "A "}]', "column_duplicate"),
        ('[{"name": "s", "type": "choice"}]', "column_few_choices"),
        ('[{"name": "s", "type": "choice", "choices": "only"}]', "column_few_choices"),
        ('[{"name": "s", "type": "colour"}]', "column_bad_type"),
        ('[{"name": "s", "choises": ["a"]}]', "column_unknown_key"),
        ('["sentiment"]', "column_not_object"),
        ('{"name": "s"}', "columns_not_list"),
        ('[{"name": "s",}]', "columns_not_json"),
        (json.dumps([{"name": "x" * 101}]), "column_long_name"),
        (json.dumps([{"name": f"c{i}"} for i in range(51)]), "column_too_many"),
    ],
)
def test_a_definition_that_cannot_be_used_says_why_with_a_code(content, code):
    if code is None:
        assert columns_from_json(content) == ()
        return
    with pytest.raises(InputError) as caught:
        columns_from_json(content)
    assert caught.value.code == code, caught.value


def test_a_bad_json_file_names_the_line_and_column():
    with pytest.raises(InputError, match=r"line 2, column 1"):
        columns_from_json('[{"name": "a"}\n}')


def test_choices_are_dropped_from_a_column_that_is_not_a_choice():
    assert OutputColumn("n", "number", choices=("a", "b")).choices == ()


# --- the schema -------------------------------------------------------------------------------


def test_the_schema_has_one_property_per_column_type_and_is_strict():
    schema = json_schema(COLUMNS)
    assert schema["type"] == "object" and schema["additionalProperties"] is False
    # Strict mode: every property is required; an optional one may be null instead.
    assert schema["required"] == [c.name for c in COLUMNS]
    props = schema["properties"]
    assert props["sentiment"] == {"type": "string", "enum": ["positive", "negative", "neutral"], "description": "how the reviewer feels"}
    assert props["stars"] == {"type": "integer"}
    assert props["price"] == {"type": ["number", "null"]}
    assert props["recommends"] == {"type": "boolean"}
    assert props["bought"] == {"type": ["string", "null"], "format": "date", "description": "(yyyy-mm-dd)"}
    assert props["reason"] == {"type": "string"}


def test_an_optional_choice_allows_null_in_its_enum():
    prop = json_schema([OutputColumn("s", "choice", required=False, choices=("a", "b"))])["properties"]["s"]
    assert prop == {"type": ["string", "null"], "enum": ["a", "b", None]}


def test_the_schema_passes_a_json_schema_validator():
    jsonschema = pytest.importorskip("jsonschema")
    schema = json_schema(COLUMNS)
    jsonschema.Draft202012Validator.check_schema(schema)
    good = {"sentiment": "positive", "stars": 4, "price": None, "recommends": True, "bought": "2024-03-05", "reason": "ok"}
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(good)) == []
    assert list(jsonschema.Draft202012Validator(schema).iter_errors({**good, "sentiment": "meh"}))


# --- coercion, value by value -------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [
        (12, 12), (12.5, 12.5), ("12", 12), (" 12 ", 12), ("1,234.5", 1234.5), ("1 234", 1234), ("-3", -3), ("+4.25", 4.25),
        ("１２", 12), ("1e3", 1000.0), (".5", 0.5), ("−7", -7), ('"42"', 42),
    ],
)  # fmt: skip
def test_numbers_are_read_from_json_numbers_and_plain_number_text(value, expected):
    got = read_number(value)
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize("value", [True, "twelve", "12%", "$12", "1,5", "12 apples", "", float("nan"), "inf", None, [1]])
def test_anything_that_is_not_plainly_one_number_is_refused(value):
    with pytest.raises(Unreadable):
        read_number(value)


@pytest.mark.parametrize("value, expected", [(3, 3), (3.0, 3), ("3", 3), ("3.0", 3), ("1,200", 1200)])
def test_whole_numbers(value, expected):
    assert read_integer(value) == expected and type(read_integer(value)) is int


@pytest.mark.parametrize("value", [3.5, "3.5", "three", True])
def test_a_fraction_is_not_a_whole_number(value):
    with pytest.raises(Unreadable, match="integer"):
        read_integer(value)


@pytest.mark.parametrize(
    "value, expected",
    [
        (True, True), (False, False), (1, True), (0, False), ("Yes", True), ("yes.", True), ("TRUE", True), ("y", True), ("**Yes**", True),
        ("是", True), ("是的", True), ("对", True), ("No", False), ("false", False), ("否", False), ("不是", False), ("没有", False), ("ｎｏ", False),
    ],
)  # fmt: skip
def test_yes_and_no_in_english_and_chinese(value, expected):
    assert read_boolean(value) is expected


@pytest.mark.parametrize("value", ["maybe", "yes and no", 2, "", None, "可能"])
def test_anything_else_is_not_yes_or_no(value):
    with pytest.raises(Unreadable):
        read_boolean(value)


@pytest.mark.parametrize(
    "value, expected",
    [
        ("2024-03-05", "2024-03-05"), ("2024-3-5", "2024-03-05"), ("2024-03-05T10:30:00Z", "2024-03-05"), ("2024/03/05", "2024-03-05"),
        ("2024.3.5", "2024-03-05"), ("2024年3月5日", "2024-03-05"), ("2024 年 3 月 5 日", "2024-03-05"), ("5.3.2024", "2024-03-05"),
        ("5 March 2024", "2024-03-05"), ("5th Mar 2024", "2024-03-05"), ("March 5, 2024", "2024-03-05"), ("Mar. 5 2024", "2024-03-05"),
        ("31/12/2024", "2024-12-31"), ("12/31/2024", "2024-12-31"), ("05/05/2024", "2024-05-05"), ("２０２４－０３－０５", "2024-03-05"),
    ],
)  # fmt: skip
def test_dates_in_common_forms_become_iso(value, expected):
    assert read_date(value) == expected


@pytest.mark.parametrize(
    "value, kind",
    [
        ("03/05/2024", "ambiguous_date"),
        ("2024-02-30", "not_a_date"),
        ("next Tuesday", "date"),
        ("2024", "date"),
        (20240305, "date"),
        ("13/13/2024", "not_a_date"),
    ],
)
def test_a_date_that_could_be_two_or_none_is_refused(value, kind):
    with pytest.raises(Unreadable) as caught:
        read_date(value)
    assert caught.value.kind == kind
    if kind == "ambiguous_date":
        assert caught.value.options == ("2024-03-05", "2024-05-03")


# --- validating a whole answer ----------------------------------------------------------------


def test_a_loosely_written_answer_is_coerced_to_the_column_types():
    answer = {"Sentiment": "Positive ", "stars": "4", "price": "1,299.00", "recommends": "是", "bought": "March 5, 2024", "reason": "  great  ", "extra": 1}
    values, problems = validate(answer, COLUMNS)
    assert problems == []
    assert values == {"sentiment": "positive", "stars": 4, "price": 1299.0, "recommends": True, "bought": "2024-03-05", "reason": "great"}


@pytest.mark.parametrize(
    "change, problem",
    [
        ({"sentiment": "meh"}, '"sentiment" should be one of positive, negative, neutral, not "meh"'),
        ({"stars": "four"}, '"stars" should be a whole number, not "four"'),
        ({"stars": 4.5}, '"stars" should be a whole number, not 4.5'),
        ({"price": "cheap"}, '"price" should be a number, not "cheap"'),
        ({"recommends": "maybe"}, '"recommends" should be true or false (yes or no), not "maybe"'),
        ({"bought": "03/05/2024"}, '"bought" could be 2024-03-05 or 2024-05-03: write the date as yyyy-mm-dd'),
        ({"bought": "soon"}, '"bought" should be a date as yyyy-mm-dd, not "soon"'),
        ({"reason": ""}, '"reason" is empty'),
        ({"reason": None}, '"reason" is empty'),
        ({"sentiment": True}, '"sentiment" should be one of positive, negative, neutral, not true'),
    ],
)
def test_each_problem_is_one_plain_sentence_naming_the_column(change, problem):
    good = {"sentiment": "negative", "stars": 2, "price": 3, "recommends": False, "bought": "2024-01-01", "reason": "r"}
    values, problems = validate({**good, **change}, COLUMNS)
    assert problems == [problem]
    assert values[next(iter(change))] is None  # a value that does not fit is not kept as if it did


def test_missing_required_columns_are_named_and_missing_optional_ones_are_null():
    values, problems = validate({"reason": "r"}, COLUMNS)
    assert problems == ['"sentiment" is missing', '"stars" is missing', '"recommends" is missing']
    assert values["price"] is None and values["bought"] is None and values["reason"] == "r"


def test_an_answer_that_is_not_an_object_is_one_problem():
    assert validate(["positive"], COLUMNS)[1] == ["the answer is not a JSON object"]
    assert validate(None, COLUMNS)[1] == ["the answer is not a JSON object"]


def test_a_long_wrong_value_is_quoted_short():
    _, problems = validate({"stars": "x" * 500}, [OutputColumn("stars", "integer")])
    assert len(problems[0]) < 120 and problems[0].endswith('…"')


def test_text_columns_take_numbers_and_lists_as_text():
    values, _ = validate({"a": 12.0, "b": ["x", "y"], "c": False}, [OutputColumn("a"), OutputColumn("b"), OutputColumn("c")])
    assert values == {"a": "12", "b": '["x", "y"]', "c": "false"}


# --- comparing with a label -------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, label, column, expected",
    [
        (12, "12.0", OutputColumn("n", "number"), True),
        (12.0, " 12 ", OutputColumn("n", "integer"), True),
        (12, "13", OutputColumn("n", "number"), False),
        (True, "yes", OutputColumn("b", "boolean"), True),
        (True, "是", OutputColumn("b", "boolean"), True),
        (False, "TRUE", OutputColumn("b", "boolean"), False),
        ("positive", "Positive", SENTIMENT, True),
        ("positive", "negative", SENTIMENT, False),
        ("2024-03-05", "5 March 2024", OutputColumn("d", "date"), True),
        ("great", " Great ", OutputColumn("t"), True),
        ("positive", "", SENTIMENT, None),
        (None, "positive", SENTIMENT, False),
        ("positive", "happy", SENTIMENT, False),  # a label outside the choices: compared as text
    ],
)
def test_a_typed_answer_is_compared_with_the_label_as_its_type(value, label, column, expected):
    assert label_matches(value, label, column) is expected
