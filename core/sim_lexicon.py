"""The simulated model's sense of tone: a small English and Chinese word list with negation and
"but" handling, good enough for short product reviews and wrong where a lexicon is (sarcasm, irony).

    polarity("Not bad at all, but the battery died after a week.")  # -> -1.0: the clause after "but" weighs double

Rules (the README links to `core/sim_fields.py`, which uses these):
- each positive word counts +1, each negative word -1; longer phrases are matched first, so
  "not worth" or 不错 count once as what they are;
- a negator ("not", "never", "no", any "n't", ...; 不 没 没有 别 并不 ...) up to three English words
  or two characters before a word flips it ("not good" is negative, "not bad" positive);
- words after a contrast ("but", "however", "though"; 但是 不过 可是 然而 ...) count double;
- the sum is the polarity: above zero positive, below zero negative, zero neutral.
"""

from __future__ import annotations

import re

__all__ = ["polarity", "sentiment", "negated_near", "POSITIVE_WORDS", "NEGATIVE_WORDS", "NEGATORS"]

POSITIVE_WORDS = frozenset(
    """
good great excellent amazing awesome love loved loves lovely perfect perfectly fantastic wonderful happy
pleased satisfied recommend recommended best nice solid sturdy comfortable fast reliable worth beautiful
impressive impressed superb brilliant favorite favourite works durable smooth easy quiet bright crisp
glad enjoy enjoyed helpful excellently flawless outstanding fine
""".split()
)
NEGATIVE_WORDS = frozenset(
    """
bad terrible awful horrible poor worst hate hated broke broken useless disappointed disappointing
disappointment waste cheap flimsy slow refund return returned returning defective faulty junk garbage
rubbish died dead stopped leaks leaked leaking cracked noisy loud uncomfortable annoying fails failed
failure unreliable overpriced problem problems issue issues scratched wrong missing lousy mediocre boring dull
bland flawed regret
""".split()
)
# Phrases first: what they mean as a whole, not word by word. Their own negation is built in.
_EN_PHRASES = {
    "not worth": -1,
    "waste of money": -1,
    "fell apart": -1,
    "stopped working": -1,
    "does the job": 0,
    "not as described": -1,
    "too small": -1,
    "too big": -1,
    "falls apart": -1,
    "no complaints": 1,
    "no problems": 1,
    "no issues": 1,
    "no problem": 1,
    "can't complain": 1,
    "cannot complain": 1,
    "money back": -1,
    "five stars": 1,
    "one star": -1,
    "highly recommend": 1,
}
NEGATORS = frozenset("not no never nothing hardly barely neither nor without cannot".split())
_CONTRAST_EN = frozenset("but however though although yet".split())

# Chinese: matched as substrings, longest first; compounds with 不/没 are words of their own.
_ZH_WORDS = {
    # positive
    "好": 1,
    "很好": 1,
    "不错": 1,
    "满意": 1,
    "喜欢": 1,
    "推荐": 1,
    "完美": 1,
    "值得": 1,
    "划算": 1,
    "好用": 1,
    "惊喜": 1,
    "超值": 1,
    "漂亮": 1,
    "结实": 1,
    "舒服": 1,
    "舒适": 1,
    "流畅": 1,
    "好评": 1,
    "快": 1,
    "清晰": 1,
    "耐用": 1,
    "给力": 1,
    "棒": 1,
    "优秀": 1,
    "实惠": 1,
    "靠谱": 1,
    "没问题": 1,
    "没毛病": 1,
    "物美价廉": 1,
    "五星": 1,
    "回购": 1,
    "赞": 1,
    "开心": 1,
    # negative
    "差": -1,
    "很差": -1,
    "太差": -1,
    "不好": -1,
    "不行": -1,
    "失望": -1,
    "后悔": -1,
    "坏": -1,
    "坏了": -1,
    "退货": -1,
    "退款": -1,
    "垃圾": -1,
    "难用": -1,
    "慢": -1,
    "卡": -1,
    "漏": -1,
    "破": -1,
    "裂": -1,
    "不满意": -1,
    "不推荐": -1,
    "不值": -1,
    "浪费": -1,
    "差评": -1,
    "故障": -1,
    "问题": -1,
    "吵": -1,
    "难受": -1,
    "假货": -1,
    "缩水": -1,
    "掉色": -1,
    "生气": -1,
    "糟糕": -1,
    "坑": -1,
    "一星": -1,
    # neutral words that must not be read as parts of others
    "一般": 0,
    "还行": 0,
    "凑合": 0,
    "中规中矩": 0,
    "好坏": 0,
    "好像": 0,
    "正好": 0,
    "刚好": 0,
    "只好": 0,
    "好久": 0,
    "快递": 0,
    "差不多": 0,
    "卡片": 0,
    "问题不大": 0,
    "特别": 0,
}
_ZH_ORDER = sorted(_ZH_WORDS, key=len, reverse=True)
_ZH_NEGATORS = ("并不", "没有", "不", "没")  # not 别 or 无: 特别好 and 无线 are no negations
_ZH_CONTRAST = ("但是", "不过", "可是", "然而", "但", "却")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_EN_TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)?")
_EN_TOKEN_OR_STOP = re.compile(r"[a-z]+(?:'[a-z]+)?|[.,;:!?]")
_CLAUSE_ENDS = frozenset(".,;:!?")
_CONTRAST_WEIGHT = 2.0


