"""How the simulated model answers a request: arithmetic exactly (`sim_arith`), any JSON schema with
values read out of the row's text, and other prompts with a short answer that says it is simulated.
Deterministic: the same request gets the same answer, in English and in Chinese. Not a real model:
keyword rules, a small lexicon and regular expressions, documented here so that a demo's results
can be explained.

Which text. The row is the last user message (with an assistant turn in the conversation, a re-ask:
the user messages before the first assistant turn). A JSON schema found in it is left out, and so
are questions (sentences ending in ? or ？: instructions, not the row) where a keyword is looked for.

The schema. `response_format` `{"type": "json_schema", "json_schema": {"schema": {...}}}`, else the
first JSON object with "properties" anywhere in the messages (the system message's ```json fence of
the json_object and instructions-only modes). The answer is one JSON object with a value for every
property, of the property's type (`type` a string or a list with "null", or `anyOf`/`oneOf`):

- one of (`enum`, or `oneOf`/`anyOf` of `const` with a `description`):
  - sentiment classes (positive/negative/neutral, 正面/负面/中性, good/bad, 好评/差评 ...): the
    lexicon rule of `core/sim_lexicon.py` on the row (the class words and lists of them left out);
  - yes/no choices (yes/no, true/false, 是/否): the yes/no rule below;
  - numbers (1..5): the rating or number in the row;
  - any other list: the choice whose name (or description) words occur most in the row, the one
    mentioned first on a tie; with none mentioned, a pick fixed by a hash of the row and the field;
- number / integer: a rating where the field's name or description says rating/score/stars/评分/星
  ("4/5", "4 out of 5", "four stars", "五星", "打4分"; no rating written, none), a price where it
  says price/cost/价格 ("$12.99", "199元"); else an arithmetic expression in the row, computed
  exactly (wrong on purpose as often as plain answers are; see `sim_arith`; "4/5" is a score and
  "2024-03-03" a date, not sums); else the first number in the row (dates and scales such as
  "1 to 5" left out); an integer is rounded half up;
- yes/no (`boolean`): the field's words (name split at _ and capitals, and its description; English
  and a few Chinese synonyms: recommend/推荐, return/refund/退货, buy again/回购, price/价格,
  delivery/快递, broken/坏) are looked for in the row: found, true unless a negator stands just before
  ("would not recommend", "不推荐"); not found, the row's sentiment for words of opinion (recommend,
  satisfied, like, worth, buy again, 推荐, 满意, 喜欢, 值得 ...) and false for the others;
- date (`format: date`, or a name or description that says date/日期): the first real date in the row
  as yyyy-mm-dd ("2024-03-03", "2024/3/3", "March 3, 2024", "3 March 2024", "2024年3月3日", "3/14/2024");
- text: "Name: value" in the row for a field of that name; the expression, for a field named
  expression/formula; else the row's first sentence, at most 80 characters (or maxLength);
- object / array: the same rules inside; an array holds one value, or none.

A value the row does not give is null where the type allows null, left out where the property is not
required, else the type's empty value (0, false, "", the first choice).

Plain text (no schema). An arithmetic expression is answered with its number (as JSON
`{"expression", "infer"}` when JSON is asked for: response_format json_object or the word "json").
A prompt that names two sentiment classes ("positive, negative or neutral", "正面、负面还是中性")
gets the class word, spelt as the prompt spells it (before arithmetic: "arrived in 2-3 days" is no sum). A prompt that asks "yes or no" (是或否, 是否)
gets yes or no by the yes/no rule, with the question's words as the field's. Anything else gets a
short answer marked as simulated: "Simulated answer (ref 1a2b), not a real model. Tone: negative.
Number: 4. Text: “...”" (in Chinese for a Chinese row).

SIMULATE_INVALID_ANSWER anywhere in the messages: the first answer breaks the schema on purpose (a
class outside the list, a number or date as prose, a yes/no as "perhaps"; prose when nothing can be
broken); a re-ask (the conversation holds an assistant turn) gets the valid answer.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from .sim_arith import (
    CARE_ERROR_FACTOR,
    CHARS_PER_TOKEN,
    _wrong_offset,
    answer_content,
    asks_for_care,
    estimate_tokens,
    find_expression,
    format_number,
    is_deliberately_wrong,
)
from .sim_extract import find_date, find_number, find_price, find_rating, mask_dates, short_extract
from .sim_judge import grade
from .sim_lexicon import negated_near, sentiment

__all__ = ["reply", "find_schema", "row_text", "answer_schema", "plain_answer", "INVALID_TRIGGER"]

INVALID_TRIGGER = "SIMULATE_INVALID_ANSWER"
_CJK = re.compile(r"[\u4e00-\u9fff]")
_QUESTION = re.compile(r"[^.!?。！？\n]*[?？]")
_LABEL = re.compile(r"^\s*([^:：\n]{1,100}?)[:：]\s*(.+)$")

# Sentiment class words, by polarity.
_CLASS_WORDS = {
    1: ("positive", "pos", "good", "happy", "satisfied", "favorable", "favourable", "正面", "积极", "好评", "正向", "满意", "好"),
    -1: ("negative", "neg", "bad", "unhappy", "unsatisfied", "dissatisfied", "unfavorable", "负面", "消极", "差评", "负向", "不满意", "差"),
    0: ("neutral", "mixed", "neither", "none", "中性", "中立", "一般", "中评", "混合"),
}
# The words that make a plain-text prompt a sentiment question (not "good" or "bad": a review has those).
_PLAIN_CLASSES = {1: ("positive", "正面", "积极", "好评"), -1: ("negative", "负面", "消极", "差评"), 0: ("neutral", "mixed", "中性", "中立", "中评")}
_YES = ("yes", "true", "y", "是", "有", "对", "会", "推荐")
_NO = ("no", "false", "n", "否", "无", "没有", "不会", "不推荐")
# Concepts a yes/no field may ask about, with words in both languages.
_CONCEPTS = (
    ("recommend", "推荐", "介绍给"),
    ("return", "refund", "money back", "send it back", "退货", "退款", "退了"),
    ("buy again", "repurchase", "rebuy", "order again", "回购", "再买", "还会买"),
    ("price", "cost", "expensive", "cheap", "价格", "价钱", "贵", "便宜"),
    ("delivery", "shipping", "arrived", "courier", "快递", "物流", "送货", "发货"),
    ("broken", "broke", "defect", "damaged", "faulty", "stopped working", "坏", "破", "故障"),
    ("gift", "present", "礼物", "送人"),
)
_OPINION = (
    "recommend",
    "satisf",
    "like",
    "love",
    "happy",
    "worth",
    "buy again",
    "repurchase",
    "positive",
    "good",
    "推荐",
    "满意",
    "喜欢",
    "值得",
    "回购",
    "好评",
)
_STOP = frozenset(
    """
