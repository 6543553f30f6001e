"""The simulated model itself: what it answers to a chat request. It finds an arithmetic expression
in the prompt and answers it exactly (no eval: a two-level precedence parser), wrong on purpose for a
deterministic fraction of questions. What it answers to anything else (schemas, classes, plain
text) is `sim_fields`; auth, rate limits and faults are the provider's: `simulator`.

A prompt that asks for care (any of CARE_PHRASES, in the system prompt or the user message: "step
by step", "carefully", "double-check", "仔细" ...) is wrong CARE_ERROR_FACTOR times as often: on
exactly those questions whose draw falls under the lower rate, so the careful prompt's mistakes are
a subset of the terse one's. That is the seed article's experiment (one prompt 85% right, a better
one 98%), made deterministic so that the Compare page's demo shows the same result every time.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

__all__ = [
    "find_expression",
    "evaluate",
    "format_number",
    "is_deliberately_wrong",
    "answer_content",
    "estimate_tokens",
    "read_messages",
    "completion",
    "asks_for_care",
    "CARE_PHRASES",
    "CARE_ERROR_FACTOR",
]

# Operands are non-negative integers. A number glued to a decimal point ("3.5") is not an operand,
# so "3.5 + 2" is left alone rather than answered as "5 + 2". Spaces and tabs only between terms:
# a numbered list ("1.\n- 2 apples") must not read as a subtraction across lines.
_NUM = r"\d+(?!\.?\d)"
_OP = r"[+\-\u2212xX*\u00d7/\u00f7]"
_EXPR = re.compile(rf"(?<![\d.]){_NUM}(?:[ \t]*{_OP}[ \t]*{_NUM})+")
_TOKEN = re.compile(rf"\d+|{_OP}")
_CANONICAL_OP = {"x": "*", "X": "*", "\u00d7": "*", "*": "*", "/": "/", "\u00f7": "/", "+": "+", "-": "-", "\u2212": "-"}

CHARS_PER_TOKEN = 4

# Words that make the simulated model take care (matched case-insensitively anywhere in the
# messages), and how much rarer its mistakes then are.
CARE_PHRASES = ("careful", "step by step", "double-check", "double check", "check your", "仔细", "认真", "一步一步", "逐步")
CARE_ERROR_FACTOR = 0.2


def asks_for_care(text: str) -> bool:
    lowered = text.lower()
    return any(phrase in lowered for phrase in CARE_PHRASES)


def estimate_tokens(text: str) -> int:
    """Rough token count with no tokenizer: 4 characters a token, at least one."""
    return max(1, math.ceil(len(text) / CHARS_PER_TOKEN))


def _tokens(expression: str) -> list[str]:
    return [t if t[0].isdigit() else _CANONICAL_OP[t] for t in _TOKEN.findall(expression)]


def evaluate(expression: str) -> Fraction:
    """Exact value with the usual precedence (x and / before + and -, left to right).
    Raises ZeroDivisionError or ValueError for something that is not a well-formed expression."""
    tokens = _tokens(expression)
    if len(tokens) < 3 or len(tokens) % 2 == 0:
        raise ValueError(f"not an expression: {expression!r}")
    total = Fraction(0)
    sign = 1
    term = Fraction(int(tokens[0]))
    for i in range(1, len(tokens), 2):
        op, operand = tokens[i], Fraction(int(tokens[i + 1]))
        if op == "*":
            term *= operand
        elif op == "/":
            term /= operand  # ZeroDivisionError propagates: the caller skips this candidate
        else:
            total += sign * term
            sign = 1 if op == "+" else -1
            term = operand
    return total + sign * term


def find_expression(text: str) -> tuple[str, Fraction] | None:
    """The longest computable expression in text (first of equals), with its value."""
    best: tuple[str, Fraction] | None = None
    for match in _EXPR.finditer(text):
        candidate = match.group(0).strip()
        if best is not None and len(candidate) <= len(best[0]):
            continue
        try:
            best = (candidate, evaluate(candidate))
        except (ZeroDivisionError, ValueError):
            continue
    return best


def format_number(value: Fraction) -> str:
    """An integer when whole, else rounded to 4 decimals without trailing zeros; valid JSON too."""
    if value.denominator == 1:
        return str(value.numerator)
    rounded = (Decimal(value.numerator) / Decimal(value.denominator)).quantize(Decimal("0.0001"), ROUND_HALF_UP)
    text = format(rounded.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def _digest(seed: int, key: str) -> bytes:
    return hashlib.blake2b(f"{seed}\x00{key}".encode(), digest_size=16).digest()


def _canonical(expression: str) -> str:
    return "".join(_tokens(expression))


def is_deliberately_wrong(seed: int, expression: str, error_rate: float) -> bool:
    """Hash-based, not RNG-based: asking the same question again gets the same (wrong) answer,
    whatever the order of requests, and "37+12x5" and "37 + 12 × 5" count as the same question."""
    if error_rate <= 0:
        return False
    if error_rate >= 1:
        return True
    draw = int.from_bytes(_digest(seed, _canonical(expression))[:8], "big") / 2**64
    return draw < error_rate


def _wrong_offset(seed: int, expression: str) -> int:
    byte = _digest(seed, _canonical(expression))[8]
    magnitude = 1 + byte % 3  # small and never zero, like a model that slipped on one step
    return magnitude if byte & 0x80 else -magnitude


def answer_content(prompt: str, *, json_mode: bool, seed: int, error_rate: float) -> str:
    """What the simulated model says to `prompt` (the last user message)."""
    found = find_expression(prompt)
    if found is None:
        ref = hashlib.blake2b(prompt.encode(), digest_size=2).hexdigest()
        sentence = f"Simulated answer (ref {ref}): {' '.join(prompt.split())[:40]}"
        return json.dumps({"answer": sentence}, ensure_ascii=False) if json_mode else sentence
    expression, value = found
    if is_deliberately_wrong(seed, expression, error_rate):
        value += _wrong_offset(seed, expression)
    number = format_number(value)
    if json_mode:
        return f'{{"expression": {json.dumps(expression, ensure_ascii=False)}, "infer": {number}}}'
    return number


def _text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: [{"type": "text", "text": ...}, ...]
        return "\n".join(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


def read_messages(messages: list[dict[str, object]]) -> tuple[str, str]:
    """(the last user message, the text of all messages): the model answers the first and
    looks for triggers ("JSON", SIMULATE_*) in the second."""
    texts = [_text(m.get("content")) for m in messages]
    prompt = next((t for m, t in zip(reversed(messages), reversed(texts)) if m.get("role") == "user"), texts[-1])
    return prompt, "\n".join(texts)


def completion(ident: str, model: str, content: str, finish_reason: str, prompt_tokens: int) -> dict[str, object]:
    """A chat.completion object as OpenAI sends it, so the SDK parses it into `ChatCompletion`."""
    completion_tokens = math.ceil(len(content) / CHARS_PER_TOKEN)
    return {
        "id": ident,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "fp_simulated",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content, "refusal": None}, "logprobs": None, "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "total_tokens": prompt_tokens + completion_tokens},
    }
