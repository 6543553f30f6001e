"""One reading of a provider's answer for every path: shapes, finish reasons, fields and labels."""

from __future__ import annotations

import pytest

from core.answers import clean_text, judge, read_completion
from core.columns import OutputColumn
from core.spec import RunSpec
from core.status import RowStatus

SPEC = RunSpec(template="{q}")
JSON_SPEC = RunSpec(template="{q}", json_fields=("label", "reason"), label_field="label")
TYPED = RunSpec(
    template="{q}", label_field="good",
    columns=(OutputColumn("stars", "integer"), OutputColumn("good", "boolean"), OutputColumn("tag", "choice", choices=("a", "b"), required=False)),
)  # fmt: skip


def test_a_complete_answer_is_read_in_full():
    a = read_completion(
        {"model": "m-1", "choices": [{"message": {"content": "42"}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 7, "completion_tokens": 1}}
    )
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
        ("no JSON here", "stop", JSON_SPEC, "yes", RowStatus.UNPARSED, False, "not a JSON object"),
        ('{"reason": "r"}', "stop", JSON_SPEC, "yes", RowStatus.UNPARSED, False, '"label" is missing'),
        ('Here: ```json\n{"stars": "4", "good": "Yes"}\n```', "stop", TYPED, "是", RowStatus.OK, True, None),
        ('{"stars": 4, "good": false, "tag": "c"}', "stop", TYPED, "true", RowStatus.UNPARSED, False, '"tag" should be one of a, b, not "c"'),
        ('{"stars": 4, "good": tr', "length", TYPED, None, RowStatus.UNPARSED, None, "cut off"),
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


def test_an_answer_that_fits_has_typed_values_and_one_that_does_not_says_each_problem():
    v = judge('{"stars": "4", "good": "no"}', "stop", TYPED, None)
    assert v.fields == {"stars": 4, "good": False, "tag": None} and v.problems == () and v.error is None
    bad = judge('{"stars": "four", "tag": "A"}', "stop", TYPED, None, reasks=2)
    assert bad.fields == {"stars": None, "good": None, "tag": "a"}
    assert bad.problems == ('"stars" should be a whole number, not "four"', '"good" is missing')
    assert bad.error == 'The answer does not fit the output columns after 2 re-asks: "stars" should be a whole number, not "four"; "good" is missing.'