a an the is are was were be would will could should do does did has have had it its this that of for to in on at by with
and or any if whether does customer reviewer user buyer author review text row they he she they them mention mentions
mentioned says say said about yes no true false field value flag
""".split()
)
_RATING_WORDS = ("rating", "rate", "score", "star", "stars", "grade", "评分", "打分", "星", "分数")
_PRICE_WORDS = ("price", "cost", "amount", "paid", "spent", "价格", "价钱", "金额", "花了")
_DATE_WORDS = ("date", "day", "when", "日期", "时间", "哪天")
_EXTRACT_NAMES = ("expression", "formula", "equation", "算式", "表达式")


# --- reading the request -----------------------------------------------------------------------


def _text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


def _json_objects(text: str) -> list[tuple[int, int, Any]]:
    """(start, end, value) of every JSON object in text, outermost first."""
    found, decoder, i = [], json.JSONDecoder(), 0
    while (i := text.find("{", i)) >= 0:
        try:
            value, end = decoder.raw_decode(text, i)
        except ValueError:
            i += 1
            continue
        if isinstance(value, dict):
            found.append((i, end, value))
            i = end
        else:
            i += 1
    return found


def _with_properties(value: Any) -> dict | None:
    if isinstance(value, dict):
        if isinstance(value.get("properties"), dict):
            return value
        for inner in value.values():
            found = _with_properties(inner)
            if found is not None:
                return found
    return None


def find_schema(request: Mapping[str, object]) -> dict | None:
    """The JSON schema the request asks the answer to follow, if any (see the module's rules)."""
    fmt = request.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        spec = fmt.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, dict) else None
        if isinstance(schema, dict):
            return schema
    messages = request.get("messages")
    for message in messages if isinstance(messages, list) else ():
        if isinstance(message, dict):
            for _, _, value in _json_objects(_text(message.get("content"))):
                found = _with_properties(value)
                if found is not None:
                    return found
    return None


