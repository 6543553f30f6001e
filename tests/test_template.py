"""Prompt templates: what users type, what the model receives, and how mistakes are explained."""

from __future__ import annotations

import time

import pandas as pd
import pytest

from core import constants as C
from core.errors import InputError
from core.template import PromptTemplate, TemplateProblem, estimate_message_tokens, estimate_tokens

COLUMNS = ["name", "city", "客户 名称", "Price ($)", "a.b", "x:>3", "Notes", "Customer's name"]
ROW = {
    "name": "Ada",
    "city": "London",
    "客户 名称": "张三",
    "Price ($)": 9.5,
    "a.b": "dot",
    "x:>3": "colon",
    "Notes": None,
}


@pytest.mark.parametrize(
    ("text", "placeholders", "rendered"),
    [
        ("Hello {name}", ("name",), "Hello Ada"),
        ("{name} from {city}, {name} again", ("name", "city"), "Ada from London, Ada again"),
        ("客户：{客户 名称}", ("客户 名称",), "客户：张三"),
        ("Cost {Price ($)}", ("Price ($)",), "Cost 9.5"),
        ("dotted {a.b} is a column, not an attribute", ("a.b",), "dotted dot is a column, not an attribute"),
        ("{x:>3} is a column, not a format spec", ("x:>3",), "colon is a column, not a format spec"),
        ("{{name}} is literal", (), "{name} is literal"),
        ("{{{name}}}", ("name",), "{Ada}"),
        ('JSON: {{"who": "{name}"}}', ("name",), 'JSON: {"who": "Ada"}'),
        ("a lone } is kept", (), "a lone } is kept"),
        ("{name}}", ("name",), "Ada}"),
        ("{ name } typed with spaces", (" name ",), "Ada typed with spaces"),
        ("no placeholders at all", (), "no placeholders at all"),
        ("empty cell: [{Notes}]", ("Notes",), "empty cell: []"),
        ("multi\nline {name}\n", ("name",), "multi\nline Ada\n"),
    ],
)
def test_placeholders_are_column_names_and_render_from_the_row(text: str, placeholders: tuple[str, ...], rendered: str) -> None:
    template = PromptTemplate(text)
    assert template.placeholders == placeholders
    assert template.problems(COLUMNS) == []
    assert template.render(ROW) == rendered


@pytest.mark.parametrize(
    ("text", "placeholder", "suggestion", "words"),
    [
        ("Hi {nmae}", "nmae", "name", "did you mean {name}?"),
        ("Hi {NAME}", "NAME", "name", "did you mean {name}?"),
        ("Hi {客户名称}", "客户名称", "客户 名称", "did you mean {客户 名称}?"),
        ("Hi {zzzz}", "zzzz", None, "Unknown column {zzzz}"),
        ("Hi {Customer's nme}", "Customer's nme", "Customer's name", "did you mean {Customer's name}?"),
        ('Answer like {"label": "x"}', '"label": "x"', None, "{{ and }}"),
        ('Answer like {"name": 1}', '"name": 1', None, "{{ and }}"),
    ],
)
def test_unknown_placeholders_are_named_with_the_closest_column(text: str, placeholder: str, suggestion: str | None, words: str) -> None:
    [problem] = PromptTemplate(text).problems(COLUMNS)
    assert problem.placeholder == placeholder
    assert problem.suggestion == suggestion
    assert words in problem.message


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Hello {name", "never closed"),
        ("{ {name}", "never closed"),
        ('Return {"a": {"b": 1}}', "{{ and }}"),
        ("Fill in {}", "Empty braces"),
        ("Fill in {   }", "Empty braces"),
    ],
)
def test_syntax_problems_explain_how_to_write_literal_braces(text: str, words: str) -> None:
    problems = PromptTemplate(text).problems(COLUMNS)
    syntax = [p for p in problems if p.placeholder == ""]
    assert syntax, problems
    assert words in syntax[0].message
    assert "{{" in syntax[0].message


def test_a_paste_full_of_stray_braces_gives_a_short_list_quickly() -> None:
    started = time.perf_counter()
    problems = PromptTemplate("{ " * 20_000).problems(COLUMNS)
    assert time.perf_counter() - started < 1.0
    assert len(problems) == 11
    assert problems[-1].message == "There are 19,990 more brace problems like these."


def test_a_pasted_json_example_tells_the_user_to_double_the_braces() -> None:
    problems = PromptTemplate('Classify {name}. Answer as {"label": "pos"}').problems(COLUMNS)
    assert len(problems) == 1
    assert "{{" in problems[0].message and "}}" in problems[0].message


def test_every_problem_is_reported_at_once_and_check_joins_them() -> None:
    template = PromptTemplate("{nmae} {cty} {oops", system="{Nmae}")
    problems = template.problems(COLUMNS)
    assert {p.placeholder for p in problems} == {"nmae", "cty", "Nmae", ""}
    with pytest.raises(InputError) as caught:
        template.check(COLUMNS)
    for problem in problems:
        assert problem.message in str(caught.value)


