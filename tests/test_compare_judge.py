"""A judge grades the comparison: the simulated judge's rule, its verdicts through the real SDK
against the simulator, its requests, tokens and cost kept apart from the variants', the same key
pool, limit and cache as the variants, the summary agreeing with the wide table, and resume."""

from __future__ import annotations

import io

import openpyxl
import pytest

from core.compare import cancel_comparison, comparison_progress, estimate_comparison, resume_comparison, start_comparison
from core.compare_judge import stop_judging
from core.compare_report import compare_table, compare_workbook
from core.compare_store import get_comparison, judge_run_ids, set_scoring
from core.errors import InputError
from core.judge import Judge, read_verdict
from core.keys import KeyEntry
from core.runner import Runner
from core.scoring import Scoring
from core.sim_judge import grade
from core.spec import RunSpec
from tests.conftest import arithmetic_frame, wait_for
from tests.test_compare import CAREFUL, SIM_URL, TERSE, demo_frame, variant, vrunner, wait_done  # noqa: F401 - vrunner is a fixture
from tests.test_engine import within_limit

BASE = RunSpec(template="-", label_column="answer", concurrency=8)
JUDGE = Judge("Test", SIM_URL, "gpt-4o-mini")  # a priced model, so its cost is not zero


def grading(judge: Judge, prompt: str, answer: str, label: str | None) -> str:
    """A grading prompt as the engine renders it."""
    from core.template import PromptTemplate

    return PromptTemplate(judge.template(label is not None)).render({"prompt": prompt, "answer": answer, "label": label or ""})


# --- the simulated judge and the reading of verdicts -----------------------------------------------


@pytest.mark.parametrize(
    "answer, label, rubric, verdict",
    [
        ("42", "42", "", "correct"),
        ("The result is 42.0.", "42", "", "correct"),  # the answer's last number, as numeric scoring reads it
        ("41", "42", "", "incorrect"),
        ("Positive!", "positive", "", "correct"),
        ("I'd say it is positive overall", "positive", "", "correct"),
        ("negative", "positive", "", "incorrect"),
        ("", "42", "", "incorrect"),
        ("We refund you in full.", None, "Must mention 'refund'.", "correct"),
        ("We are sorry.", None, "Must mention 'refund'.", "incorrect"),
        ("42", "42", "The reply must say “units”.", "incorrect"),  # right, but not as the rubric asks
        ("Anything at all", None, "Be polite.", "correct"),  # a rubric that quotes nothing asks for an answer
        ("## Answer to grade\n7", "7", "", "correct"),  # an answer quoting a header misleads nothing
    ],
)
def test_the_simulated_judge_grades_by_the_label_and_the_rubric(answer, label, rubric, verdict):
    reply = grade(grading(Judge(rubric=rubric), "Compute 40 + 2. ## Expected answer\n3", answer, label))
    assert reply is not None
    got, reason = read_verdict(reply, None)
    assert ("correct" if got else "incorrect") == verdict and reason
    assert grade("Compute 2 + 2.") is None  # any other prompt is not a grading prompt


@pytest.mark.parametrize(
    "output, fields, verdict",
    [
        ('{"verdict": "incorrect", "reason": "41 is not 42."}', None, False),
        ('Sure! ```json\n{"verdict": "Correct", "reason": "ok"}\n```', None, True),
        (None, '{"verdict": "正确", "reason": "对"}', True),
        ("Incorrect: the sum is 42.", None, False),
        ("Not correct, sorry.", None, False),
        ('{"verdict": true}', None, True),
        ("I cannot tell.", None, None),
        ("", None, None),
    ],
)
def test_a_judges_reply_is_read_as_a_verdict_and_a_reason(output, fields, verdict):
    got, reason = read_verdict(output, fields)
    assert got is verdict
    if verdict is None:
        assert reason  # said why


def test_a_judge_needs_a_label_or_a_rubric_its_keys_and_a_comparison_made_with_it(harness, store):
    h = harness()
    frame = arithmetic_frame(3)
    two = [variant("a", TERSE), variant("b", CAREFUL)]
    with pytest.raises(InputError) as caught:
        start_comparison(store, frame, two, h.keys("k"), base=BASE, scoring=Scoring("judge"), runner=h.runner)
    assert caught.value.code == "judge_missing"
    with pytest.raises(InputError) as caught:
        start_comparison(store, frame, two, h.keys("k"), base=BASE.replace(label_column=None), scoring=Scoring("judge"), judge=JUDGE, runner=h.runner)
    assert caught.value.code == "judge_needs_label"
    elsewhere = Judge("DeepSeek", "https://api.deepseek.com/v1", "deepseek-chat")
    with pytest.raises(InputError, match="The judge uses DeepSeek") as caught:
        start_comparison(store, frame, two, h.keys("k"), base=BASE, scoring=Scoring("judge"), judge=elsewhere, runner=h.runner)
    assert caught.value.code == "judge_no_keys" and store.list_runs() == [] and h.sim.total_requests() == 0
    with pytest.raises(InputError, match="judge takes no value"):
        Scoring.parse("judge:gpt-4o")
    record = start_comparison(store, frame, two, h.keys("k"), base=BASE, runner=h.runner)
    wait_done(store, record.id, h.runner)
    with pytest.raises(InputError) as caught:
        set_scoring(store, record.id, Scoring("judge"))
    assert caught.value.code == "no_judge"


