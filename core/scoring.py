"""How a comparison decides that an answer is right: one Scoring, chosen per comparison, applied
to each variant's answer and the row's label. Pure functions of the stored text, so a comparison
can be scored again another way without sending anything.

    Scoring.parse("numeric:0.01").score("The answer is 3.14.", "3.1416")   # True
    Scoring.parse("oneof:positive,negative").score("Negative.", "negative") # True
    Scoring.parse("regex:^\\d+$").score("42", None)                         # True: a form check

Modes (`--score` on the command line):
    exact          trimmed text equality; case-insensitive unless `case_sensitive` ("exact:case")
    numeric:TOL    the answer's number (the whole answer, else its last number) within TOL of the
                   label's; "numeric:1%" is relative. TOL defaults to 0
    oneof:a,b,c    the answer read as one of these classes (exactly, or the only class word in it)
                   equals the label; answers that are none of them are wrong, and counted apart in
                   the confusion matrix
    contains       the label appears in the answer
    regex:PAT      PAT is found in the answer; `{label}` in PAT stands for the row's label, taken
                   literally. Without `{label}` it checks the answer's form and needs no label
    judge          another model grades each answer against the label or a rubric (core/judge.py):
                   its verdict is read from its runs, not from the text here, so `score` gives None
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from .coerce import Unreadable, read_boolean
from .columns import cell_text
from .errors import InputError

__all__ = ["Scoring", "SCORING_MODES", "OTHER_CLASS", "confusion_matrix"]

SCORING_MODES = ("exact", "numeric", "oneof", "contains", "regex", "judge")
OTHER_CLASS = "…"  # an answer that is none of the classes, in a confusion matrix

_NUMBER = re.compile(r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?(?:[eE][+-]?\d+)?")
_ANY_NUMBER = re.compile(r"[+-]?(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?(?:[eE][+-]?\d+)?")
_EDGE_PUNCTUATION = " \t\r\n.,;:!?\"'`*()[]{}<>。，；：！？“”‘’（）【】"


def _number(text: str) -> float | None:
    """The whole text as a number ("1,234.5", "-3", "7%"), else None."""
    text = text.strip().rstrip("%").strip()
    if not text or not _NUMBER.fullmatch(text) or not any(ch.isdigit() for ch in text):
        return None
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return None


def answer_number(text: str) -> float | None:
    """The number an answer gives: the whole answer if it is one, else the last number in it
    ("... so the result is 42." gives 42), as graders of arithmetic benchmarks read answers."""
    whole = _number(text)
    if whole is not None:
        return whole
    found = _ANY_NUMBER.findall(text.replace("\u2212", "-"))
    for candidate in reversed(found):
        value = _number(candidate)
        if value is not None:
            return value
    return None


@dataclass(frozen=True)
class Scoring:
    mode: str = "exact"
    case_sensitive: bool = False
    tolerance: float = 0.0
    relative: bool = False  # tolerance is a fraction of the label (numeric:1% -> 0.01)
    classes: tuple[str, ...] = ()
    pattern: str = ""

    def __post_init__(self) -> None:
        if self.mode not in SCORING_MODES:
            raise InputError(f"Unknown scoring {self.mode!r}: choose one of {', '.join(SCORING_MODES)}.", "bad_scoring", mode=self.mode)
        if self.tolerance < 0 or not math.isfinite(self.tolerance):
            raise InputError("The numeric tolerance must be 0 or more.", "bad_tolerance")
        classes = tuple(dict.fromkeys(c.strip() for c in self.classes if c and c.strip()))
        object.__setattr__(self, "classes", classes)
        if self.mode == "oneof" and len(classes) < 2:
            raise InputError("List at least two classes for one-of scoring, separated by commas.", "few_classes")
        if self.mode == "regex":
            if not self.pattern:
                raise InputError("Give the regular expression to look for in each answer.", "no_pattern")
            try:
                # Compiled once with a stand-in for {label}, so a broken pattern is said now.
                re.compile(self.pattern.replace("{label}", "x"), 0 if self.case_sensitive else re.IGNORECASE)
            except re.error as exc:
                raise InputError(f"The regular expression does not compile: {exc}.", "bad_regex", reason=str(exc)) from None

    # --- reading and writing ------------------------------------------------------------------

    @classmethod
    def parse(cls, text: str) -> Scoring:
        """From the command line's form: exact, exact:case, numeric:TOL, numeric:N%, oneof:a,b,c,
        contains, contains:case, regex:PAT, judge."""
        mode, _, arg = (text or "exact").strip().partition(":")
        mode = mode.strip().lower()
        if mode in ("exact", "contains"):
            if arg.strip() not in ("", "case"):
                raise InputError(f"{mode} takes no value but 'case' (got {arg!r}).", "bad_scoring", mode=mode)
            return cls(mode, case_sensitive=arg.strip() == "case")
        if mode == "numeric":
            arg = arg.strip()
            relative = arg.endswith("%")
            try:
                tolerance = float(arg.rstrip("%") or 0)
            except ValueError:
                raise InputError(f"numeric:TOL needs a number as tolerance (got {arg!r}).", "bad_tolerance") from None
            return cls(mode, tolerance=tolerance / 100 if relative else tolerance, relative=relative)
        if mode == "oneof":
            return cls(mode, classes=tuple(arg.split(",")))
        if mode == "regex":
            return cls(mode, pattern=arg)
        if mode == "judge" and arg.strip():
            raise InputError(f"judge takes no value (got {arg!r}): the judge's model and rubric are the comparison's.", "judge_no_value", value=arg)
        return cls(mode)  # raises for an unknown mode

    def describe(self) -> str:
        """The command line's form again: what `parse` reads."""
        if self.mode in ("exact", "contains"):
            return self.mode + (":case" if self.case_sensitive else "")
        if self.mode == "numeric":
            return f"numeric:{self.tolerance * 100:g}%" if self.relative else f"numeric:{self.tolerance:g}"
        if self.mode == "oneof":
            return "oneof:" + ",".join(self.classes)
        if self.mode == "judge":
            return "judge"
        return f"regex:{self.pattern}"

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Scoring:
        data = json.loads(text)
        data = {k: v for k, v in data.items() if k in ("mode", "case_sensitive", "tolerance", "relative", "classes", "pattern")}
        data["classes"] = tuple(data.get("classes") or ())
        return cls(**data)

    # --- judging ------------------------------------------------------------------------------

    @property
    def needs_label(self) -> bool:
        """A label column is needed to judge at all (a judge may grade by its rubric alone)."""
        return not (self.mode == "judge" or (self.mode == "regex" and "{label}" not in self.pattern))

    def _fold(self, text: str) -> str:
        return text if self.case_sensitive else text.casefold()

    def score(self, answer: object, label: str | None) -> bool | None:
        """True (right), False (wrong), or None: not judged (no label to judge against, or the
        judge's verdict is what counts). A typed answer (an output column's value) is compared as
        its type: yes/no as yes/no ("是", "yes" and "true" are all true), a number as a number
        ("12" is 12.0); text as text."""
        if self.mode == "judge":
            return None
        has_label = label is not None and str(label).strip() != ""
        if self.needs_label and not has_label:
            return None
        if answer is None:
            return False
        label = str(label or "")
        if isinstance(answer, bool) and self.mode in ("exact", "oneof") and (expected := _boolean(label)) is not None:
            return answer is expected
        number = float(answer) if isinstance(answer, (int, float)) and not isinstance(answer, bool) else None
        answer = cell_text(answer)
        if self.mode == "exact":
            if number is not None and (b := _number(label)) is not None:
                return abs(number - b) <= 1e-9 * max(1.0, abs(b))
            return self._fold(answer.strip()) == self._fold(label.strip())
        if self.mode == "contains":
            return self._fold(label.strip()) in self._fold(answer)
        if self.mode == "numeric":
            a, b = number if number is not None else answer_number(answer), _number(label)
            if a is None or b is None:
                return False if b is not None else self._fold(answer.strip()) == self._fold(label.strip())
            allowed = self.tolerance * abs(b) if self.relative else self.tolerance
            return abs(a - b) <= allowed + 1e-9 * max(1.0, abs(b))
        if self.mode == "oneof":
            picked = self.classify(answer)
            return picked is not None and picked.casefold() == label.strip().casefold()
        pattern = self.pattern.replace("{label}", re.escape(label.strip()))
        return re.search(pattern, answer, 0 if self.case_sensitive else re.IGNORECASE) is not None

    def classify(self, answer: object) -> str | None:
        """Which of the classes an answer says: the whole answer (edge punctuation and case
        aside), else the only class that appears in it as a word. None: none, or several. A
        yes/no answer is the class that reads as the same yes or no ("yes", "是", "true")."""
        if answer is None:
            return None
        if isinstance(answer, bool):
            same = [c for c in self.classes if _boolean(c) is answer]
            if len(same) == 1:
                return same[0]
        text = cell_text(answer).strip().strip(_EDGE_PUNCTUATION).casefold()
        by_fold = {c.casefold(): c for c in self.classes}
        if text in by_fold:
            return by_fold[text]
        found = [c for folded, c in by_fold.items() if re.search(rf"(?<!\w){re.escape(folded)}(?!\w)", text)]
        return found[0] if len(found) == 1 else None


def _boolean(text: str) -> bool | None:
    try:
        return read_boolean(text)
    except Unreadable:
        return None


def confusion_matrix(scoring: Scoring, pairs: Iterable[tuple[object, str | None]]) -> dict[str, dict[str, int]]:
    """For one-of scoring: {label: {answered class or OTHER_CLASS: rows}} over (answer, label)
    pairs with a label. Labels outside the classes keep their own row."""
    matrix: dict[str, dict[str, int]] = {c: {} for c in scoring.classes}
    by_fold = {c.casefold(): c for c in scoring.classes}
    for answer, label in pairs:
        if label is None or not str(label).strip():
            continue
        row = by_fold.get(str(label).strip().casefold(), str(label).strip())
        picked = scoring.classify(answer) or OTHER_CLASS
        cells = matrix.setdefault(row, {})
        cells[picked] = cells.get(picked, 0) + 1
    return matrix
