from __future__ import annotations

import pytest

from core.output import answers_match, extract_json_object


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