def row_text(request: Mapping[str, object], prompt: str) -> tuple[str, bool]:
    """(the row's text, whether this is a re-ask): the user messages before the first assistant
    turn when there is one, else `prompt` (the last user message); JSON objects left out."""
    messages = request.get("messages")
    messages = [m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []
    roles = [m.get("role") for m in messages]
    reask = "assistant" in roles
    if reask:
        first = roles.index("assistant")
        prompt = "\n".join(_text(m.get("content")) for m in messages[:first] if m.get("role") == "user")
    for start, end, value in reversed(_json_objects(prompt)):
        if _with_properties(value) is not None:  # a schema is the request's, not the row's
            prompt = prompt[:start] + " " + prompt[end:]
    return re.sub(r"```(?:json)?\s*```", " ", prompt), reask


def _statements(text: str) -> str:
    return _QUESTION.sub(" ", text)


def _main_line(text: str) -> str:
    """The row's own words for an extract: the longest line, a short leading "Label:" cut off."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return ""
    line = max(lines, key=len)
    label = _LABEL.match(line)
    return label.group(2).strip() if label else line


_SCORE = re.compile(r"\d+/(?:5|10|100)")


def arithmetic(text: str) -> tuple[str, Fraction] | None:
    """The row's arithmetic expression, if any: a date ("2024-03-03") is no subtraction, and a score
    written as "4/5" or "7/10" is a rating, not a division."""
    found = find_expression(mask_dates(text))
    return None if found is None or _SCORE.fullmatch(found[0]) else found


def _digest(*parts: object) -> int:
    return int.from_bytes(hashlib.blake2b("\x00".join(map(str, parts)).encode(), digest_size=8).digest(), "big")


# --- words --------------------------------------------------------------------------------------


def _has(text: str, word: str) -> int:
    """Where word first occurs in text (-1: nowhere): a substring for Chinese, else a whole word
    (plural and -ed/-ing endings allowed)."""
    if _CJK.search(word):
        return text.find(word)
    m = re.search(rf"(?<![a-z]){re.escape(word.lower())}(?:s|es|ed|d|ing)?(?![a-z])", text.lower())
    return m.start() if m else -1


def _field_words(name: str, description: str) -> list[str]:
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", name).replace("_", " ").replace("-", " ")
    words = [w.lower() for w in re.findall(r"[A-Za-z]+", f"{spaced} {description}") if w.lower() not in _STOP and len(w) > 1]
    words += re.findall(r"[\u4e00-\u9fff]+", f"{name} {description}")
    out: list[str] = []
    for group in _CONCEPTS:
        if any(_has(f"{spaced} {description}", w) >= 0 or any(w in c for c in words if _CJK.search(c)) for w in group):
            out += group
    # Chinese runs from a description are too long to occur as such; keep them for concepts only.
    return list(dict.fromkeys(out + [w for w in words if not _CJK.search(w)]))


def _masked_lists(text: str, choices: list[str]) -> str:
    """Text with lists of the choices ("positive, negative or neutral") left out."""
    words = sorted((re.escape(c) for c in choices if c), key=len, reverse=True)
    if not words:
        return text
    one = "(?:" + "|".join(words) + ")"
    sep = r"\s*(?:,|/|\||、|，|\bor\b|\band\b|或者|还是|或|和)\s*"
    return re.sub(rf"{one}(?:{sep}{one})+", " ", text, flags=re.I)


def _polarity_of(choice: str) -> int | None:
    lowered = choice.strip().lower()
    for value, words in _CLASS_WORDS.items():
        if lowered in words:
            return value
    return None


def _tone(text: str, class_words: list[str]) -> int:
    return sentiment(_masked_lists(_statements(text), class_words))


def yes_no(words: list[str], text: str) -> bool:
    """The yes/no rule: a word of the field in the row, not negated; else opinion words follow the tone."""
    statements = _statements(text)
    hits = [(pos, w) for w in words for pos in [_has(statements, w)] if pos >= 0]
    if hits:
        pos, _ = min(hits)
        return not negated_near(statements, pos)
    if any(o in w for w in words for o in _OPINION):
        return sentiment(statements) > 0
    return False


# --- values ---------------------------------------------------------------------------------------


def _kinds(prop: Mapping[str, Any]) -> tuple[list[str], bool, list[tuple[Any, str]]]:
    """(the non-null types, whether null is allowed, the choices as (value, description))."""
    types: list[str] = []
    nullable = False
    choices: list[tuple[Any, str]] = []
    for sub in [prop, *[s for key in ("anyOf", "oneOf") for s in prop.get(key) or () if isinstance(s, dict)]]:
        kind = sub.get("type")
        for t in kind if isinstance(kind, list) else [kind] if isinstance(kind, str) else []:
            if t == "null":
                nullable = True
            elif t not in types:
                types.append(t)
        if isinstance(sub.get("enum"), list):
            for value in sub["enum"]:
                if value is None:
                    nullable = True
                else:
                    choices.append((value, ""))
        if "const" in sub:
            if sub["const"] is None:
                nullable = True
            else:
                choices.append((sub["const"], str(sub.get("description") or "")))
    if not types and choices:
        types = ["integer" if all(isinstance(v, int) and not isinstance(v, bool) for v, _ in choices) else "string"]
    return types or ["string"], nullable, choices


def _round_half_up(value: float) -> int:
    return int(Decimal(str(value)).quantize(Decimal(1), ROUND_HALF_UP))


class _Row:
    """One row's text and what the rules need to answer for it."""

    def __init__(self, text: str, *, seed: int, error_rate: float) -> None:
        self.text, self.seed, self.error_rate = text, seed, error_rate
        self.expression = arithmetic(text)

    def number(self, words: list[str]) -> float | None:
        joined = " ".join(words)
        found = None
        if any(w in joined for w in _RATING_WORDS):
            return find_rating(self.text)  # a rating or nothing: "after 2 weeks" is no score
        if any(w in joined for w in _PRICE_WORDS):
            found = find_price(self.text)
        if found is None and self.expression is not None:
            expression, value = self.expression
            if is_deliberately_wrong(self.seed, expression, self.error_rate):
                value += _wrong_offset(self.seed, expression)
            return float(format_number(value))
        return find_number(self.text) if found is None else found

    def choose(self, name: str, choices: list[tuple[Any, str]], words: list[str]) -> Any:
        values = [v for v, _ in choices]
        labels = [str(v) for v in values]
        polarities = [_polarity_of(label) for label in labels]
        if 1 in polarities and -1 in polarities:
            tone = _tone(self.text, [w for group in _CLASS_WORDS.values() for w in group] + labels)
            if tone in polarities:
                return values[polarities.index(tone)]
            return values[_digest(self.seed, name, self.text) % len(values)]
        lowered = [label.strip().lower() for label in labels]
        if set(lowered) & set(_YES) and set(lowered) & set(_NO):
            answer = yes_no(words, self.text)
            return next(v for v, low in zip(values, lowered) if (low in _YES) == answer)
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            found = self.number(words + ["rating"])
            if found is not None and found in values:
                return values[values.index(found)]
        text = _masked_lists(_statements(self.text), labels)
        best: tuple[int, int, int] | None = None  # (-count, first position, index)
        for i, (value, description) in enumerate(choices):
            keys = [k for k in re.split(r"[\s_\-/]+", str(value)) + _field_words("", description) if k]
            spots = [p for k in keys for p in [_has(text, k)] if p >= 0]
            if spots and (best is None or (-len(spots), min(spots), i) < best):
                best = (-len(spots), min(spots), i)
        if best is not None:
            return values[best[2]]
        return values[_digest(self.seed, name, self.text) % len(values)]

    def string(self, name: str, words: list[str], max_length: int | None) -> str | None:
        for line in self.text.splitlines():
            label = _LABEL.match(line)
            if label and label.group(1).strip().lower().replace(" ", "_") == name.lower():
                return label.group(2).strip()[:max_length]
        if self.expression is not None and any(n in name.lower() for n in _EXTRACT_NAMES):
            return self.expression[0]
        extract = short_extract(_main_line(self.text), min(80, max_length or 80))
        return extract[:max_length] if extract else None

    def value(self, name: str, prop: Mapping[str, Any]) -> tuple[Any, bool]:
        """(the value or None, whether null is allowed)."""
        types, nullable, choices = _kinds(prop)
        description = str(prop.get("description") or prop.get("title") or "")
        words = _field_words(name, description)
        kind = types[0]
        if choices:
            return self.choose(name, choices, words), nullable
        if kind == "boolean":
            return yes_no(words, self.text), nullable
        if kind in ("number", "integer"):
            found = self.number(words)
            if found is None:
                return None, nullable
            if kind == "integer":
                return _round_half_up(found), nullable
            return (int(found) if float(found).is_integer() else found), nullable
        if kind == "object":
            return self.object(prop), nullable
        if kind == "array":
            items = prop.get("items")
            item, _ = self.value(name, items if isinstance(items, dict) else {})
            return ([] if item is None else [item]), nullable
        if prop.get("format") in ("date", "date-time") or any(w in (name.lower() + " " + description.lower()) for w in _DATE_WORDS):
            return find_date(self.text), nullable
        max_length = prop.get("maxLength")
        return self.string(name, words, max_length if isinstance(max_length, int) else None), nullable

    def object(self, schema: Mapping[str, Any]) -> dict[str, Any]:
        properties = _properties(schema)
        required = set(schema.get("required") or ())
        out: dict[str, Any] = {}
        for name, prop in properties.items():
            prop = prop if isinstance(prop, dict) else {}
            value, nullable = self.value(name, prop)
            if value is None and not nullable:
                if name not in required:
                    continue
                value = _empty(prop)
            out[name] = value
        return out


def _properties(schema: Mapping[str, Any]) -> dict[str, Any]:
    found = schema.get("properties")
    return found if isinstance(found, dict) else {}


def _empty(prop: Mapping[str, Any]) -> Any:
    types, _, choices = _kinds(prop)
    if choices:
        return choices[0][0]
    return {"number": 0, "integer": 0, "boolean": False, "object": {}, "array": []}.get(types[0], "")


def _broken(schema: Mapping[str, Any], answer: dict[str, Any]) -> dict[str, Any] | None:
    """The answer with every field that can be broken broken; None when none can."""
    properties = _properties(schema)
    out, broke = dict(answer), False
    for name, prop in properties.items():
        types, _, choices = _kinds(prop if isinstance(prop, dict) else {})
        date = isinstance(prop, dict) and prop.get("format") in ("date", "date-time")
        if choices:
            out[name], broke = "maybe (not sure)", True
        elif types[0] in ("number", "integer"):
            out[name], broke = "about twelve, roughly", True
        elif types[0] == "boolean":
            out[name], broke = "perhaps", True
        elif date:
            out[name], broke = "last Tuesday", True
    return out if broke else None


def answer_schema(schema: Mapping[str, Any], text: str, *, seed: int, error_rate: float, invalid: bool = False) -> str:
    """The JSON answer to `schema` for a row's text (see the module's rules)."""
    answer = _Row(text, seed=seed, error_rate=error_rate).object(schema)
    if invalid:
        broken = _broken(schema, answer)
        if broken is None:
            return "I think it is fine, more or less."
        answer = broken
    return json.dumps(answer, ensure_ascii=False)


# --- plain text ------------------------------------------------------------------------------------


def _class_words_in(prompt: str) -> dict[int, str]:
    """The sentiment class words a prompt names, one per polarity, spelt as in the prompt."""
    found: dict[int, tuple[int, str]] = {}
    for value, words in _PLAIN_CLASSES.items():
        for word in words:
            m = re.search(re.escape(word) if _CJK.search(word) else rf"\b{re.escape(word)}\b", prompt, re.I)
            if m and (value not in found or m.start() < found[value][0]):
                found[value] = (m.start(), m.group(0))
    return {value: word for value, (_, word) in found.items()}


def plain_answer(text: str, *, seed: int, json_mode: bool, error_rate: float = 0.0) -> str:
    """A prompt without a schema: a class, a number, yes or no, or a short simulated answer."""
    named = _class_words_in(text)
    if 1 in named and -1 in named and not json_mode:
        tone = _tone(text, [w for group in _CLASS_WORDS.values() for w in group])
        if tone not in named:
            tone = 1 if _digest(seed, text) % 2 else -1
        return named[tone]
    if arithmetic(text) is not None:
        return answer_content(mask_dates(text), json_mode=json_mode, seed=seed, error_rate=error_rate)
    asks = re.search(r"\byes\s*(?:or|/)\s*no\b|是或否|是否|是不是|会不会", text, re.I)
    if asks and not json_mode:
        # The asking sentence names what is asked and is left out of what is searched.
        start = max(text.rfind(c, 0, asks.start()) for c in ".!?。！？\n") + 1
        ends = [i for c in ".!?。！？\n" for i in [text.find(c, asks.end())] if i >= 0]
        end = min(ends) + 1 if ends else len(text)
        asking = text[start:end]
        rest = text[:start] + " " + text[end:]
        question = " ".join([asking, *(m.group(0) for m in _QUESTION.finditer(rest))])
        answer = yes_no(_field_words("", question), rest)
        chinese = _CJK.search(asks.group(0)) is not None
        return ("是" if answer else "否") if chinese else ("yes" if answer else "no")
    sentence = _simulated_sentence(text)
    return json.dumps({"answer": sentence}, ensure_ascii=False) if json_mode else sentence


def _simulated_sentence(text: str) -> str:
    ref = hashlib.blake2b(text.encode(), digest_size=2).hexdigest()
    main = _main_line(text)
    extract = short_extract(main, 80)
    tone = sentiment(main)
    number, date = find_number(main), find_date(main)
    if len(_CJK.findall(main)) * 2 > len(main.replace(" ", "")):
        parts = [f"模拟回答（编号 {ref}），并非真实模型。", f"语气：{('负面', '中性', '正面')[tone + 1]}。"]
        parts += [f"数字：{format_number_text(number)}。"] if number is not None else []
        parts += [f"日期：{date}。"] if date else []
        return "".join(parts) + f"原文：“{extract}”"
    parts = [f"Simulated answer (ref {ref}), not a real model.", f"Tone: {('negative', 'neutral', 'positive')[tone + 1]}."]
    parts += [f"Number: {format_number_text(number)}."] if number is not None else []
    parts += [f"Date: {date}."] if date else []
    return " ".join(parts) + f" Text: “{extract}”"


def format_number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


# --- the answer ------------------------------------------------------------------------------------


def reply(request: Mapping[str, object], prompt: str, everything: str, *, seed: int, error_rate: float) -> tuple[str, str]:
    """(content, finish_reason) for a chat request already known to be well formed."""
    if "SIMULATE_CONTENT_FILTER" in everything:
        return "", "content_filter"
    if (verdict := grade(prompt)) is not None:  # a judge's grading prompt (core/sim_judge.py)
        return verdict, "stop"
    rate = error_rate * CARE_ERROR_FACTOR if asks_for_care(everything) else error_rate
    schema = find_schema(request)
    text, reask = row_text(request, prompt)
    if schema is not None:
        content = answer_schema(schema, text, seed=seed, error_rate=rate, invalid=INVALID_TRIGGER in everything and not reask)
    else:
        fmt = request.get("response_format")
        json_mode = (isinstance(fmt, dict) and fmt.get("type") in ("json_object", "json_schema")) or "json" in everything.lower()
        content = plain_answer(text, seed=seed, json_mode=json_mode, error_rate=rate)
        if INVALID_TRIGGER in everything and not reask and json_mode:
            content = "I think it is fine, more or less."
    limit = request.get("max_completion_tokens") or request.get("max_tokens")
    if isinstance(limit, int) and not isinstance(limit, bool) and estimate_tokens(content) > limit:
        return content[: max(0, limit) * CHARS_PER_TOKEN], "length"
    return content, "stop"
