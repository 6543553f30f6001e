"""Output columns in a run: asked for in the strongest way the provider takes (stepping down when it
refuses, remembered for the next run), every answer checked, and an answer that does not fit asked
again with what is wrong with it, paced like any request and paid for. The real `openai` SDK talks to
a scripted provider (httpx2.MockTransport) on the virtual clock, and once over loopback HTTP."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import threading
from collections.abc import Callable, Iterator

import httpx2
import pandas as pd
import pytest
from aiohttp import web

from core import constants as C
from core.columns import OutputColumn
from core.keys import KeyEntry
from core.runner import Runner
from core.runs import start_run
from core.spec import RunSpec
from core.structured import AskMode, remembered_mode
from tests.test_engine import run_to_end, within_limit
from tests.test_engine_v2 import Run, _completion, key, scripted, sim_factory, simulator
from tests.vclock import vrun

COLUMNS = (OutputColumn("sentiment", "choice", choices=("positive", "negative")), OutputColumn("stars", "integer"))
SPEC = RunSpec(
    template="Rate this review: {review}", columns=COLUMNS, concurrency=4, label_column="label", label_field="sentiment", price_in=1.0, price_out=2.0
)
FRAME = pd.DataFrame({"review": [f"review {i}" for i in range(6)], "label": ["positive"] * 6}, dtype=object)
GOOD = '{"sentiment": "positive", "stars": 5}'


def ok(content: str, finish: str = "stop") -> httpx2.Response:
    body = _completion(content)
    body["choices"][0]["finish_reason"] = finish
    return httpx2.Response(200, json=body)


def rejected(message: str, status: int = 400, param: str | None = None) -> httpx2.Response:
    return httpx2.Response(status, json={"error": {"message": message, "type": "invalid_request_error", "param": param, "code": "invalid_request_error"}})


def review_of(body: dict) -> str:
    return next(m["content"] for m in body["messages"] if m["role"] == "user")


def run_once(store, handler: Callable[[dict, str], httpx2.Response | None], spec: RunSpec = SPEC, frame: pd.DataFrame = FRAME, keys=None):  # type: ignore[no-untyped-def]
    async def main():  # type: ignore[no-untyped-def]
        factory, seen = scripted(handler, latency_s=0.05)
        run = Run(store, frame, spec, keys or [key("k")], factory)
        state = await run.end()
        return state, run.table(details=True), run.tracker.snapshot(), seen

    return vrun(main)


# --- asking again -------------------------------------------------------------------------------


def test_an_answer_that_does_not_fit_is_asked_again_with_the_answer_and_its_problems_until_it_fits(store):
    def handler(body: dict, _key: str) -> httpx2.Response:
        # The first answer of a row is wrong; a conversation that holds a re-ask gets a good one.
        return ok(GOOD if len(body["messages"]) > 1 else '{"sentiment": "meh", "stars": "five"}')

    state, table, snap, seen = run_once(store, handler)
    assert state == "done" and list(table["status"]) == ["ok"] * 6
    assert list(table["sentiment"]) == ["positive"] * 6 and list(table["stars"]) == [5] * 6 and type(table["stars"][0]) is int
    assert list(table["reasks"]) == [1] * 6 and list(table["attempts"]) == [2] * 6
    again = [b for b in seen if len(b["messages"]) > 1]
    assert len(seen) == 12 and len(again) == 6
    user, answer, problems = again[0]["messages"]
    assert answer == {"role": "assistant", "content": '{"sentiment": "meh", "stars": "five"}'}
    assert problems["role"] == "user" and '"sentiment" should be one of positive, negative, not "meh"' in problems["content"]
    assert '"stars" should be a whole number, not "five"' in problems["content"]
    # both answers of every row are counted and paid: 10 + 10 tokens in, 2 + 2 out
    assert list(table["tokens_in"]) == [20] * 6 and list(table["tokens_out"]) == [4] * 6
    assert snap.cost == pytest.approx(6 * (20 * 1.0 + 4 * 2.0) / 1e6)
    assert (snap.ok, snap.unparsed, snap.reasked, snap.reasks, snap.correct) == (6, 0, 6, 6, 6)


def test_a_row_that_never_fits_is_invalid_with_the_reason_after_its_re_asks(store):
    state, table, snap, seen = run_once(store, lambda body, _k: ok('{"sentiment": "positive"}'), spec=SPEC.replace(max_reasks=2), frame=FRAME.head(1))
    assert state == "done" and len(seen) == 3  # the first ask and two re-asks
    assert table["status"][0] == "unparsed" and table["reasks"][0] == 2
    assert table["error"][0] == 'The answer does not fit the output columns after 2 re-asks: "stars" is missing.'
    assert table["sentiment"][0] == "positive" and table["stars"][0] is None  # what fitted is kept
    assert (snap.ok, snap.unparsed, snap.reasked) == (0, 1, 1)


def test_no_re_asks_means_an_answer_that_does_not_fit_is_marked_at_once(store):
    _, table, _, seen = run_once(store, lambda body, _k: ok("I liked it."), spec=SPEC.replace(max_reasks=0), frame=FRAME.head(2))
    assert len(seen) == 2 and list(table["status"]) == ["unparsed"] * 2
    assert list(table["error"]) == ["The answer does not fit the output columns: the answer is not a JSON object."] * 2
    assert list(table["output_raw"]) == ["I liked it."] * 2


def test_a_cut_off_answer_is_asked_once_more_with_a_larger_token_limit(store):
    def handler(body: dict, _key: str) -> httpx2.Response:
        return ok(GOOD) if body["max_tokens"] > 50 else ok('{"sentiment": "posi', finish="length")

    _, table, _, seen = run_once(store, handler, spec=SPEC.replace(max_tokens=50, max_reasks=0), frame=FRAME.head(1))
    assert [b["max_tokens"] for b in seen] == [50, C.LENGTH_REASK_MIN_TOKENS]
    assert len(seen[1]["messages"]) == 1  # the same question, not the cut-off answer
    assert table["status"][0] == "ok" and table["reasks"][0] == 1 and table["finish_reason"][0] == "stop"


def test_an_answer_cut_off_again_is_not_asked_a_third_time_for_length(store):
    _, table, _, seen = run_once(store, lambda b, _k: ok("{", finish="length"), spec=SPEC.replace(max_tokens=50, max_reasks=1), frame=FRAME.head(1))
    # once with a larger limit, then the one re-ask for the problems, then it is invalid
    assert [b["max_tokens"] for b in seen] == [50, 1024, 1024] and len(seen[2]["messages"]) == 3
    assert table["status"][0] == "unparsed" and "cut off" in table["error"][0]


def test_re_asks_wait_for_the_keys_pace_like_any_request(store):
    async def main():  # type: ignore[no-untyped-def]
        factory, seen = scripted(lambda body, _k: ok(GOOD if len(body["messages"]) > 1 else "{}"), latency_s=0.05)
        run = Run(store, FRAME, SPEC.replace(concurrency=8), [key("k", rpm=60)], factory)
        await run.end()
        return seen

    seen = vrun(main)
    times = [b["_t"] for b in seen]
    assert len(times) == 12 and within_limit(times, 60)
    assert max(times) - min(times) >= 10  # 12 requests at one a second: the re-asks were paced too


# --- the strongest way the provider takes -------------------------------------------------------

DEEPSEEK = "This response_format type is unavailable now"


def test_every_request_asks_with_a_strict_json_schema_first(store):
    _, _, _, seen = run_once(store, lambda body, _k: ok(GOOD), frame=FRAME.head(1))
    fmt = seen[0]["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True and fmt["json_schema"]["name"] == "row_answer"
    assert fmt["json_schema"]["schema"]["properties"]["sentiment"]["enum"] == ["positive", "negative"]
    assert [m["role"] for m in seen[0]["messages"]] == ["user"]  # the schema travels in response_format only


def test_a_provider_that_refuses_json_schema_gets_json_object_with_the_schema_in_the_system_message(store):
    def handler(body: dict, _key: str) -> httpx2.Response:
        if body.get("response_format", {}).get("type") == "json_schema":
            return rejected(DEEPSEEK)
        return ok(GOOD)

    state, table, snap, seen = run_once(store, handler, spec=SPEC.replace(system="Be brief.", max_attempts=1))
    assert state == "done" and list(table["status"]) == ["ok"] * 6 and snap.failed == 0
    # Refusals are not the rows' fault: no attempt used (max_attempts=1), none counted as an error.
    refused = [b for b in seen if b["response_format"]["type"] == "json_schema"]
    assert 1 <= len(refused) <= SPEC.concurrency  # those in flight when the first refusal came back
    later = [b for b in seen if b["response_format"]["type"] == "json_object"]
    assert len(later) == 6
    system = later[0]["messages"][0]
    assert system["role"] == "system" and system["content"].startswith("Be brief.\n\nAnswer with one JSON object that matches this JSON schema")
    schema = json.loads(system["content"].split("```json\n")[1].split("\n```")[0])
    assert schema["properties"]["stars"] == {"type": "integer"}
    assert remembered_mode(store, "http://sim.test/v1", "simulated") is AskMode.JSON_OBJECT
    assert "refused response_format json_schema" in snap.message

    # the next run starts with what worked: no refusal paid again
    _, _, _, seen = run_once(store, handler)
    assert {b["response_format"]["type"] for b in seen} == {"json_object"}


def test_a_provider_that_takes_no_response_format_gets_instructions_only(store):
    def handler(body: dict, _key: str) -> httpx2.Response:
        if "response_format" in body:
            return rejected("Unsupported parameter: 'response_format' is not supported with this model.", param="response_format")
        return ok("```json\n" + GOOD + "\n```")  # in a code fence: read all the same

    state, table, _, seen = run_once(store, handler)
    assert state == "done" and list(table["status"]) == ["ok"] * 6
    plain = [b for b in seen if "response_format" not in b]
    assert len(plain) == 6 and plain[0]["messages"][0]["role"] == "system" and "```json\n{" in plain[0]["messages"][0]["content"]
    assert remembered_mode(store, "http://sim.test/v1", "simulated") is AskMode.INSTRUCTIONS


@pytest.mark.parametrize(
    "response",
    [
        rejected("Failed to deserialize the JSON body into the target type: response_format: response_format.type `json_schema` is unavailable now", 422),
        rejected("Invalid parameter: 'response_format' of type 'json_schema' is not supported with this model.", param="response_format"),
        rejected('invalid format: expected "json" or a JSON schema'),
    ],
)
def test_refusals_in_other_providers_words_step_down_too(store, response):
    handler = lambda body, _k: response if body["response_format"]["type"] == "json_schema" else ok(GOOD)  # noqa: E731
    _, table, _, _ = run_once(store, handler, frame=FRAME.head(2))
    assert list(table["status"]) == ["ok"] * 2


def test_a_400_about_something_else_still_fails_the_row(store):
    handler = lambda body, _k: rejected("This model's maximum context length is 8192 tokens.")  # noqa: E731
    _, table, _, seen = run_once(store, handler, frame=FRAME.head(1))
    assert table["status"][0] == "failed" and len(seen) == 1
    assert remembered_mode(store, "http://sim.test/v1", "simulated") is None


# --- against the simulator, configured to take or refuse json_schema ---------------------------

REVIEWS = pd.DataFrame(
    {"review": ["Loved it, five stars, would recommend.", "Broke after a day. Terrible.", "非常满意，推荐购买！", "质量很差，不推荐。"],
     "label": ["positive", "negative", "positive", "negative"]},
    dtype=object,
)  # fmt: skip
SENTIMENT = RunSpec(
    template="Review: {review}", label_column="label", label_field="sentiment", concurrency=2,
    columns=(OutputColumn("sentiment", "choice", choices=("positive", "negative", "neutral")), OutputColumn("recommend", "boolean")),
)  # fmt: skip


@pytest.mark.parametrize(
    "supports, first, used",
    [
        ("json_schema", AskMode.JSON_SCHEMA, "json_schema"),
        ("json_object", AskMode.JSON_OBJECT, "json_object"),
        ("none", AskMode.INSTRUCTIONS, None),
    ],
)
def test_each_provider_capability_gets_the_strongest_way_it_takes_and_every_row_fits(store, supports, first, used):
    async def main():  # type: ignore[no-untyped-def]
        sim = simulator(structured_outputs=supports, latency_s=0.02)
        run = Run(store, REVIEWS, SENTIMENT, [key("k")], sim_factory(sim))
        state = await run.end()
        return state, run.table(details=True), run.tracker.snapshot(), sim.stats()["k"]

    state, table, snap, stats = vrun(main)
    assert state == "done" and list(table["status"]) == ["ok"] * 4 and snap.failed == 0
    assert table["sentiment"].tolist() == ["positive", "negative", "positive", "negative"] and snap.correct == 4
    assert table["recommend"].tolist() == [True, False, True, False]
    assert remembered_mode(store, "http://sim.test/v1", "simulated") is (None if supports == "json_schema" else first)
    refused = {"json_schema": 0, "json_object": 1, "none": 2}[supports]
    # at most one refusal per request in flight for each way refused, and never an attempt used
    assert refused <= stats.requests - 4 <= refused * SENTIMENT.concurrency
    if used is None:
        assert "refused response_format json_object; the run asks with the schema in the system message only" in snap.message


def test_the_simulators_broken_first_answer_is_asked_again_and_then_fits(store):
    frame = pd.DataFrame({"review": ["SIMULATE_INVALID_ANSWER Loved it.", "Fine."], "label": ["positive", "positive"]}, dtype=object)

    async def main():  # type: ignore[no-untyped-def]
        run = Run(store, frame, SENTIMENT, [key("k")], sim_factory(simulator(latency_s=0.02)))
        await run.end()
        return run.table(details=True), run.tracker.snapshot()

    table, snap = vrun(main)
    assert list(table["status"]) == ["ok", "ok"] and list(table["reasks"]) == [1, 0] and snap.reasked == 1


# --- the cache ----------------------------------------------------------------------------------


def test_the_cache_answers_only_the_same_columns_asked_the_same_way(store):
    handler = lambda body, _k: ok('{"sentiment": "positive", "stars": 5, "reason": "r"}')  # noqa: E731
    run_once(store, handler, frame=FRAME.head(2))
    _, table, snap, seen = run_once(store, handler, frame=FRAME.head(2))
    assert seen == [] and snap.cached == 2 and list(table["stars"]) == [5, 5]
    more = SPEC.replace(columns=(*COLUMNS, OutputColumn("reason")))
    _, table, snap, seen = run_once(store, handler, spec=more, frame=FRAME.head(2))
    assert len(seen) == 2 and snap.cached == 0 and list(table["reason"]) == ["r", "r"]


def test_an_answer_that_did_not_fit_is_not_kept_in_the_cache(store):
    run_once(store, lambda body, _k: ok("{}"), spec=SPEC.replace(max_reasks=0), frame=FRAME.head(1))
    _, table, _, seen = run_once(store, lambda body, _k: ok(GOOD), frame=FRAME.head(1))
    assert len(seen) == 1 and table["status"][0] == "ok"


# --- over loopback HTTP -------------------------------------------------------------------------


@pytest.fixture
def stub_provider() -> Iterator[Callable[[Callable[[dict], tuple[int, dict]]], str]]:
    """A provider on a real loopback port, answering `handler(body) -> (status, json)`."""
    started: list[tuple[asyncio.AbstractEventLoop, web.AppRunner, threading.Thread]] = []

    def start(handler: Callable[[dict], tuple[int, dict]]) -> str:
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        holder: dict[str, object] = {}

        async def chat(request: web.Request) -> web.Response:
            status, payload = handler(await request.json())
            return web.json_response(payload, status=status)

        async def boot() -> None:
            app = web.Application()
            app.router.add_post("/v1/chat/completions", chat)
            runner = web.AppRunner(app)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            holder["runner"] = runner
            holder["port"] = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            ready.set()

        thread = threading.Thread(target=lambda: (loop.run_until_complete(boot()), loop.run_forever()), daemon=True)
        thread.start()
        assert ready.wait(30), "the stub provider did not start"
        started.append((loop, holder["runner"], thread))  # type: ignore[arg-type]
        return f"http://127.0.0.1:{holder['port']}/v1"

    yield start
    for loop, runner, thread in started:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)


def test_over_loopback_http_a_refused_schema_steps_down_and_an_invalid_answer_is_asked_again(store, stub_provider):
    seen: list[dict] = []
    lock = threading.Lock()

    def handler(body: dict) -> tuple[int, dict]:
        with lock:
            seen.append(body)
        if body.get("response_format", {}).get("type") == "json_schema":
            return 400, {"error": {"message": DEEPSEEK, "type": "invalid_request_error", "param": None, "code": "invalid_request_error"}}
        content = GOOD if len(body["messages"]) > 2 else '{"sentiment": "Positive.", "stars": "4.0", "extra": 1}' if "1" in review_of(body) else "{}"
        return 200, _completion(content)

    base_url = stub_provider(handler)
    runner = Runner()
    try:
        keys = [KeyEntry("Stub", base_url, "stub-model", "sk-stub-0000aaaa", 600, None)]
        snap = run_to_end(start_run(store, FRAME.head(3), SPEC.replace(max_attempts=1), keys, runner=runner))
    finally:
        runner.shutdown()
    table = store.results_table(snap.run_id)
    assert list(table["status"]) == ["ok"] * 3
    assert table["sentiment"].tolist() == ["positive"] * 3 and table["stars"].tolist() == [5, 4, 5]  # row 1 was coerced, not asked again
    assert snap.reasked == 2 and remembered_mode(store, base_url, "stub-model") is AskMode.JSON_OBJECT
    assert sum(1 for b in seen if b["response_format"]["type"] == "json_object") == 5  # 3 asks + 2 re-asks


def test_two_steps_down_in_a_row_are_remembered_in_their_order(store, monkeypatch):
    # json_schema then json_object refused: the store must end with instructions even when the
    # first write is slow (a busy disk) and the second would otherwise overtake it.
    import core.engine as engine_module

    real = engine_module.remember_mode
    second_started = threading.Event()
    calls: list[AskMode] = []

    def remember(store_, base_url, model, mode):  # type: ignore[no-untyped-def]
        calls.append(mode)
        if len(calls) == 1:
            second_started.wait(0.5)  # held up until the next write starts, if it can start at all
        else:
            second_started.set()
        real(store_, base_url, model, mode)

    monkeypatch.setattr(engine_module, "remember_mode", remember)

    def handler(body: dict, _key: str) -> httpx2.Response:
        if "response_format" in body:
            kind = body["response_format"]["type"]
            return rejected(DEEPSEEK) if kind == "json_schema" else rejected("Unsupported parameter: 'response_format'", param="response_format")
        return ok(GOOD)

    async def main():  # type: ignore[no-untyped-def]
        # Threads enough for the two writes to run at once, as the app's loop has.
        asyncio.get_running_loop().set_default_executor(concurrent.futures.ThreadPoolExecutor(4))
        factory, _ = scripted(handler, latency_s=0.05)
        run = Run(store, FRAME.head(2), SPEC, [key("k")], factory)
        await run.end()
        return run.table()

    # On a real loop: the virtual clock stands still while a thread works, which would keep the
    # second refusal from coming back while the first write is held up.
    table = asyncio.run(main())
    assert list(table["status"]) == ["ok", "ok"] and calls == [AskMode.JSON_OBJECT, AskMode.INSTRUCTIONS]
    assert remembered_mode(store, "http://sim.test/v1", "simulated") is AskMode.INSTRUCTIONS