def test_empty_template_is_a_problem() -> None:
    assert PromptTemplate("   ").problems(COLUMNS)[0].message.startswith("The prompt is empty")
    with pytest.raises(InputError):
        PromptTemplate("").check(COLUMNS)


def test_check_passes_silently_for_a_good_template() -> None:
    PromptTemplate("Hi {name}", system="You write for {city}.").check(COLUMNS)


def test_spaces_around_a_name_resolve_only_when_one_column_matches() -> None:
    assert PromptTemplate("{ name }").problems(["name", "city"]) == []
    assert PromptTemplate("{name}").problems([" name "]) == []
    [problem] = PromptTemplate("{ name }").problems(["name ", " name"])
    assert "exactly" in problem.message


def test_an_exact_column_wins_over_a_stripped_one() -> None:
    template = PromptTemplate("[{ name }]")
    assert template.render({"name": "stripped", " name ": "exact"}) == "[exact]"


def test_problem_is_a_frozen_value() -> None:
    problem = TemplateProblem("x", None, "m")
    with pytest.raises(AttributeError):
        problem.message = "other"  # type: ignore[misc]


@pytest.mark.parametrize("value", [None, float("nan"), pd.NA, pd.NaT])
def test_missing_cells_render_as_empty_text(value: object) -> None:
    assert PromptTemplate("[{name}]").render({"name": value}) == "[]"


def test_numbers_render_as_python_prints_them() -> None:
    assert PromptTemplate("{a} {b}").render({"a": 3, "b": 2.5}) == "3 2.5"


def test_render_names_a_placeholder_the_row_lacks() -> None:
    with pytest.raises(InputError, match="nope"):
        PromptTemplate("{nope}").render(ROW)


def test_system_prompt_may_use_placeholders_and_comes_first() -> None:
    template = PromptTemplate("Describe {name}.", system="You answer in the style of {city}.")
    assert template.placeholders == ("city", "name")
    assert template.messages(ROW) == [
        {"role": "system", "content": "You answer in the style of London."},
        {"role": "user", "content": "Describe Ada."},
    ]


@pytest.mark.parametrize("system", [None, "", "   "])
def test_no_system_message_without_a_system_prompt(system: str | None) -> None:
    template = PromptTemplate("Describe {name}.", system=system)
    assert template.render_system(ROW) is None
    assert template.messages(ROW) == [{"role": "user", "content": "Describe Ada."}]


def test_problems_in_the_system_prompt_are_reported() -> None:
    problems = PromptTemplate("Hi {name}", system="Style of {citty} {").problems(COLUMNS)
    assert [p.suggestion for p in problems if p.placeholder == "citty"] == ["city"]
    assert any(p.message.startswith("System prompt:") for p in problems)


def test_preview_renders_the_first_rows_and_keeps_unknown_placeholders_visible() -> None:
    frame = pd.DataFrame({"name": ["A", "B", "C", "D", "E"], "客户 名称": ["甲", "乙", "丙", "丁", "戊"]})
    template = PromptTemplate("{name}/{客户 名称}/{nmae}")
    assert template.preview(frame) == ["A/甲/{nmae}", "B/乙/{nmae}", "C/丙/{nmae}"][: C.PREVIEW_ROWS]
    assert template.preview(frame, n=1) == ["A/甲/{nmae}"]
    assert template.preview(frame.iloc[:0]) == []


def test_rendering_100k_rows_is_fast() -> None:
    template = PromptTemplate("Summarize {text} for {name} in {{JSON}}.", system="You help { name }.")
    rows = [{"name": f"客户{i}", "text": "some words " * 20} for i in range(100_000)]
    started = time.perf_counter()
    for row in rows:
        template.messages(row)
    assert time.perf_counter() - started < 1.5


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("", 0),
        ("a", 1),
        ("abcd", 1),
        ("abcde", 2),
        ("abcd" * 10, 10),
        ("你好世界", 4),
        ("你好 world", 2 + 2),  # two CJK characters, " world" is 6 Latin characters
        ("ＡＢＣ", 3),  # fullwidth letters
    ],
)
def test_token_estimate_counts_latin_by_length_and_cjk_by_character(text: str, tokens: int) -> None:
    assert estimate_tokens(text) == tokens


def test_message_token_estimate_adds_overhead_per_message() -> None:
    messages = [{"role": "system", "content": "abcd" * 3}, {"role": "user", "content": "你好"}]
    assert estimate_message_tokens(messages) == 3 + 2 + 2 * C.MESSAGE_OVERHEAD_TOKENS
    assert estimate_message_tokens([]) == 0


@pytest.mark.parametrize(
    "text, kind, suggestion",
    [
        ("Hi {nmae}", "unknown", "name"),
        ("Hi {zzzz}", "unknown", None),
        ('Return {"a": 1}', "literal", None),
        ("Hi {name", "syntax", None),
        ("   ", "empty", None),
    ],
)
def test_each_problem_says_its_kind_so_the_ui_can_translate_it(text, kind, suggestion):
    problems = PromptTemplate(text).problems(["name", "age"])
    assert problems and problems[0].kind == kind and problems[0].suggestion == suggestion
