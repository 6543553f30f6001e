"""Comparisons end to end: variants as ordinary runs on the same rows, through the real SDK against
the simulator, with the real store and runner; the shared limit timed on a virtual clock."""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path

import pandas as pd
import pytest

import core
from core import constants as C
from core.columns import OutputColumn
from core.compare import comparison_progress, estimate_comparison, resume_comparison, select_rows, start_comparison
from core.compare_report import compare_table, mcnemar_p, percentile, wilson_interval
from core.compare_store import comparison_of_run, delete_comparison, get_comparison, list_comparisons, set_scoring
from core.errors import InputError
from core.keys import KeyEntry, demo_pool
from core.runner import Runner
from core.scoring import Scoring
from core.simulator import Simulator, SimulatorConfig
from core.spec import RunSpec
from core.variants import RowSelection, Variant, check_variants, grid
from tests.conftest import ROOT, arithmetic_frame, wait_for
from tests.test_engine import within_limit
from tests.vclock import VirtualClockLoop

SIM_URL = "http://sim.test/v1"
TERSE = "Compute {question}. Reply with the number only."
CAREFUL = "Compute {question} carefully, step by step, and check your result. Reply with the number only."
BASE = RunSpec(template="-", label_column="answer", concurrency=8)


def demo_frame() -> pd.DataFrame:
    with open(ROOT / "core" / "data" / "demo_arithmetic.csv", encoding="utf-8") as f:
        return pd.DataFrame(list(csv.DictReader(f)), dtype=object)


def variant(name: str, template: str, **kw: object) -> Variant:
    return Variant(name, template, provider="Test", base_url=SIM_URL, model="simulated", **kw)


def wait_done(store, cid: str, runner, timeout: float = 120) -> object:  # type: ignore[no-untyped-def]
    assert wait_for(lambda: not comparison_progress(store, cid, runner).live, timeout, 0.05), comparison_progress(store, cid, runner)
    return comparison_progress(store, cid, runner)


# --- the pieces --------------------------------------------------------------------------------


def test_the_grid_is_every_template_times_every_model_named_after_what_differs():
    both = grid(["A {q}", "B {q}"], ["m1", "m2"])
    assert [(v.name, v.template, v.model) for v in both] == [
        ("t1/m1", "A {q}", "m1"), ("t1/m2", "A {q}", "m2"), ("t2/m1", "B {q}", "m1"), ("t2/m2", "B {q}", "m2"),
    ]  # fmt: skip
    assert [v.name for v in grid(["A {q}", "B {q}"], ["m1"])] == ["t1", "t2"]
    assert [v.name for v in grid(["A {q}"], ["m1", "m2", "m1"])] == ["m1", "m2"]  # a model given twice is one variant
    base = variant("x", "-", temperature=0.5, max_tokens=20)
    made = grid(["A {q}"], ["m1", "m2"], base=base)
    assert all(v.temperature == 0.5 and v.max_tokens == 20 and v.base_url == SIM_URL for v in made)
    check_variants(both, BASE)


def test_variants_that_would_send_the_same_requests_or_share_a_name_are_refused():
    with pytest.raises(InputError, match="same requests"):
        check_variants([variant("a", TERSE), variant("b", TERSE)], BASE)
    with pytest.raises(InputError, match="Two variants are called"):
        check_variants([variant("a", TERSE), variant("A", CAREFUL)], BASE)
    check_variants([variant("a", TERSE), variant("b", TERSE, temperature=0.7)], BASE)  # another setting: another request


def test_every_variant_gets_the_same_rows_first_n_or_a_seeded_random_sample_in_input_order():
    frame = arithmetic_frame(100)
    assert RowSelection().rows(100) == list(range(100))
    assert RowSelection("first", 10).rows(100) == list(range(10))
    sample = RowSelection("random", 20, seed=7).rows(100)
    assert sample == sorted(sample) and len(set(sample)) == 20 and sample == RowSelection("random", 20, seed=7).rows(100)
    assert sample != RowSelection("random", 20, seed=8).rows(100)
    rows, chosen = select_rows(frame, RowSelection("random", 20, seed=7))
    assert list(chosen["id"]) == [str(r + 1) for r in rows]
    with pytest.raises(InputError):
        RowSelection("random", 0)


