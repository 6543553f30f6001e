"""Every scoring mode of a comparison, table-tested: what counts as right, wrong, or not judged."""

from __future__ import annotations

import pytest

from core.errors import InputError
from core.scoring import OTHER_CLASS, Scoring, answer_number, confusion_matrix
from core.sim_arith import CARE_ERROR_FACTOR, asks_for_care, find_expression, is_deliberately_wrong
from core.sim_fields import reply


@pytest.mark.parametrize(
    "score, answer, label, expected",
    [
        # exact: trimmed, case-insensitive unless asked
        ("exact", "Paris", "paris", True),
        ("exact", "  Paris \n", "Paris", True),
        ("exact", "Paris.", "Paris", False),
        ("exact:case", "paris", "Paris", False),
        ("exact:case", "Paris", " Paris", True),
        ("exact", "42.0", "42", False),  # exact is text; numeric:0 compares numbers
        ("exact", None, "Paris", False),  # a failed row has no answer: wrong when judged
        ("exact", "Paris", "", None),  # no label: not judged
        ("exact", "Paris", None, None),
        # numeric: the answer's number (whole, else the last one) within the tolerance
        ("numeric", "42", "42.0", True),
        ("numeric", "1,234", "1234", True),
        ("numeric", "The answer is 3.14.", "3.14", True),
        ("numeric", "3 + 4 = 7", "7", True),
        ("numeric", "−5", "-5", True),  # a typographic minus
        ("numeric:0.01", "3.14", "3.1416", True),
        ("numeric:0.001", "3.14", "3.1416", False),
        ("numeric:1%", "101", "100", True),
        ("numeric:1%", "102", "100", False),
        ("numeric", "about forty", "40", False),
        ("numeric", "n/a", "n/a", True),  # a label that is no number is compared as text
        ("numeric", "7", "", None),
        # oneof: the answer read as one of the classes
        ("oneof:positive,negative,neutral", "Positive", "positive", True),
        ("oneof:positive,negative,neutral", "negative.", "Negative", True),
        ("oneof:positive,negative,neutral", "The review is negative overall.", "negative", True),
        ("oneof:positive,negative,neutral", "positive or negative", "positive", False),  # two classes: none
        ("oneof:positive,negative,neutral", "mixed", "neutral", False),
        ("oneof:positive,negative,neutral", "positive", "negative", False),
        ("oneof:positive,negative,neutral", "positivity", "positive", False),  # a whole word only
        ("oneof:正面,负面", "负面。", "负面", True),
        # contains
        ("contains", "The capital is Paris.", "paris", True),
        ("contains:case", "The capital is Paris.", "paris", False),
        ("contains", "Lyon", "Paris", False),
        # regex: {label} is the row's label, literally; without it, a check of the answer's form
        ("regex:^\\d+$", "42", None, True),
        ("regex:^\\d+$", "42 apples", "", False),
        ("regex:answer: *{label}\\b", "Reasoning... Answer: 42", "42", True),
        ("regex:answer: *{label}\\b", "Answer: 420", "42", False),
        ("regex:^{label}$", "1+1", "1+1", True),  # the label is taken literally, not as a pattern
        ("regex:^{label}$", "42", "", None),
    ],
)
def test_each_scoring_mode_judges_answers_as_documented(score, answer, label, expected):
    assert Scoring.parse(score).score(answer, label) is expected


@pytest.mark.parametrize(
    "text, problem",
    [
        ("banana", "Unknown scoring"),
        ("numeric:abc", "needs a number"),
        ("numeric:-1", "0 or more"),
        ("oneof:yes", "at least two classes"),
        ("regex:", "Give the regular expression"),
        ("regex:(unclosed", "does not compile"),
        ("exact:loose", "takes no value"),
        ("judge:gpt-4o", "judge takes no value"),
    ],
)
def test_a_scoring_that_cannot_work_is_refused_in_plain_words(text, problem):
    with pytest.raises(InputError, match=problem):
        Scoring.parse(text)


@pytest.mark.parametrize("text", ["exact", "exact:case", "numeric:0.5", "numeric:2%", "oneof:a,b,c", "contains", "regex:^{label}$", "judge"])
def test_a_scoring_survives_the_store_and_the_command_line_form(text):
    scoring = Scoring.parse(text)
    assert Scoring.from_json(scoring.to_json()) == scoring
    assert Scoring.parse(scoring.describe()) == scoring


@pytest.mark.parametrize("text, number", [("42", 42.0), ("-3.5", -3.5), ("so 12, then 7.", 7.0), ("none", None), ("1e3", 1000.0)])
def test_the_number_an_answer_gives(text, number):
    assert answer_number(text) == number


def test_the_confusion_matrix_counts_answers_that_are_no_class_apart():
    scoring = Scoring.parse("oneof:yes,no")
    pairs = [("yes", "yes"), ("Yes.", "yes"), ("no", "yes"), ("maybe", "no"), ("no", "no"), ("yes", ""), ("no", "unsure")]
    assert confusion_matrix(scoring, pairs) == {
        "yes": {"yes": 2, "no": 1},
        "no": {OTHER_CLASS: 1, "no": 1},
        "unsure": {"no": 1},  # a label outside the classes keeps its own row
    }


# --- the simulated model's care, which the classic experiment rests on ------------------------------


def test_a_prompt_that_asks_for_care_makes_the_simulated_model_wrong_less_often_on_a_subset_of_questions():
    import csv
    from pathlib import Path

    with open(Path(__file__).resolve().parent.parent / "core" / "data" / "demo_arithmetic.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert asks_for_care("Work step by step") and asks_for_care("请仔细计算") and not asks_for_care("Reply with the number only.")

    def wrong(template: str) -> set[str]:
        out = set()
        for row in rows:
            prompt = template.format(question=row["question"])
            content, _ = reply({}, prompt, prompt, seed=0, error_rate=0.05)
            if content != row["answer"]:
                out.add(row["id"])
        return out

    terse = wrong("Compute {question}. Reply with the number only.")
    careful = wrong("Compute {question} carefully, step by step, and check your result. Reply with the number only.")
    assert len(terse) == sum(is_deliberately_wrong(0, find_expression(r["question"])[0], 0.05) for r in rows) == 21
    assert careful < terse and len(careful) == 4  # the same questions, each run: the demo always shows this
    assert CARE_ERROR_FACTOR == 0.2


def test_judge_scoring_reads_no_text_itself_and_needs_no_label_column():
    judge = Scoring.parse("judge")
    assert judge.score("42", "42") is None and judge.score("41", "42") is None  # the judge's verdict counts, read from its runs
    assert not judge.needs_label  # a rubric may be all it grades by
