"""The simulated model's answers to structured requests (core/sim_fields.py), through the real openai
SDK: a value of the schema's type for each field, read out of English and Chinese rows; the
provider's structured-output capability (json_schema, json_object only, none); the invalid-answer
trigger and its re-ask; the same answers in batch mode."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from pathlib import Path

import jsonschema
import openai
import pytest

from core.sim_fields import answer_schema, find_schema, reply
from core.simulator import Simulator, SimulatorConfig

ROOT = Path(__file__).resolve().parents[1]
QUIET = dict(latency_s=0.0, latency_jitter_s=0.0, error_rate=0.0, rpm=0)


async def no_sleep(seconds: float) -> None:
    await asyncio.sleep(0)


@pytest.fixture
async def client():
    clients: list[openai.AsyncOpenAI] = []

    def make(**config: object) -> openai.AsyncOpenAI:
        sim = Simulator(SimulatorConfig(**{**QUIET, **config}), sleep=no_sleep)  # type: ignore[arg-type]
        clients.append(sim.client("sk-test", max_retries=0))
        return clients[-1]

    yield make
    for c in clients:
        await c.close()


def schema_of(props: dict, required: list[str] | None = None) -> dict:
    return {"type": "object", "properties": props, "required": list(props) if required is None else required, "additionalProperties": False}


def json_schema_format(schema: dict) -> dict:
    return {"type": "json_schema", "json_schema": {"name": "row", "strict": True, "schema": schema}}


async def answer(client: openai.AsyncOpenAI, text: str, schema: dict, mode: str = "json_schema", **kwargs: object) -> dict:
    """Ask as the engine does in each mode: the schema in response_format, or in the system message."""
    messages = [{"role": "user", "content": text}]
    if mode != "json_schema":
        system = "Answer in JSON following this schema:\n```json\n" + json.dumps(schema, ensure_ascii=False, indent=2) + "\n```"
        messages.insert(0, {"role": "system", "content": system})
    if mode == "json_schema":
        kwargs["response_format"] = json_schema_format(schema)
    elif mode == "json_object":
        kwargs["response_format"] = {"type": "json_object"}
    reply = await client.chat.completions.create(model="simulated", messages=messages, **kwargs)  # type: ignore[arg-type]
    value = json.loads(reply.choices[0].message.content)
    jsonschema.validate(value, schema)  # strict types: the answer always fits
    return value


SENTIMENT = {"type": "string", "enum": ["positive", "negative", "neutral"]}
SENTIMENT_ZH = {"type": "string", "enum": ["正面", "负面", "中性"]}
YESNO = {"type": "string", "enum": ["yes", "no"]}
CATEGORY = {"type": "string", "enum": ["kitchen", "electronics", "clothing"]}
CATEGORY_ZH = {"type": "string", "enum": ["厨房", "数码", "服装"]}
CATEGORY_DESCRIBED = {
    "oneOf": [{"const": "kitchen", "description": "kettle, blender, toaster"}, {"const": "electronics", "description": "phone, earbuds, laptop"}]
}
RATING = {"type": ["integer", "null"], "description": "the star rating the reviewer gives"}
PRICE = {"type": ["number", "null"], "description": "price paid"}
NUMBER = {"type": ["number", "null"]}
DATE = {"type": ["string", "null"], "format": "date"}
BOOL = {"type": "boolean"}
TEXT = {"type": "string"}

FIELD_CASES = [
    # one of: sentiment by the lexicon, negation and "but" included
    ("sentiment", SENTIMENT, "Review: Works perfectly, I love it.", "positive"),
    ("sentiment", SENTIMENT, "Review: The strap broke after two days. Terrible.", "negative"),
    ("sentiment", SENTIMENT, "Review: Not bad at all for the money.", "positive"),
    ("sentiment", SENTIMENT, "Review: Not good, not comfortable.", "negative"),
    ("sentiment", SENTIMENT, "Review: Looks nice but the battery died in a week.", "negative"),
    ("sentiment", SENTIMENT, "Review: It arrived on Tuesday. It is blue.", "neutral"),
    ("sentiment", SENTIMENT, "Classify as positive, negative or neutral.\nReview: Good kettle.", "positive"),  # the list is not the row
    ("sentiment", SENTIMENT, "评论：质量很好，非常满意。", "positive"),
    ("sentiment", SENTIMENT, "评论：用了两天就坏了，很失望。", "negative"),
    ("sentiment", SENTIMENT, "评论：不好用。", "negative"),
    ("sentiment", SENTIMENT, "评论：外观不错，但是电池太差。", "negative"),
    ("sentiment", SENTIMENT, "评论：昨天收到，颜色是蓝色。", "neutral"),
    ("sentiment", SENTIMENT_ZH, "评论：特别好用，推荐！", "正面"),
    ("sentiment", SENTIMENT_ZH, "Review: awful, I want a refund", "负面"),
    # one of: yes/no choices, any other list by the words it names
    ("recommend", YESNO, "Review: I would not recommend it.", "no"),
    ("recommend", YESNO, "评论：强烈推荐给大家。", "yes"),
    ("category", CATEGORY, "Review: Great for my kitchen, the clothing dryer was another order.", "kitchen"),
    ("category", CATEGORY_ZH, "评论：这件服装尺码偏小。", "服装"),
    ("category", CATEGORY_DESCRIBED, "Review: The blender is loud.", "kitchen"),
    ("category", CATEGORY_DESCRIBED, "Review: My earbuds keep disconnecting.", "electronics"),
    # numbers: a rating, a price, a sum, the first number; none is null
    ("rating", RATING, "Review: Solid. 4/5.", 4),
    ("rating", RATING, "Review: I'd give it 3 out of 5 for the price of $30.", 3),
    ("rating", RATING, "Review: four stars, would buy again", 4),
    ("rating", RATING, "评论：五星好评！", 5),
    ("rating", RATING, "评论：只能打2分，花了199元。", 2),
    ("rating", RATING, "Review: no score given here", None),
    ("price", PRICE, "Review: Paid $1,299.50 on 2024-03-01 and it was worth it.", 1299.5),
    ("price", PRICE, "评论：2024年3月1日买的，199元，很划算。", 199),
    ("infer", NUMBER, "Compute 37 + 12 x 5 - 8.", 89),
    ("infer", {"type": "integer"}, "计算 7 ÷ 2 x 3", 11),  # 10.5, rounded half up for an integer
    ("weight", NUMBER, "Review: The bag weighs 2.5 kg, rated 5 stars.", 2.5),
    # dates, in the usual spellings, as yyyy-mm-dd
    ("purchase_date", DATE, "Review: bought 2024-03-03, broke soon after", "2024-03-03"),
    ("purchase_date", DATE, "Review: Ordered on March 3, 2024 and it came fast.", "2024-03-03"),
    ("purchase_date", DATE, "Review: Since 14 Feb 2023 it has worked daily.", "2023-02-14"),
    ("purchase_date", DATE, "Review: used since 3/14/2024", "2024-03-14"),
    ("purchase_date", DATE, "评论：2024年3月3日下单，第二天就到了。", "2024-03-03"),
    ("purchase_date", DATE, "评论：2023/12/25 收到的礼物。", "2023-12-25"),
    ("purchase_date", DATE, "Review: arrived on February 30, 2024", None),  # not a real date
    ("purchase_date", DATE, "Review: no date at all", None),
    # yes/no: the field's words in the row, negated or not; opinions follow the tone
    ("would_recommend", BOOL, "Review: Highly recommend it!", True),
    ("would_recommend", BOOL, "Review: I wouldn't recommend this to anyone.", False),
    ("would_recommend", BOOL, "评论：推荐购买。", True),
    ("would_recommend", BOOL, "评论：不推荐，质量差。", False),
    ("would_recommend", BOOL, "Review: Fantastic sound, great battery.", True),  # not said: the tone
    ("would_recommend", BOOL, "评论：太差了，很失望。", False),
    ("wantsRefund", BOOL, "Review: I returned it the next day.", True),
    ("wantsRefund", BOOL, "评论：已经申请退款了。", True),
    ("mentions_price", BOOL, "Review: Too expensive for what it is.", True),
    ("mentions_price", BOOL, "Review: Lovely colour.", False),
    ("mentions_delivery", BOOL, "评论：快递很快。", True),
    # text: a labelled value, the expression, else the first sentence
    ("product", TEXT, "Product: Electric kettle\nReview: Boils fast.", "Electric kettle"),
    ("reason", TEXT, "Review: The battery died after a week. Otherwise fine.", "The battery died after a week."),
    ("reason", TEXT, "评论：电池一周就没电了。其他还好。", "电池一周就没电了。"),
    ("expression", TEXT, "Compute 61 - 34 - 75.", "61 - 34 - 75"),
    ("reason", {"type": "string", "maxLength": 12}, "Review: The battery died after a week.", "The battery…"),
]


@pytest.mark.parametrize(("name", "prop", "text", "expected"), FIELD_CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(FIELD_CASES)])
async def test_each_field_type_is_read_out_of_english_and_chinese_rows(client, name, prop, text, expected):
    value = (await answer(client(), text, schema_of({name: prop})))[name]
    assert value == expected and type(value) is type(expected)


async def test_the_schema_is_found_in_response_format_or_in_a_system_message_fence_alike(client):
    schema = schema_of({"sentiment": SENTIMENT, "rating": RATING, "purchase_date": DATE, "would_recommend": BOOL, "reason": TEXT})
    text = "Review: Bought it on May 2, 2024. Five stars, highly recommend!"
    expected = {"sentiment": "positive", "rating": 5, "purchase_date": "2024-05-02", "would_recommend": True, "reason": "Bought it on May 2, 2024."}
    c = client()
    for mode in ("json_schema", "json_object", "instructions"):
        assert await answer(c, text, schema, mode) == expected, mode


async def test_a_value_the_row_lacks_is_null_left_out_or_the_types_empty_value(client):
    text = "Review: nothing to read here"
    c = client()
    assert await answer(c, text, schema_of({"n": NUMBER, "d": DATE})) == {"n": None, "d": None}
    assert await answer(c, text, schema_of({"n": {"type": "number"}, "d": {"type": "string", "format": "date"}}, required=[])) == {}
    assert await answer(c, text, schema_of({"n": {"type": "number"}, "i": {"type": "integer"}})) == {"n": 0, "i": 0}


async def test_nested_objects_and_arrays_follow_the_same_rules(client):
    schema = schema_of({"facts": schema_of({"rating": RATING, "tags": {"type": "array", "items": CATEGORY}})})
    assert await answer(client(), "Review: kitchen hero, 5 stars", schema) == {"facts": {"rating": 5, "tags": ["kitchen"]}}


async def test_answers_are_deterministic_and_an_unmentioned_choice_is_a_fixed_pick(client):
    schema = schema_of({"category": CATEGORY, "sentiment": SENTIMENT, "reason": TEXT})
    texts = [f"Review: item number {i} arrived." for i in range(30)]
    first = [await answer(client(), t, schema) for t in texts]
    again = [await answer(client(seed=0), t, schema) for t in texts]
    assert first == again
    assert len({a["category"] for a in first}) > 1  # a pick per row, not always the first choice
    assert answer_schema(schema, texts[0], seed=0, error_rate=0) == json.dumps(first[0], ensure_ascii=False)


async def test_arithmetic_in_a_schema_is_exact_and_wrong_as_often_as_plain_answers(client):
    """The careful prompt's mistakes stay a subset of the terse one's, in JSON as in plain text."""
    schema = schema_of({"expression": TEXT, "infer": {"type": "number"}})
    c = client(error_rate=0.3)
    for i in range(1, 40):
        question = f"{i} + {i * 7} x 3"
        plain = await c.chat.completions.create(model="simulated", messages=[{"role": "user", "content": f"Compute {question}"}])
        got = await answer(c, f"Compute {question}", schema)
        assert got == {"expression": question, "infer": int(plain.choices[0].message.content)}


# --- plain text ---------------------------------------------------------------------------------


PLAIN_CASES = [
    ("Is this review positive, negative or neutral? Answer with one word.\n\nThe kettle is great.", "positive"),
    ("Is this review Positive, Negative or Neutral?\n\nThe kettle leaks.", "Negative"),  # spelt as the prompt spells it
    ("这条评论是正面、负面还是中性？只回答一个词。\n\n物流很快，很满意。", "正面"),
    ("情感（积极/消极/中性）：质量太差了", "消极"),
    ("Would the reviewer recommend it? Answer yes or no.\n\nI recommend it to everyone.", "yes"),
    ("Answer yes or no: does the review mention a refund?\nGreat shoes, comfy.", "no"),
    ("这条评论是否推荐该产品？回答是或否。\n\n不推荐，做工粗糙。", "否"),
    ("Compute 37 + 12 x 5 - 8. Reply with the number only.", "89"),
]


@pytest.mark.parametrize(("prompt", "expected"), PLAIN_CASES)
async def test_plain_prompts_get_a_class_yes_no_or_a_number(client, prompt, expected):
    reply = await client().chat.completions.create(model="simulated", messages=[{"role": "user", "content": prompt}])
    assert reply.choices[0].message.content == expected


async def test_any_other_plain_prompt_gets_a_short_answer_that_says_it_is_simulated(client):
    c = client()

    async def say(prompt: str) -> str:
        return (await c.chat.completions.create(model="simulated", messages=[{"role": "user", "content": prompt}])).choices[0].message.content

    english = await say("Summarise this review: The blender is loud but it crushes ice in 10 seconds. Worth it.")
    assert re.fullmatch(
        r"Simulated answer \(ref [0-9a-f]{4}\), not a real model\. Tone: positive\. Number: 10\. "
        r"Text: “The blender is loud but it crushes ice in 10 seconds\.”",
        english,
    ), english
    chinese = await say("总结这条评论：2024年3月3日买的耳机，音质很好。")
    assert re.fullmatch(r"模拟回答（编号 [0-9a-f]{4}），并非真实模型。语气：正面。日期：2024-03-03。原文：“2024年3月3日买的耳机，音质很好。”", chinese), chinese
    assert await say("Summarise this review: The blender is loud but it crushes ice in 10 seconds. Worth it.") == english


# --- the provider's capability -------------------------------------------------------------------


async def test_a_provider_with_json_schema_takes_both_response_formats(client):
    c = client(structured_outputs="json_schema")
    schema = schema_of({"sentiment": SENTIMENT})
    assert await answer(c, "Review: love it", schema, "json_schema") == {"sentiment": "positive"}
    assert await answer(c, "Review: love it", schema, "json_object") == {"sentiment": "positive"}


async def test_a_json_object_provider_refuses_json_schema_as_deepseek_does(client):
    c = client(structured_outputs="json_object")
    schema = schema_of({"sentiment": SENTIMENT})
    with pytest.raises(openai.BadRequestError) as refused:
        await answer(c, "Review: love it", schema, "json_schema")
    assert refused.value.status_code == 400
    assert refused.value.body == {
        "message": "This response_format type is unavailable now",
        "type": "invalid_request_error",
        "param": None,
        "code": "invalid_request_error",
    }
    assert await answer(c, "Review: love it", schema, "json_object") == {"sentiment": "positive"}  # the fallback works
    assert await answer(c, "Review: love it", schema, "instructions") == {"sentiment": "positive"}


async def test_a_provider_without_structured_outputs_refuses_any_response_format(client):
    c = client(structured_outputs="none")
    schema = schema_of({"sentiment": SENTIMENT})
    for mode, kind in (("json_schema", "json_schema"), ("json_object", "json_object")):
        with pytest.raises(openai.BadRequestError) as refused:
            await answer(c, "Review: love it", schema, mode)
        assert refused.value.body["param"] == "response_format" and refused.value.body["type"] == "invalid_request_error"
        assert refused.value.message.endswith(f"Invalid parameter: 'response_format' of type '{kind}' is not supported with this model.")
    assert await answer(c, "Review: love it", schema, "instructions") == {"sentiment": "positive"}
    plain = await c.chat.completions.create(model="simulated", messages=[{"role": "user", "content": "1 + 1"}], response_format={"type": "text"})
    assert plain.choices[0].message.content == "2"


def test_an_unknown_capability_is_refused_at_once():
    with pytest.raises(ValueError, match="structured_outputs"):
        Simulator(SimulatorConfig(structured_outputs="xml"))


async def test_the_command_line_server_takes_the_capability_flag():
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "core.simulator",
        "--port",
        "0",
        "--latency",
        "0",
        "--jitter",
        "0",
        "--structured",
        "json_object",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
        match = re.fullmatch(r"simulator listening on (http://127\.0\.0\.1:\d+/v1)\n", line)
        assert match, line
        c = openai.AsyncOpenAI(base_url=match.group(1), api_key="sk-a", max_retries=0)
        try:
            schema = schema_of({"sentiment": SENTIMENT})
            with pytest.raises(openai.BadRequestError, match="response_format"):
                await answer(c, "Review: love it", schema, "json_schema")
            assert await answer(c, "评论：很好", schema, "json_object") == {"sentiment": "positive"}
        finally:
            await c.close()
    finally:
        proc.terminate()
        assert await asyncio.wait_for(proc.wait(), 30) == 0


# --- the invalid answer and its re-ask -----------------------------------------------------------


async def test_the_invalid_trigger_breaks_the_first_answer_and_a_re_ask_gets_a_valid_one(client):
    c = client()
    schema = schema_of({"sentiment": SENTIMENT, "rating": RATING, "purchase_date": DATE, "would_recommend": BOOL, "reason": TEXT})
    messages = [{"role": "user", "content": "Review: SIMULATE_INVALID_ANSWER Great kettle, 5 stars, bought 2024-01-02."}]
    first = await c.chat.completions.create(model="simulated", messages=messages, response_format=json_schema_format(schema))
    bad = json.loads(first.choices[0].message.content)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)
    assert bad["sentiment"] not in SENTIMENT["enum"] and isinstance(bad["rating"], str) and isinstance(bad["would_recommend"], str)
    again = await c.chat.completions.create(model="simulated", messages=messages, response_format=json_schema_format(schema))
    assert again.choices[0].message.content == first.choices[0].message.content  # the same request breaks again
    reask = [
        *messages,
        {"role": "assistant", "content": first.choices[0].message.content},
        {"role": "user", "content": "Your answer did not fit: sentiment must be one of positive, negative, neutral. Answer again."},
    ]
    fixed = await c.chat.completions.create(model="simulated", messages=reask, response_format=json_schema_format(schema))
    value = json.loads(fixed.choices[0].message.content)
    jsonschema.validate(value, schema)
    assert value == {
        "sentiment": "positive",
        "rating": 5,
        "purchase_date": "2024-01-02",
        "would_recommend": True,
        "reason": "SIMULATE_INVALID_ANSWER Great kettle, 5 stars, bought 2024-01-02.",
    }


async def test_the_invalid_trigger_gives_prose_where_no_field_can_be_broken(client):
    c = client()
    schema = schema_of({"reason": TEXT})
    first = await c.chat.completions.create(
        model="simulated", messages=[{"role": "user", "content": "SIMULATE_INVALID_ANSWER fine"}], response_format=json_schema_format(schema)
    )
    with pytest.raises(ValueError):
        json.loads(first.choices[0].message.content)


# --- batch mode ----------------------------------------------------------------------------------


async def test_batch_lines_are_answered_and_refused_as_chat_requests_are(client):
    schema = schema_of({"sentiment": SENTIMENT, "rating": RATING})
    lines = [
        {
            "custom_id": f"r{i}",
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {"model": "simulated", "messages": [{"role": "user", "content": text}], "response_format": fmt},
        }
        for i, (text, fmt) in enumerate([("Review: terrible, 1/5", json_schema_format(schema)), ("评论：很好，五星", {"type": "json_object"})])
    ]
    lines[1]["body"]["messages"].insert(0, {"role": "system", "content": "JSON: " + json.dumps(schema)})
    data = "\n".join(json.dumps(line, ensure_ascii=False) for line in lines).encode()
    for capability, expected in (
        ("json_schema", {"r0": {"sentiment": "negative", "rating": 1}, "r1": {"sentiment": "positive", "rating": 5}}),
        ("json_object", {"r0": "This response_format type is unavailable now", "r1": {"sentiment": "positive", "rating": 5}}),
    ):
        c = client(structured_outputs=capability, batch_completion_s=0)
        uploaded = await c.files.create(file=("in.jsonl", data), purpose="batch")
        batch = await c.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h")
        batch = await c.batches.retrieve(batch.id)
        got: dict[str, object] = {}
        for file_id in (batch.output_file_id, batch.error_file_id):
            if file_id:
                for line in (await c.files.content(file_id)).text.splitlines():
                    row = json.loads(line)
                    body = row["response"]["body"]
                    got[row["custom_id"]] = json.loads(body["choices"][0]["message"]["content"]) if "choices" in body else body["error"]["message"]
        assert got == expected, capability


def test_find_schema_prefers_response_format_and_else_takes_the_first_object_with_properties():
    inner = schema_of({"a": TEXT})
    other = schema_of({"b": TEXT})
    messages = [{"role": "system", "content": 'Example {"x": 1} then ```json\n' + json.dumps({"schema": other}) + "\n```"}]
    assert find_schema({"messages": messages, "response_format": json_schema_format(inner)}) == inner
    assert find_schema({"messages": messages, "response_format": {"type": "json_object"}}) == other
    assert find_schema({"messages": [{"role": "user", "content": "no schema {here}"}]}) is None
    assert reply({"messages": [{"role": "user", "content": "2 + 2"}]}, "2 + 2", "2 + 2", seed=0, error_rate=0) == ("4", "stop")


# --- the reviews demo sheet -----------------------------------------------------------------------


def load_make_demo():  # type: ignore[no-untyped-def]
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_demo", ROOT / "core" / "data" / "make_demo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def reviews() -> list[dict[str, str]]:
    import csv

    with (ROOT / "core" / "data" / "demo_reviews.csv").open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_the_reviews_sheet_is_what_make_demo_writes_half_english_half_chinese():
    rows = reviews()
    assert [tuple(r.values()) for r in rows] == [tuple(map(str, row)) for row in load_make_demo().make_reviews()]
    assert len(rows) == 200 and sum(r["lang"] == "zh" for r in rows) == 100
    assert all(bool(re.search(r"[\u4e00-\u9fff]", r["review"])) == (r["lang"] == "zh") for r in rows)
    for label in ("positive", "negative", "neutral"):
        assert sum(r["sentiment"] == label for r in rows) >= 30
    assert 60 <= sum(bool(r["rating"]) for r in rows) <= 140 and 50 <= sum(bool(r["date"]) for r in rows) <= 110
    assert len({r["product"] for r in rows}) >= 20


def test_the_demo_prompt_gets_most_reviews_right_but_not_the_sarcastic_ones():
    from core.demos import DEMO_SHEETS

    sheet = DEMO_SHEETS["reviews"]
    rows = reviews()
    module = load_make_demo()
    tricky = {s.format(p=p) for lang in ("en", "zh") for _, s in module.TRICKY[lang] for p in module.PRODUCTS[lang]}
    for template in (sheet.template, sheet.template_zh):
        answers = []
        for r in rows:
            prompt = template.format(**r)
            answers.append(reply({"messages": [{"role": "user", "content": prompt}]}, prompt, prompt, seed=0, error_rate=0.05)[0])
        right = [a == r["sentiment"] for a, r in zip(answers, rows)]
        assert set(answers) == {"positive", "negative", "neutral"}
        assert 0.85 <= sum(right) / len(rows) <= 0.97  # a confusion matrix with something in it
        missed = [r for ok, r in zip(right, rows) if not ok]
        assert sum(any(r["review"].startswith(t) or t in r["review"] for t in tricky) for r in missed) >= len(missed) * 0.7


def test_the_reviews_ratings_dates_and_recommendations_are_read_back_from_the_text():
    schema = schema_of({"rating": RATING, "date": DATE, "recommend": {"type": "boolean", "description": "would the reviewer recommend it"}})
    rows = reviews()
    got = [json.loads(answer_schema(schema, f"Product: {r['product']}\nReview: {r['review']}", seed=0, error_rate=0)) for r in rows]
    assert [str(g["rating"] or "") for g in got] == [r["rating"] for r in rows]
    assert [g["date"] or "" for g in got] == [r["date"] for r in rows]
    assert 0.9 <= sum(g["recommend"] == (r["recommend"] == "yes") for g, r in zip(got, rows)) / len(rows) < 1
