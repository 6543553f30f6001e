"""The judge: another model that grades each variant's answer against the row's label, a rubric,
or both. Its settings (never its keys), the grading prompt it is sent, the table of answers it
grades, and how its reply is read into a verdict (correct or incorrect) and a short reason.

    judge = Judge("OpenAI", "https://api.openai.com/v1", "gpt-4o", rubric="Only the final number counts.")
    judge.variant(has_label=True).template      # the grading prompt: {prompt}, {label}, {answer}
    read_verdict('{"verdict": "incorrect", "reason": "41 is not 42."}', None)   # (False, "41 is not 42.")

The grading prompt has fixed section headers (GRADE_HEADER, then "## Task", "## Expected answer",
"## Rubric", "## Answer to grade", "## Reply"), so the simulated provider can tell it from any other
prompt and grade it (core/sim_judge.py)."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from . import constants as C
from .columns import cell_text
from .errors import InputError
from .keys import SIMULATED_PROVIDER
from .output import extract_json_object
from .spec import RunSpec
from .store import RunStore
from .template import PromptTemplate
from .variants import Variant

__all__ = [
    "Judge", "JudgeResults", "read_verdict", "read_judge", "judge_frame",
    "GRADE_HEADER", "TASK", "EXPECTED", "RUBRIC", "ANSWER", "REPLY", "VERDICT_FIELDS", "JUDGE_SYSTEM",
]  # fmt: skip

GRADE_HEADER = "Grade an answer."
TASK, EXPECTED, RUBRIC, ANSWER, REPLY = "## Task", "## Expected answer", "## Rubric", "## Answer to grade", "## Reply"
VERDICT_FIELDS = ("verdict", "reason")
JUDGE_SYSTEM = "You grade answers strictly and fairly. You reply with one JSON object and nothing else."
JUDGE_NAME = "judge"  # the judge's runs' variant name (never shown as a variant)

# What a judge may say, folded: English and Chinese, and the yes/no words models fall back on.
_CORRECT = {"correct", "right", "true", "yes", "pass", "passed", "ok", "正确", "对", "是", "通过"}
_INCORRECT = {"incorrect", "wrong", "false", "no", "fail", "failed", "not correct", "错误", "错", "不正确", "否", "不通过"}
_EDGE = " \t\r\n.,;:!?\"'`*()[]{}<>。，；：！？“”‘’（）【】"


def _literal(text: str) -> str:
    """Text put into a template as it is: its braces are not placeholders."""
    return text.replace("{", "{{").replace("}", "}}")


@dataclass(frozen=True)
class Judge:
    """Who grades and by what: a provider's model, and an optional rubric (the label column, when
    the comparison has one, is the expected answer). Keys are not part of it: never stored."""

    provider: str = SIMULATED_PROVIDER
    base_url: str = C.SIMULATED_BASE_URL
    model: str = "simulated"
    rubric: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "rubric", (self.rubric or "").strip())
        object.__setattr__(self, "model", (self.model or "").strip())
        if not self.model:
            raise InputError("Choose the judge's model.", "judge_no_model")

    @property
    def simulated(self) -> bool:
        return self.base_url.rstrip("/") == C.SIMULATED_BASE_URL

    def template(self, has_label: bool) -> str:
        """The grading prompt, with {prompt} (what the variant was asked), {label} (the row's
        expected answer, when there is a label column) and {answer} (the variant's answer)."""
        parts = [f"{GRADE_HEADER} Decide whether the answer given to the task below is correct.", f"{TASK}\n{{prompt}}"]
        if has_label:
            parts.append(f"{EXPECTED}\n{{label}}")
        if self.rubric:
            parts.append(f"{RUBRIC}\n{_literal(self.rubric)}")
        parts.append(f"{ANSWER}\n{{answer}}")
        judged_by = "the expected answer and the rubric" if has_label and self.rubric else "the expected answer" if has_label else "the rubric"
        parts.append(
            f'{REPLY}\nJudge by {judged_by}. Reply with a JSON object only: {{{{"verdict": "correct" or "incorrect", "reason": "one short sentence"}}}}'
        )
        return "\n\n".join(parts)

    def variant(self, has_label: bool) -> Variant:
        """The judge as a variant: what its runs send, with its provider's keys (`variant_keys`)."""
        return Variant(
            JUDGE_NAME, self.template(has_label), JUDGE_SYSTEM, self.provider, self.base_url, self.model,
            temperature=C.JUDGE_TEMPERATURE, max_tokens=None, json_fields=VERDICT_FIELDS,
        )  # fmt: skip

    def spec(self, variant_spec: RunSpec, has_label: bool) -> RunSpec:
        """A judge run's settings: the variant run's pace, attempts and cache, with the judge's
        prompt and model. Its price is its model's own (the variants' price is for theirs)."""
        base = variant_spec.replace(template="-", label_column=None, label_field=None, price_in=None, price_out=None, test_of=None, batch=False)
        # Always cached: the same grading prompt gets the same verdict, never paid twice (a
        # variant's failed rows retried are graded again with the rest, the rest for free).
        return self.variant(has_label).spec(base).replace(use_cache=True)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str | None) -> Judge | None:
        if not text:
            return None
        data = json.loads(text)
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def replace(self, **changes: Any) -> Judge:
        return dataclasses.replace(self, **changes)


