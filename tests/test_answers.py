"""One reading of a provider's answer for every path: shapes, finish reasons, fields and labels."""

from __future__ import annotations

import pytest

from core.answers import clean_text, judge, read_completion
from core.spec import RunSpec
from core.status import RowStatus

SPEC = RunSpec(template="{q}")
JSON_SPEC = RunSpec(template="{q}", json_fields=("label", "reason"), label_field="label")


def test_a_complete_answer_is_read_in_full():
    a = read_completion({"model": "m-1", "choices": [{"message": {"content": "42"}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 7, "completion_tokens": 1}})
    assert (a.text, a.finish, a.tokens_in, a.tokens_out, a.model) == ("42", "stop", 7, 1, "m-1")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ("not an object", "no choices"),
        ({"choices": [1]}, "no choices"),
        ({"choices": [{"message": {"content": 5}}]}, "not text"),
        ({"choices": [{"message": {"content": "x"}}], "usage": "lots"}, "usage is not an object"),
        ({"choices": [{"message": {"content": "x"}}], "usage": {"prompt_tokens": 1.5}}, "not a number"),
    ],
)
def test_a_wrong_shape_is_refused_with_the_reason(data, reason):
    with pytest.raises(ValueError, match=reason):
        read_completion(data)


@pytest.mark.parametrize(
    ("text", "finish", "spec", "label", "status", "correct", "note"),
    [
        ("42", "stop", SPEC, "42", RowStatus.OK, True, None),
        (" 41 ", "stop", SPEC, "42", RowStatus.OK, False, None),
        ("42", "content_filter", SPEC, "42", RowStatus.FAILED, None, "content filter"),
        ("4", "length", SPEC, None, RowStatus.OK, None, "cut off"),
        ('{"label": "yes", "reason": "r"}', "stop", JSON_SPEC, "yes", RowStatus.OK, True, None),
        ("no JSON here", "stop", JSON_SPEC, "yes", RowStatus.UNPARSED, False, "JSON"),
    ],
)
def test_the_verdict_of_an_answer(text, finish, spec, label, status, correct, note):
    v = judge(text, finish, spec, label)
    assert (v.status, v.correct) == (status, correct)
    assert (v.error is None) if note is None else (note in (v.error or ""))


def test_a_whole_float_token_count_is_a_count():
    a = read_completion({"choices": [{"message": {"content": "x"}}], "usage": {"prompt_tokens": 12.0, "completion_tokens": 3}})
    assert (a.tokens_in, a.tokens_out) == (12, 3)


def test_half_an_emoji_becomes_a_replacement_character():
    assert clean_text("cut \ud83d") == "cut \ufffd" and clean_text("whole 😀") == "whole 😀"
