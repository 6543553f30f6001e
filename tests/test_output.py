from __future__ import annotations

import pytest

from core.output import answers_match, extract_json_object, parse_output


@pytest.mark.parametrize(
    "text, expected",
    [
        ('{"infer": 42}', {"infer": 42}),
        ('```json\n{"infer": 42, "reason": "x"}\n```', {"infer": 42, "reason": "x"}),
        ('Sure! Here it is: {"infer": 7} Hope this helps.', {"infer": 7}),
        ('```\n{"a": "b"}\n```', {"a": "b"}),
        ('Reasoning {not json} then {"a": {"nested": [1, 2]}}', {"a": {"nested": [1, 2]}}),
        ("[1, 2, 3]", None),
        ("no json at all", None),
        ("", None),
    ],
)
def test_a_json_object_is_found_in_the_whole_text_a_code_fence_or_prose(text, expected):
    assert extract_json_object(text) == expected


def test_fields_become_text_cells():
    parsed = parse_output('{"infer": 12.0, "reason": "because", "tags": ["a"], "none": null}', ("infer", "reason", "tags", "none"))
    assert parsed.error is None
    assert parsed.fields == {"infer": "12", "reason": "because", "tags": '["a"]', "none": ""}


def test_an_answer_that_does_not_parse_is_flagged_and_missing_fields_are_named():
    assert parse_output("I think it's 12", ("infer",)).fields is None
    assert "not JSON" in parse_output("I think it's 12", ("infer",)).error
    missing = parse_output('{"reason": "x"}', ("reason", "infer"))
    assert missing.fields == {"reason": "x", "infer": ""} and "infer" in missing.error
    assert parse_output("anything", ()).fields is None and parse_output("anything", ()).error is None


@pytest.mark.parametrize(
    "answer, label, expected",
    [
        ("42", "42", True),
        (" 42 ", "42.0", True),
        ("1,234", "1234", True),
        ("-3", "-3.0", True),
        ("41", "42", False),
        ("Paris", " paris ", True),
        ("Paris", "London", False),
        (None, "42", False),
        ("42", "", None),
        ("42", None, None),
    ],
)
def test_accuracy_compares_trimmed_text_and_numbers_as_numbers(answer, label, expected):
    assert answers_match(answer, label) is expected