def _is_negator(token: str) -> bool:
    return token in NEGATORS or token.endswith("n't")


def _english(text: str) -> float:
    # Punctuation stays as a token of its own: a negation ends with its clause ("Not cheap, but worth it").
    lowered = " ".join(_EN_TOKEN_OR_STOP.findall(text.lower().replace("\u2019", "'")))
    score = 0.0
    weight = 1.0
    # Phrases are replaced by a marker token carrying their score, so their words count once.
    for phrase, value in sorted(_EN_PHRASES.items(), key=lambda p: -len(p[0])):
        marker = {1: " zzpos ", -1: " zzneg ", 0: " zzzero "}[value]
        lowered = re.sub(rf"\b{re.escape(phrase)}\b", marker, lowered)
    tokens = lowered.split()
    for i, token in enumerate(tokens):
        if token in _CONTRAST_EN:
            weight = _CONTRAST_WEIGHT
            continue
        value = 1 if token in POSITIVE_WORDS or token == "zzpos" else -1 if token in NEGATIVE_WORDS or token == "zzneg" else 0
        if value == 0:
            continue
        window = tokens[max(0, i - 3) : i]
        for stop in range(len(window) - 1, -1, -1):  # only the words after the last clause boundary
            if window[stop] in _CLAUSE_ENDS or window[stop] in _CONTRAST_EN:
                window = window[stop + 1 :]
                break
        if token not in ("zzpos", "zzneg") and any(_is_negator(t) for t in window):
            value = -value
        score += value * weight
    return score


def _chinese(text: str) -> float:
    score = 0.0
    weight = 1.0
    i = 0
    while i < len(text):
        contrast = next((c for c in _ZH_CONTRAST if text.startswith(c, i)), None)
        # 不过 is a contrast only where it is not part of a word in the list (不过 never is).
        if contrast is not None:
            weight = _CONTRAST_WEIGHT
            i += len(contrast)
            continue
        word = next((w for w in _ZH_ORDER if text.startswith(w, i)), None)
        if word is None:
            i += 1
            continue
        value = float(_ZH_WORDS[word])
        before = text[max(0, i - 2) : i]
        if value and not word.startswith(("不", "没")) and any(n in before for n in _ZH_NEGATORS):
            value = -value
        score += value * weight
        i += len(word)
    return score


def polarity(text: str) -> float:
    """The summed score of the English and the Chinese words in text (see the module's rules)."""
    return _english(text) + (_chinese(text) if _CJK.search(text) else 0.0)


def sentiment(text: str) -> int:
    """+1 positive, -1 negative, 0 neutral."""
    score = polarity(text)
    return 1 if score > 0 else -1 if score < 0 else 0


def negated_near(text: str, start: int) -> bool:
    """Whether a negator stands just before position `start` of text: within three English words,
    or two characters of Chinese (不推荐, 没有推荐)."""
    before = text[:start]
    before = before[max(before.rfind(c) for c in ".!?;,。！？；，\n") + 1 :]  # within its own clause
    if any(n in before[-3:] for n in _ZH_NEGATORS):
        return True
    words = _EN_TOKEN.findall(before.lower().replace("\u2019", "'"))[-3:]
    return any(_is_negator(w) for w in words)