def _verdict_word(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    text = " ".join(str(value).split()).strip(_EDGE).casefold()
    if text in _CORRECT:
        return True
    if text in _INCORRECT:
        return False
    return None


def read_verdict(output: str | None, fields_json: str | None) -> tuple[bool | None, str]:
    """(verdict, reason) from a judge's reply: its JSON's `verdict` and `reason` (also from prose
    or a code fence), else a reply that starts with the verdict ("Incorrect: ..."). None: the
    reply says neither, and the reason says so."""
    fields = json.loads(fields_json) if fields_json else None
    obj = fields if isinstance(fields, dict) and fields.get("verdict") not in (None, "") else extract_json_object(output or "")
    if isinstance(obj, dict) and "verdict" in obj:
        verdict = _verdict_word(obj.get("verdict"))
        reason = str(obj.get("reason") or "").strip()
        if verdict is not None:
            return verdict, reason
    text = (output or "").strip()
    if text.casefold().startswith("not correct"):
        return False, text
    first = re.split(r"[\s:,.;，。：；]", text.casefold(), maxsplit=1)[0].strip(_EDGE) if text else ""
    found = _verdict_word(first)
    if found is not None:
        return found, text
    return None, "The judge's reply says neither correct nor incorrect." if text else "The judge gave no reply."


def judge_frame(
    inputs: pd.DataFrame, variant: Variant, answers: Sequence[object], statuses: Sequence[str], label_column: str | None, answered: Sequence[str]
) -> pd.DataFrame:
    """What the judge grades for one variant: one row per answered row (`statuses` in
    `answered`), with its position in the comparison (`row`), the prompt the variant sent (the
    system prompt first, if any), the row's label and the variant's answer. Failed rows are
    wrong answers already: they are not sent to the judge."""
    template = PromptTemplate(variant.template, variant.system)
    columns = [str(c) for c in inputs.columns]
    rows = []
    for i, values in enumerate(inputs.itertuples(index=False, name=None)):
        if i >= len(statuses) or statuses[i] not in answered:
            continue
        cells = dict(zip(columns, values))
        system = template.render_system(cells)
        prompt = template.render(cells)
        label = cells.get(label_column, "") if label_column else ""
        answer = cell_text(answers[i])  # a typed value as text: false, not ""
        rows.append({"row": str(i), "prompt": f"{system}\n\n{prompt}" if system else prompt, "label": str(label), "answer": answer})
    return pd.DataFrame(rows, columns=["row", "prompt", "label", "answer"], dtype=object)


@dataclass(frozen=True)
class JudgeResults:
    """What a judge's runs say of one variant, per comparison row, and what they cost."""

    run_ids: tuple[str, ...]  # its grading runs, oldest first (one, unless failed rows were retried)
    verdicts: tuple[bool | None, ...]  # None: not graded (yet), or the judge's reply said neither
    reasons: tuple[str | None, ...]
    sent: int = 0  # answers given to the judge
    graded: int = 0  # with a verdict
    pending: int = 0
    failed: int = 0  # the judge's request failed, or its reply could not be read
    requests: int = 0  # sent to the provider, retries included (none for answers from the cache)
    cached: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost: float = 0.0

    @classmethod
    def none(cls, n: int) -> JudgeResults:
        return cls((), (None,) * n, (None,) * n)


def read_judge(store: RunStore, run_ids: Sequence[str], n: int) -> JudgeResults:
    """The verdicts of a variant's judge runs, placed on the comparison's rows by their `row`
    column; a later run's verdict on a row stands over an earlier one's. Runs deleted from
    History count for nothing."""
    verdicts: list[bool | None] = [None] * n
    reasons: list[str | None] = [None] * n
    outcome: dict[int, str] = {}  # row -> "graded" | "failed" | "pending", the latest run's
    kept: list[str] = []
    requests = cached = tokens_in = tokens_out = 0
    cost = 0.0
    for run_id in run_ids:
        if store.get_run(run_id, counts=False) is None:
            continue
        kept.append(run_id)
        inputs = store.load_inputs(run_id)
        positions = [int(r) for r in inputs["row"]] if "row" in inputs.columns else []
        results = {r["row"]: r for r in store.results(run_id)}
        for j, pos in enumerate(positions):
            if not 0 <= pos < n:
                continue
            r = results.get(j)
            if r is None:
                outcome[pos] = "pending"
                verdicts[pos], reasons[pos] = None, None
            elif r["status"] == "failed":
                outcome[pos] = "failed"
                verdicts[pos], reasons[pos] = None, r["error"] or ""
            else:
                verdicts[pos], reasons[pos] = read_verdict(r["output"], r["fields_json"])
                outcome[pos] = "graded" if verdicts[pos] is not None else "failed"
        done = list(results.values())
        requests += sum(int(r["attempts"] or 0) for r in done if not r["cached"])
        cached += sum(1 for r in done if r["cached"])
        tokens_in += sum(r["tokens_in"] for r in done)
        tokens_out += sum(r["tokens_out"] for r in done)
        cost += sum(r["cost"] for r in done)
    states = list(outcome.values())
    return JudgeResults(
        tuple(kept), tuple(verdicts), tuple(reasons), sent=len(outcome), graded=states.count("graded"), pending=states.count("pending"),
        failed=states.count("failed"), requests=requests, cached=cached, tokens_in=tokens_in, tokens_out=tokens_out, cost=cost,
    )  # fmt: skip