def test_the_statistics_are_the_textbook_ones():
    low, high = wilson_interval(95, 100)
    assert (round(low, 3), round(high, 3)) == (0.888, 0.978)
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == pytest.approx(1.0) and wilson_interval(0, 0) is None
    assert mcnemar_p(0, 0) == 1.0 and mcnemar_p(3, 3) == 1.0
    assert mcnemar_p(10, 0) == pytest.approx(2 / 1024)
    assert mcnemar_p(6, 2) == pytest.approx(0.2890625)
    assert percentile([5, 1, 3, 2, 4], 0.5) == 3 and percentile([1, 2, 3, 4, 100], 0.95) == 100 and percentile([], 0.5) is None


# --- the classic experiment ------------------------------------------------------------------------


def test_the_careful_prompt_wins_the_classic_experiment_and_the_summary_agrees_with_the_wide_table(harness, store):
    h = harness(error_rate=0.05)
    frame = demo_frame()
    variants = [
        variant("terse", TERSE),
        variant("careful", CAREFUL),
        variant("json", TERSE + " As JSON.", columns=(OutputColumn("expression"), OutputColumn("infer", "number"))),
    ]
    record = start_comparison(store, frame, variants, h.keys("k1", "k2"), base=BASE, file_name="demo.csv", runner=h.runner)
    assert wait_done(store, record.id, h.runner).state == "done"
    data = compare_table(store, record.id, runner=h.runner)
    by = {s.name: s for s in data.summaries}
    assert (by["terse"].correct, by["careful"].correct, by["json"].correct) == (279, 296, 279)
    assert all(s.judged == 300 and s.ok == 300 and s.failed == 0 and s.state == "done" for s in data.summaries)
    v = data.verdict
    assert (v.winner, v.runner_up, v.only_winner_right, v.only_runner_up_right, v.reason) == ("careful", "terse", 17, 0, "clear")
    assert v.margin == pytest.approx(17 / 300) and v.p_value < 0.001
    low, high = by["careful"].interval
    assert low < by["careful"].accuracy < high

    # one row per input row, in order; an answer column named after each variant
    wide = data.wide
    assert list(wide["id"]) == list(frame["id"]) and list(wide["row"]) == list(range(1, 301))
    assert list(wide["careful"][:3]) == list(frame["answer"][:3])
    assert "json expression" in wide.columns and wide["json"].notna().all()  # the compared field is the answer
    summary = data.summary()
    for name in ("terse", "careful", "json"):
        row = summary[summary["variant"] == name].iloc[0]
        assert row["correct"] == sum(x is True for x in wide[f"{name} correct"])
        assert row["judged"] == sum(x is not None for x in wide[f"{name} correct"])
        assert row["failed"] == (wide[f"{name} status"] == "failed").sum()
        assert row["ok"] == (wide[f"{name} status"] == "ok").sum()
    assert list(summary["winner"]) == [False, True, False]

    # the row view: why one prompt is better
    assert len(data.rows("only_right", "careful")) == 17 and len(data.rows("only_right", "terse")) == 0
    assert len(data.rows("all_wrong")) == 4
    disagree = data.rows("disagree")
    assert len(disagree) == 17 and (disagree["careful"] == disagree["answer"]).all()

    # scored another way, nothing is sent again
    sent = h.sim.total_requests()
    assert sent == 900
    loose = compare_table(store, record.id, scoring=Scoring.parse("numeric:3"))
    assert all(s.correct == 300 for s in loose.summaries)  # the simulator is never off by more than 3
    set_scoring(store, record.id, Scoring.parse("numeric:3"))
    assert get_comparison(store, record.id).scoring == Scoring.parse("numeric:3")
    assert h.sim.total_requests() == sent