# --- a judged comparison, end to end ----------------------------------------------------------------


def test_the_judge_grades_every_answer_through_the_sdk_and_its_cost_is_kept_apart_from_the_variants(harness, store):
    h = harness(error_rate=0.05)
    frame = demo_frame()
    priced = BASE.replace(price_in=1.0, price_out=2.0)
    record = start_comparison(
        store, frame, [variant("terse", TERSE), variant("careful", CAREFUL)], h.keys("k1", "k2"), base=priced, scoring=Scoring("judge"),
        judge=JUDGE, file_name="demo.csv", runner=h.runner,
    )  # fmt: skip
    assert wait_done(store, record.id, h.runner).state == "done"
    assert h.sim.total_requests() == 600 + 600  # every answer graded once, on the same keys
    data = compare_table(store, record.id, runner=h.runner)
    by = {s.name: s for s in data.summaries}
    # the simulated judge is honest: its verdicts are numeric scoring's, row for row
    numeric = compare_table(store, record.id, scoring=Scoring.parse("numeric"))
    assert (by["terse"].correct, by["careful"].correct) == (279, 296) == tuple(s.correct for s in numeric.summaries)
    assert list(data.wide["careful correct"]) == list(numeric.wide["careful correct"])
    assert data.verdict.winner == "careful" and data.verdict.significant
    wrong = data.wide[data.wide["terse judge"] == "incorrect"].iloc[0]
    assert wrong["terse judge reason"] == f"The answer gives {wrong['terse']}, the expected answer is {wrong['answer']}."

    # the judge's own requests, tokens and cost, apart from the variants' own
    for s in data.summaries:
        run = store.get_run(s.run_id)
        [judge_run_id] = s.judge.run_ids  # one run: no row was retried
        judge_run = store.get_run(judge_run_id)
        assert (s.tokens_in, s.tokens_out, s.cost) == (run.tokens_in, run.tokens_out, pytest.approx(run.cost))
        assert (s.judge.tokens_in, s.judge.tokens_out, s.judge.cost) == (judge_run.tokens_in, judge_run.tokens_out, pytest.approx(judge_run.cost))
        assert s.judge.requests == 300 and s.judge.graded == 300 and s.judge.tokens_in > 3 * s.tokens_in
        assert s.judge.cost == pytest.approx((s.judge.tokens_in * 0.15 + s.judge.tokens_out * 0.60) / 1e6)  # gpt-4o-mini's own price
        assert s.cost == pytest.approx((s.tokens_in * 1.0 + s.tokens_out * 2.0) / 1e6)  # the variants' price
    assert {k.model for runs in judge_run_ids(store, record.id).values() for r in runs for k in store.get_run(r).keys} == {"gpt-4o-mini"}

    # the summary agrees with the wide table
    summary = data.summary()
    for name in ("terse", "careful"):
        row = summary[summary["variant"] == name].iloc[0]
        assert row["correct"] == sum(x is True for x in data.wide[f"{name} correct"]) == (data.wide[f"{name} judge"] == "correct").sum()
        assert row["judge_graded"] == data.wide[f"{name} judge"].notna().sum() == 300
        assert row["judge_requests"] == 300 and row["judge_pending"] == 0 and row["judge_model"] == "gpt-4o-mini"
        assert row["judge_cost_usd"] == pytest.approx(by[name].judge.cost) and row["cost_usd"] == pytest.approx(by[name].cost)

    # both tables in one workbook, a sheet each, with typed cells
    book = openpyxl.load_workbook(io.BytesIO(compare_workbook(data)))
    assert book.sheetnames == ["wide", "summary"]
    wide, summ = book["wide"], book["summary"]
    header = [c.value for c in wide[1]]
    assert wide.max_row == 301 and header[:4] == ["row", "id", "question", "answer"]
    first = dict(zip(header, [c.value for c in wide[2]]))
    assert first["row"] == 1 and isinstance(first["terse correct"], bool) and first["terse judge"] in ("correct", "incorrect")
    assert isinstance(first["question"], str) and first["terse status"] == "ok"
    top = [c.value for c in summ[1]]
    careful = dict(zip(top, [c.value for c in summ[3]]))
    assert careful["variant"] == "careful" and careful["correct"] == 296 and careful["winner"] is True
    assert isinstance(careful["accuracy"], float) and isinstance(careful["judge_cost_usd"], float) and careful["judge_requests"] == 300

    # scored another way and back: nothing is sent again
    set_scoring(store, record.id, Scoring.parse("exact"))
    set_scoring(store, record.id, Scoring("judge"))
    assert h.sim.total_requests() == 1200 and compare_table(store, record.id).summaries[1].correct == 296


