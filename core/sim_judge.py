"""The simulated provider as a judge: its reply to a grading prompt (core/judge.py), so that a
comparison scored by a judge works, and is tested, with no key and the same verdicts every time.

    grade(Judge().template(True).replace("{prompt}", "2 + 2").replace("{label}", "4").replace("{answer}", "4.0"))
    # '{"verdict": "correct", "reason": "The answer gives 4, the expected answer is 4."}'

Its rule, honest and deterministic:
- with an expected answer: both read as numbers (the answer's number, or its last one, as numeric
  scoring reads it) must be equal; otherwise the texts must be equal (case, spaces and edge
  punctuation aside), or the expected answer must appear in the answer as a word or phrase;
- with a rubric: every phrase the rubric quotes ('...', "...", “...” or 「...」) must appear in the
  answer; a rubric that quotes nothing asks only for an answer that is not empty.
Any other prompt is not a grading prompt: `grade` returns None and the model answers as usual."""

from __future__ import annotations

import json
import re

from .judge import ANSWER, EXPECTED, GRADE_HEADER, REPLY, RUBRIC
from .scoring import answer_number

__all__ = ["grade", "grading_parts"]

_EDGE = " \t\r\n.,;:!?\"'`*()[]{}<>。，；：！？“”‘’（）【】"
_QUOTED = re.compile(r"'([^'\n]+)'|\"([^\"\n]+)\"|“([^”\n]+)”|「([^」\n]+)」")


def _section(text: str, header: str, end: int | None = None) -> int:
    """Where the last `header` section before `end` starts (its header's position), or -1."""
    return text.rfind(f"\n\n{header}\n", 0, len(text) if end is None else end)


def grading_parts(prompt: str) -> tuple[str, str | None, str | None] | None:
    """(answer, expected answer or None, rubric or None) of a grading prompt, else None. Read
    from the end, where the judge's own sections are, so a task quoting a header misleads nothing."""
    if not prompt.startswith(GRADE_HEADER):
        return None
    reply = _section(prompt, REPLY)
    answer_at = _section(prompt, ANSWER, reply)
    if reply < 0 or answer_at < 0:
        return None
    answer = prompt[answer_at + len(ANSWER) + 3 : reply]
    before = prompt[:answer_at]
    rubric = expected = None
    at = _section(before, RUBRIC)
    if at >= 0:
        rubric, before = before[at + len(RUBRIC) + 3 :], before[:at]
    at = _section(before, EXPECTED)
    if at >= 0:
        expected = before[at + len(EXPECTED) + 3 :]
    return answer, expected, rubric


def _fold(text: str) -> str:
    return " ".join(text.split()).strip(_EDGE).casefold()


def _shown(value: float) -> str:
    return f"{value:g}" if abs(value) < 1e15 else str(value)


def _against_label(answer: str, expected: str) -> tuple[bool, str]:
    a, b = answer_number(answer), answer_number(expected)
    if a is not None and b is not None:
        same = abs(a - b) <= 1e-9 * max(1.0, abs(b))
        return same, f"The answer gives {_shown(a)}, the expected answer is {_shown(b)}."
    got, want = _fold(answer), _fold(expected)
    if got == want or (want and re.search(rf"(?<!\w){re.escape(want)}(?!\w)", got)):
        return True, f"The answer says {want!r}, as expected."
    return False, f"The answer does not say {want!r}."


def grade(prompt: str) -> str | None:
    """The simulated judge's JSON reply to a grading prompt; None for any other prompt."""
    parts = grading_parts(prompt)
    if parts is None:
        return None
    answer, expected, rubric = parts
    if not answer.strip():
        verdict, reason = False, "The answer is empty."
    elif expected is not None and expected.strip():
        verdict, reason = _against_label(answer, expected)
    else:
        verdict, reason = True, "The answer is not empty."
    if verdict and rubric:
        wanted = [next(g for g in m.groups() if g) for m in _QUOTED.finditer(rubric)]
        missing = [w for w in wanted if w.casefold() not in answer.casefold()]
        if missing:
            verdict, reason = False, f"The rubric asks for {missing[0]!r}, which the answer lacks."
        elif wanted:
            reason += f" It has {', '.join(repr(w) for w in wanted)}, as the rubric asks."
    return json.dumps({"verdict": "correct" if verdict else "incorrect", "reason": reason}, ensure_ascii=False)