def test_one_of_scoring_gives_a_confusion_matrix_per_variant(harness, store):
    h = harness()
    frame = pd.DataFrame({"question": ["2 + 2", "3 + 3", "1 + 1", "5 + 5"], "answer": ["4", "6", "3", "10"]}, dtype=object)
    record = start_comparison(
        store, frame, [variant("a", TERSE), variant("b", CAREFUL)], h.keys("k"), base=BASE, scoring=Scoring.parse("oneof:4,6,3"), runner=h.runner
    )
    wait_done(store, record.id, h.runner)
    data = compare_table(store, record.id)
    assert data.confusion["a"] == {"4": {"4": 1}, "6": {"6": 1}, "3": {"…": 1}, "10": {"…": 1}}
    assert [s.correct for s in data.summaries] == [2, 2]


# --- shared limits and the cache --------------------------------------------------------------------


@pytest.fixture
def vrunner(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """A Runner whose loop runs on a virtual clock, and a simulator on that clock: pacing is
    exact and takes no real time."""
    made: list[Runner] = []

    def make(**config: object) -> tuple[Runner, Simulator]:
        holder: dict[str, Simulator] = {}
        with monkeypatch.context() as m:
            m.setattr(asyncio, "new_event_loop", lambda: VirtualClockLoop())
            runner = Runner(client_factory=lambda entry, timeout: holder["sim"].client(entry.api_key, timeout=timeout, max_retries=0))
        holder["sim"] = Simulator(SimulatorConfig(**{"latency_s": 0.2, "latency_jitter_s": 0.0, "error_rate": 0.0, **config}), clock=runner._loop.time)
        made.append(runner)
        return runner, holder["sim"]

    yield make
    for r in made:
        r.shutdown()


def test_two_variants_on_one_key_stay_within_its_limit_together(vrunner, store):
    runner, sim = vrunner(rpm=120)
    keys = [KeyEntry("Test", SIM_URL, "simulated", "shared", 120)]
    record = start_comparison(
        store, arithmetic_frame(30), [variant("a", TERSE), variant("b", CAREFUL)], keys, base=BASE.replace(concurrency=16, use_cache=False), runner=runner
    )
    progress = wait_done(store, record.id, runner)
    assert progress.state == "done" and progress.done == 60
    stats = sim.stats()["shared"]
    assert stats.requests == 60 and stats.rate_limited == 0  # one gate paced both variants
    assert within_limit(list(stats.times), 120)
    span = max(stats.times) - min(stats.times)
    assert span >= 59 / 2 * 0.95  # 60 requests at 2/s: half a minute on the provider's clock, not half of it
    prompts = set(stats.prompts)
    assert any("carefully" in p for p in prompts) and any("carefully" not in p for p in prompts)  # interleaved on one key


def test_a_request_identical_to_one_already_answered_comes_from_the_cache_and_is_not_paid_twice(harness, store):
    h = harness()
    frame = arithmetic_frame(25)
    first = start_comparison(store, frame, [variant("terse", TERSE), variant("careful", CAREFUL)], h.keys("k"), base=BASE, runner=h.runner)
    wait_done(store, first.id, h.runner)
    assert h.sim.total_requests() == 50
    # the same terse prompt again next to a new one, on another key: only the new one is sent
    second = start_comparison(store, frame, [variant("terse", TERSE), variant("short", "{question} =")], h.keys("other"), base=BASE, runner=h.runner)
    wait_done(store, second.id, h.runner)
    assert h.sim.total_requests() == 75
    by = {s.name: s for s in compare_table(store, second.id).summaries}
    assert by["terse"].cached == 25 and by["terse"].cost == 0 and by["terse"].correct == 25
    assert by["short"].cached == 0 and by["short"].ok == 25


# --- the store, resume, progress ---------------------------------------------------------------------


def test_an_interrupted_comparison_resumes_without_sending_finished_rows_again(harness, store):
    h = harness(rpm=1200)
    frame = arithmetic_frame(40)
    spec = BASE.replace(concurrency=2, use_cache=False)
    record = start_comparison(store, frame, [variant("a", TERSE), variant("b", CAREFUL)], h.keys("k", rpm=1200), base=spec, runner=h.runner)
    assert wait_for(lambda: comparison_progress(store, record.id, h.runner).done >= 16, 60)
    for run_id in record.run_ids:
        h.runner.get(run_id).cancel()
    assert wait_for(lambda: not comparison_progress(store, record.id, h.runner).live, 60)
    # what a kill -9 leaves: the store still says running, and no engine in this process has it
    for run_id in record.run_ids:
        store.set_status(run_id, "running")
    restarted = Runner(client_factory=h.runner.client_factory)
    try:
        stopped = comparison_progress(store, record.id, restarted)
        assert stopped.state == "interrupted" and 0 < stopped.done < 80
        resume_comparison(store, record.id, h.keys("k2"), runner=restarted)
        assert wait_done(store, record.id, restarted).state == "done"
    finally:
        restarted.shutdown()
    prompts = [p for s in h.sim.stats().values() for p in s.prompts]
    assert len(set(prompts)) == 80 and len(prompts) - 80 <= 4  # at most the requests in flight at the cancel
    data = compare_table(store, record.id)
    assert all(s.ok == 40 and s.correct == 40 for s in data.summaries)
    assert list(data.wide["a"]) == list(frame["answer"]) == list(data.wide["b"])


def test_comparisons_are_listed_found_from_their_runs_and_deleted_with_them(store):
    runner = Runner()  # the built-in simulated provider, as the demo uses it
    try:
        record = start_comparison(
            store,
            arithmetic_frame(6),
            [Variant("a", TERSE), Variant("b", CAREFUL)],
            demo_pool(2),
            base=BASE,
            selection=RowSelection("first", 4),
            name="mine",
            runner=runner,
        )
        assert wait_done(store, record.id, runner).state == "done"
        assert [c.id for c in list_comparisons(store)] == [record.id] and list_comparisons(store)[0].name == "mine"
        assert get_comparison(store, record.id).rows == (0, 1, 2, 3) and record.simulated
        assert comparison_of_run(store, record.run_ids[1]) == record.id and comparison_of_run(store, "nope") is None
        # a variant's run deleted from History: the comparison shows it as deleted, the rest stays
        store.delete_run(record.run_ids[0])
        data = compare_table(store, record.id)
        assert [s.state for s in data.summaries] == ["deleted", "done"] and "b" in data.wide.columns and len(data.wide) == 4
        delete_comparison(store, record.id)
        assert list_comparisons(store) == [] and store.get_run(record.run_ids[1]) is None
    finally:
        runner.shutdown()


def test_the_estimate_adds_up_every_variant_and_variants_on_one_key_share_its_time():
    frame = arithmetic_frame(120)
    keys = [KeyEntry("Test", SIM_URL, "simulated", "k", 60)]
    one = estimate_comparison(frame, [variant("a", TERSE)], keys, BASE)
    two = estimate_comparison(frame, [variant("a", TERSE), variant("b", CAREFUL)], keys, BASE)
    assert two.requests == 240 and two.tokens_in > 2 * one.tokens_in * 0.99
    assert one.seconds == pytest.approx(120) and two.seconds == pytest.approx(240)  # 60/min on one key


def test_a_variant_with_a_template_problem_is_named_and_nothing_starts(harness, store):
    h = harness()
    with pytest.raises(InputError, match="^b: .*questoin"):
        start_comparison(store, arithmetic_frame(3), [variant("a", TERSE), variant("b", "{questoin}")], h.keys("k"), base=BASE, runner=h.runner)
    assert store.list_runs() == [] and list_comparisons(store) == [] and h.sim.total_requests() == 0
    with pytest.raises(InputError, match="no key"):
        start_comparison(
            store, arithmetic_frame(3), [Variant("r", TERSE, provider="OpenAI", base_url="https://api.openai.com/v1", model="gpt-4o")], h.keys("k"), base=BASE
        )


def test_keys_never_reach_the_comparison(harness, store, tmp_path: Path):
    secret = "sk-live-COMPARE-SECRET-KEY-0123456789"
    h = harness()
    record = start_comparison(
        store,
        arithmetic_frame(5),
        [variant("a", TERSE), variant("b", CAREFUL)],
        [KeyEntry("Test", SIM_URL, "simulated", secret, 600)],
        base=BASE,
        runner=h.runner,
    )
    wait_done(store, record.id, h.runner)
    store.close()
    for path in store.data_dir.iterdir():
        assert secret.encode() not in path.read_bytes(), path


def test_provider_choices_are_the_pools_providers_each_once_then_the_simulated_one():
    openai = core.make_pool(["sk-one-0123456789", "sk-two-0123456789"], provider="OpenAI", base_url="https://api.openai.com/v1/", model="gpt-4o")
    deepseek = core.make_pool(["sk-ds-0123456789"], provider="DeepSeek", base_url="https://api.deepseek.com/v1", model="deepseek-chat")
    keys = core.compare_pool(openai + openai[:1], deepseek)  # a key given twice counts once
    assert len(keys) == 3
    # the server's preset keys serve only the providers the user has no key for: the user's own win
    preset = core.make_pool(["sk-server-0123456789"], provider="OpenAI", base_url="https://api.openai.com/v1", model="gpt-4o")
    assert core.compare_pool(openai, preset) == openai
    assert core.compare_pool(deepseek, preset) == deepseek + preset
    choices = core.provider_choices(keys)
    assert [(c.provider, c.id, c.model, c.n_keys) for c in choices] == [
        ("OpenAI", "https://api.openai.com/v1", "gpt-4o", 2),
        ("DeepSeek", "https://api.deepseek.com/v1", "deepseek-chat", 1),
        (core.SIMULATED_PROVIDER, C.SIMULATED_BASE_URL, "simulated", 0),
    ]
    assert choices[0].models[:2] == ("gpt-4o", "gpt-4o-mini") and choices[2].simulated
    # a variant on each provider is sent with that provider's keys only, asking for its own model
    a = core.Variant("a", "{q}", provider="OpenAI", base_url=choices[0].base_url, model="gpt-4.1")
    b = core.Variant("b", "{q}", provider="DeepSeek", base_url=choices[1].base_url, model="deepseek-reasoner")
    assert [(k.masked, k.model) for k in core.variant_keys(a, keys)] == [("sk-...6789", "gpt-4.1"), ("sk-...6789", "gpt-4.1")]
    assert [k.provider for k in core.variant_keys(b, keys)] == ["DeepSeek"]
    # the demo pool alone: one choice, the simulated provider with its keys
    assert [(c.provider, c.n_keys) for c in core.provider_choices(core.demo_pool(3))] == [(core.SIMULATED_PROVIDER, 3)]


def test_a_variant_that_fails_most_rows_does_not_win_on_the_few_it_answered(harness, store):
    # B is refused on 7 of 10 rows (moderation) and right on the 3 it answers; A answers all 10 and
    # is right on 9 (the last label is wrong on purpose). Judged on its 3 answers B was "100%".
    h = harness(error_rate=0.0)
    frame = arithmetic_frame(10)
    frame["tag"] = ["", "", ""] + ["SIMULATE_MODERATION"] * 7
    frame.loc[9, "answer"] = "-1"
    variants = [variant("A", TERSE), variant("B", "Compute {question}. {tag} Reply with the number only.")]
    record = start_comparison(store, frame, variants, h.keys("k1"), base=BASE, file_name="t.csv", runner=h.runner)
    assert wait_done(store, record.id, h.runner).state == "done"
    data = compare_table(store, record.id, runner=h.runner)
    by = {s.name: s for s in data.summaries}
    assert (by["B"].failed, by["B"].correct, by["B"].judged) == (7, 3, 10)  # a failed row is a wrong answer
    assert (by["A"].correct, by["A"].judged) == (9, 10)
    assert data.verdict.winner == "A" and data.verdict.runner_up == "B"