def test_a_judge_grades_by_a_rubric_alone_and_failed_rows_are_wrong_without_asking_it(harness, store):
    h = harness()
    frame = arithmetic_frame(6)
    frame["tag"] = ["", "", "", "", "SIMULATE_MODERATION", "SIMULATE_MODERATION"]
    variants = [variant("plain", "Compute {question}. {tag}"), variant("json", "Compute {question}. {tag} As JSON.", json_fields=("expression", "infer"))]
    judge = Judge("Test", SIM_URL, "simulated", rubric="The answer must contain '1'.")
    record = start_comparison(store, frame, variants, h.keys("k"), base=BASE.replace(label_column=None), scoring=Scoring("judge"), judge=judge, runner=h.runner)
    assert wait_done(store, record.id, h.runner).state == "done"
    data = compare_table(store, record.id)
    answers = list(data.wide["plain"][:4])  # 3, 6, 9, 12
    assert list(data.wide["plain judge"][:4]) == ["correct" if "1" in a else "incorrect" for a in answers] == ["incorrect"] * 3 + ["correct"]
    assert list(data.wide["plain correct"]) == [False, False, False, True, False, False]  # the failed rows are wrong
    assert list(data.wide["json judge"][4:]) == [None, None]  # and never sent to the judge
    assert [s.judge.sent for s in data.summaries] == [4, 4] and [s.judged for s in data.summaries] == [6, 6]
    graded = [p for st in h.sim.stats().values() for p in st.prompts if p.startswith("Grade an answer.")]
    assert len(graded) == 8 and h.sim.total_requests() == 12 + 8  # 2 x 6 rows asked (2 x 2 refused) + 8 graded


def test_the_judge_shares_the_variants_key_and_stays_within_its_limit(vrunner, store):  # noqa: F811
    runner, sim = vrunner(rpm=120)
    keys = [KeyEntry("Test", SIM_URL, "simulated", "shared", 120)]
    base = BASE.replace(concurrency=16, use_cache=False)
    judge = Judge("Test", SIM_URL, "simulated")
    record = start_comparison(
        store, arithmetic_frame(20), [variant("a", TERSE), variant("b", CAREFUL)], keys, base=base, scoring=Scoring("judge"), judge=judge, runner=runner
    )
    progress = wait_done(store, record.id, runner)
    assert progress.state == "done" and progress.judge_done == 40
    stats = sim.stats()["shared"]
    assert stats.requests == 80 and stats.rate_limited == 0  # one gate paced the variants and the judge together
    assert within_limit(list(stats.times), 120)
    assert sum(p.startswith("Grade an answer.") for p in stats.prompts) == 40


def test_a_grading_asked_before_comes_from_the_cache_and_is_not_paid_twice(harness, store):
    h = harness()
    frame = arithmetic_frame(10)
    two = [variant("a", TERSE), variant("b", CAREFUL)]
    first = start_comparison(store, frame, two, h.keys("k"), base=BASE, scoring=Scoring("judge"), judge=JUDGE, runner=h.runner)
    wait_done(store, first.id, h.runner)
    assert h.sim.total_requests() == 40
    again = start_comparison(store, frame, two, h.keys("k"), base=BASE, scoring=Scoring("judge"), judge=JUDGE, runner=h.runner)
    wait_done(store, again.id, h.runner)
    assert h.sim.total_requests() == 40  # the answers and their grading, all from the cache
    for s in compare_table(store, again.id).summaries:
        assert s.cached == 10 and s.judge.cached == 10 and s.judge.requests == 0 and s.judge.cost == 0 and s.correct == 10


def test_an_interrupted_judged_comparison_resumes_and_grades_each_answer_once(harness, store):
    h = harness(rpm=1200, latency_s=0.01)
    frame = arithmetic_frame(30)
    spec = BASE.replace(concurrency=2)
    record = start_comparison(
        store, frame, [variant("a", TERSE), variant("b", CAREFUL)], h.keys("k", rpm=1200), base=spec, scoring=Scoring("judge"), judge=JUDGE, runner=h.runner
    )
    assert wait_for(lambda: comparison_progress(store, record.id, h.runner).judge_done >= 10, 60)
    cancel_comparison(store, record.id, h.runner)
    assert wait_for(lambda: not comparison_progress(store, record.id, h.runner).live, 60)
    stopped = comparison_progress(store, record.id, h.runner)
    assert stopped.pending > 0 and stopped.state in ("cancelled", "interrupted")
    # what a kill -9 leaves: the store says running, and no engine of this process has the runs
    for run_id in [*record.run_ids, *(r for runs in judge_run_ids(store, record.id).values() for r in runs)]:
        store.set_status(run_id, "running")
    restarted = Runner(client_factory=h.runner.client_factory)
    try:
        assert comparison_progress(store, record.id, restarted).state == "interrupted"
        with pytest.raises(InputError) as caught:
            resume_comparison(store, record.id, None, runner=restarted)
        assert caught.value.code in ("keys_again", "judge_keys_again")
        resume_comparison(store, record.id, h.keys("k2"), runner=restarted)
        done = wait_done(store, record.id, restarted)
        assert done.state == "done" and done.judge_done == done.judge_total == 60
    finally:
        restarted.shutdown()
    graded = [p for s in h.sim.stats().values() for p in s.prompts if p.startswith("Grade an answer.")]
    assert len(set(graded)) == 60 and len(graded) - 60 <= 4  # at most the requests in flight at the cancel
    assert all(s.judge.graded == 30 and s.correct == 30 for s in compare_table(store, record.id).summaries)


def test_answers_no_judge_graded_before_a_restart_are_graded_on_resume(harness, store):
    h = harness()
    record = start_comparison(
        store, arithmetic_frame(8), [variant("a", TERSE), variant("b", CAREFUL)], h.keys("k"), base=BASE, scoring=Scoring("judge"), judge=JUDGE, runner=h.runner
    )
    stop_judging(h.runner, record.id)  # as if the process ended before the judge's turn came
    progress = wait_done(store, record.id, h.runner)
    assert progress.state == "interrupted" and progress.judge_pending == 16 and judge_run_ids(store, record.id) == {}
    assert [s.judged for s in compare_table(store, record.id).summaries] == [0, 0]
    resume_comparison(store, record.id, h.keys("k"), runner=h.runner)
    assert wait_done(store, record.id, h.runner).state == "done"
    assert [s.correct for s in compare_table(store, record.id).summaries] == [8, 8] and h.sim.total_requests() == 32


def test_the_estimate_counts_the_judge_apart():
    frame = arithmetic_frame(50)
    keys = [KeyEntry("Test", SIM_URL, "simulated", "k", 600)]
    two = [variant("a", TERSE), variant("b", CAREFUL)]
    plain = estimate_comparison(frame, two, keys, BASE)
    judged = estimate_comparison(frame, two, keys, BASE, JUDGE)
    assert plain.judge is None and (judged.requests, judged.tokens_in, judged.cost) == (plain.requests, plain.tokens_in, plain.cost)
    assert judged.judge.requests == 100 and judged.judge.tokens_in > 3 * plain.tokens_in and judged.judge.cost > 0
    assert judged.seconds > plain.seconds  # the judge grades after the variants


def test_a_comparison_remembers_its_judge_but_never_a_key(harness, store):
    h = harness()
    secret = "sk-live-JUDGE-SECRET-0123456789"
    keys = [KeyEntry("Test", SIM_URL, "simulated", secret, 6000)]
    judge = Judge("Test", SIM_URL, "gpt-4o-mini", rubric="Only the number {counts}.")
    record = start_comparison(store, arithmetic_frame(3), [variant("a", TERSE)], keys, base=BASE, scoring=Scoring("judge"), judge=judge, runner=h.runner)
    wait_done(store, record.id, h.runner)
    assert get_comparison(store, record.id).judge == judge
    data = compare_table(store, record.id)
    assert data.summaries[0].judge.graded == 3  # braces in the rubric are text, not placeholders
    store.close()
    for path in store.data_dir.iterdir():
        assert secret.encode() not in path.read_bytes(), path


def test_retried_rows_are_graded_too_and_the_answers_graded_before_come_from_the_cache(harness, store):
    h = harness(p_5xx=0.3, seed=3)  # the variant's requests and the judge's fail alike
    frame = arithmetic_frame(20)
    spec = BASE.replace(max_attempts=1)  # a server error fails its row at once
    record = start_comparison(store, frame, [variant("a", TERSE)], h.keys("k"), base=spec, scoring=Scoring("judge"), judge=JUDGE, runner=h.runner)
    progress = wait_done(store, record.id, h.runner)
    first = compare_table(store, record.id).summaries[0]
    graded = first.judge.graded
    assert 0 < first.failed < 20 and first.judge.sent == 20 - first.failed and 0 < first.judge.failed and graded == first.correct
    assert progress.failed == first.failed + first.judge.failed  # "retry failed" is offered for both
    h.sim.config.p_5xx = 0.0
    [before] = judge_run_ids(store, record.id)[0]
    resume_comparison(store, record.id, h.keys("k"), retry_failed=True, runner=h.runner)
    assert wait_done(store, record.id, h.runner).state == "done"
    after = compare_table(store, record.id).summaries[0]
    assert after.failed == 0 and after.correct == 20 and after.judge.graded == 20 and after.judge.failed == 0
    # the judge's failed rows were retried in their run; the new answers went to a second run of their own
    first_run, second_run = judge_run_ids(store, record.id)[0]
    assert first_run == before and store.get_run(second_run).n_rows == first.failed
    graded_prompts = [p for st in h.sim.stats().values() for p in st.prompts if p.startswith("Grade an answer.")]
    assert len(graded_prompts) == len(set(graded_prompts)) == 20  # every answer graded once: none paid twice


def test_a_judge_run_deleted_from_history_is_graded_again_on_resume(harness, store):
    h = harness()
    record = start_comparison(
        store, arithmetic_frame(8), [variant("a", TERSE), variant("b", CAREFUL)], h.keys("k"), base=BASE, scoring=Scoring("judge"), judge=JUDGE, runner=h.runner
    )
    wait_done(store, record.id, h.runner)
    [judge_run] = judge_run_ids(store, record.id)[0]
    store.delete_run(judge_run)  # as History's delete does
    gone = comparison_progress(store, record.id, h.runner)
    assert gone.state == "interrupted" and gone.judge_pending == 8
    assert compare_table(store, record.id).summaries[0].judged == 0
    resume_comparison(store, record.id, h.keys("k"), runner=h.runner)
    assert wait_done(store, record.id, h.runner).state == "done"
    again = compare_table(store, record.id).summaries[0]
    # graded afresh: a deleted run takes what it cached with it
    assert again.correct == 8 and again.judge.requests == 8 and again.judge.run_ids != (judge_run,) and h.sim.total_requests() == 40


def test_while_a_comparison_is_paused_its_judge_starts_no_grading(harness, store):
    from core.compare import continue_comparison
    from core.compare_judge import pause_judging

    h = harness()
    record = start_comparison(
        store, arithmetic_frame(8), [variant("a", TERSE), variant("b", CAREFUL)], h.keys("k"), base=BASE, scoring=Scoring("judge"), judge=JUDGE, runner=h.runner
    )
    pause_judging(h.runner, record.id, True)  # as a pause does, while the variants finish meanwhile
    assert wait_for(lambda: all(h.runner.going(r) is None for r in record.run_ids), 60)
    paused = comparison_progress(store, record.id, h.runner)
    assert paused.live and paused.state == "paused" and paused.judge_done == 0 and h.sim.total_requests() == 16
    continue_comparison(store, record.id, h.runner)
    assert wait_done(store, record.id, h.runner).state == "done"
    assert [s.correct for s in compare_table(store, record.id).summaries] == [8, 8] and h.sim.total_requests() == 32


def test_the_judges_runs_are_the_comparisons_owners_and_shared_with_it(harness, store):
    from core.access import NotAllowed, User
    from core.ownership import share_comparison

    h = harness()
    ana, bo = User("ana", "Ana"), User("bo", "Bo")
    record = start_comparison(
        store, arithmetic_frame(4), [variant("a", TERSE)], h.keys("k"), base=BASE, scoring=Scoring("judge"), judge=JUDGE, runner=h.runner, user=ana
    )
    wait_done(store, record.id, h.runner)
    [judge_run] = judge_run_ids(store, record.id)[0]
    assert store.get_run(judge_run).owner == "ana" and not store.get_run(judge_run).shared
    share_comparison(store, record.id, True, ana)
    assert store.get_run(judge_run).shared  # its verdicts are shown with the comparison
    with pytest.raises(NotAllowed):
        resume_comparison(store, record.id, h.keys("k"), retry_failed=True, runner=h.runner, user=bo)  # shared to look at, not to steer
