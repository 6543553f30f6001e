"""Write the app's demo sheets, seeded, so running it again rewrites the same files byte for byte:

    python core/data/make_demo.py

- demo_arithmetic.csv: 300 arithmetic questions with exact answers, the seed article's shape:
  integers 1..100, two or three operators from + - x, with 'x' written for multiplication.
- demo_reviews.csv: 200 short product reviews, about half English and half Chinese, labelled by
  what they say (sentiment, the rating and date they mention, whether they recommend the product).
  Most are plain, so the simulated model's lexicon gets them right; a few are sarcastic or mixed
  (TRICKY), as real reviews are, so accuracy and a confusion matrix show real mistakes.
"""

from __future__ import annotations

import csv
import datetime
import random
import sys
from collections.abc import Sequence
from pathlib import Path

ROWS = 300
SEED = 20240601
OUT = Path(__file__).with_name("demo_arithmetic.csv")
REVIEWS_OUT = Path(__file__).with_name("demo_reviews.csv")


def value(numbers: list[int], ops: list[str]) -> int:
    """x before + and -, left to right. Written apart from the simulator's parser on purpose:
    the tests check one against the other."""
    terms, signs = [numbers[0]], [1]
    for op, n in zip(ops, numbers[1:]):
        if op == "x":
            terms[-1] *= n
        else:
            terms.append(n)
            signs.append(1 if op == "+" else -1)
    return sum(s * t for s, t in zip(signs, terms))


def make_rows(rows: int = ROWS, seed: int = SEED) -> list[tuple[int, str, int]]:
    rng = random.Random(seed)
    out = []
    for i in range(1, rows + 1):
        ops = [rng.choice("+-x") for _ in range(rng.choice((2, 3)))]
        numbers = [rng.randint(1, 100) for _ in range(len(ops) + 1)]
        question = str(numbers[0]) + "".join(f" {op} {n}" for op, n in zip(ops, numbers[1:]))
        out.append((i, question, value(numbers, ops)))
    return out


# --- product reviews ------------------------------------------------------------------------------

REVIEWS = 200
REVIEW_SEED = 20240915
REVIEW_COLUMNS = ("id", "lang", "product", "review", "sentiment", "rating", "date", "recommend")

PRODUCTS = {
    "en": (
        "wireless earbuds",
        "electric kettle",
        "running shoes",
        "phone case",
        "desk lamp",
        "backpack",
        "blender",
        "yoga mat",
        "office chair",
        "water bottle",
        "e-reader",
        "coffee grinder",
    ),
    "zh": ("蓝牙耳机", "电热水壶", "跑鞋", "手机壳", "台灯", "双肩包", "榨汁机", "瑜伽垫", "办公椅", "保温杯", "电子书阅读器", "磨豆机"),
}
# What people say, by the sentiment a reader would label it with.
SAYINGS = {
    ("en", "positive"): (
        "Works perfectly and the build quality is excellent.",
        "Really happy with this {p}.",
        "Great quality for the price.",
        "Sturdy, fast and easy to use.",
        "Exactly what I needed, love it.",
        "Comfortable and looks beautiful.",
        "Better than I expected, very impressed.",
        "The {p} is solid and reliable.",
        "Set up in minutes, no problems so far.",
        "My second one, still the best {p} I have owned.",
        "Not cheap, but worth every penny.",
        "Well made and pleasant to use. Very pleased.",
    ),
    ("en", "negative"): (
        "Stopped working after two weeks.",
        "Cheap plastic, it cracked on the first day.",
        "Very disappointed, the {p} feels flimsy.",
        "Arrived broken and support was useless.",
        "The finish is poor and it feels cheap.",
        "Waste of money.",
        "Looks used, scratched all over.",
        "The {p} is awful, I returned it.",
        "Not as described and the colour is wrong.",
        "Terrible quality, it failed within a month.",
        "Uncomfortable after ten minutes, not good at all.",
        "One part broke and nobody answered my emails.",
    ),
    ("en", "neutral"): (
        "It does the job.",
        "Arrived on time. Average {p}, nothing special.",
        "It's okay for the price.",
        "Some parts are good, some are bad.",
        "The colour is a bit different from the photos.",
        "Average quality, average price.",
        "Haven't used the {p} much yet.",
        "It is a {p}. It holds what it should.",
        "Smaller than I thought, otherwise as pictured.",
    ),
    ("zh", "positive"): (
        "质量很好，非常满意。",
        "做工精致，用起来很顺手。",
        "物流很快，包装完好，东西不错。",
        "性价比很高，值得购买。",
        "细节到位，品质给力。",
        "用了一个月，没毛病，好评。",
        "颜色漂亮，用着舒服。",
        "这个{p}比想象中好用。",
        "第二次买了，还是很满意。",
        "价格实惠，质量靠谱。",
        "外观漂亮，做工结实。",
    ),
    ("zh", "negative"): (
        "质量太差了，用了两天就坏了。",
        "做工粗糙，很失望。",
        "客服态度差，申请退货了。",
        "有股怪味，用着难受。",
        "收到就有裂痕，差评。",
        "完全不值这个价。",
        "用了不到一个月就坏了，太差了。",
        "和描述不一样，后悔买了。",
        "这个{p}用了一周就出故障。",
        "味道很大，不满意。",
        "到手有划痕，垃圾产品。",
    ),
    ("zh", "neutral"): (
        "中规中矩，没什么惊艳的。",
        "东西一般，价格也一般。",
        "还行吧，和描述差不多。",
        "收到了，还没开始用。",
        "有好有坏，看个人需求。",
        "这个{p}就是普通的{p}。",
        "比想象的小一点，其他和图片一样。",
        "凑合能用。",
    ),
}
# Sarcastic or mixed: what a reader labels them is not what a word list reads.
TRICKY = {
    "en": (
        ("negative", "Great, it broke after one day."),
        ("negative", "Oh wonderful, another {p} that stopped working in a week."),
        ("negative", "I wanted to love it, I really did."),
        ("negative", "Perfect if you enjoy waiting three weeks for delivery."),
        ("positive", "I was worried it would be flimsy, it is not."),
        ("neutral", "Love the colour, hate the size."),
    ),
    "zh": (
        ("negative", "太好了，用一次就坏了。"),
        ("negative", "真是好产品，三天就没电了。"),
        ("positive", "本来想给差评的，结果用着还挺好。"),
        ("negative", "说好的包邮，结果还收了运费。"),
        ("neutral", "外观很好，但是有点贵，价格要是便宜点就好了。"),
    ),
}
RATING_SAYINGS = {
    "en": ("{n}/5.", "{n} out of 5.", "{n} stars.", "{w} stars.", "Rating: {n}."),
    "zh": ("{n}星。", "{z}星。", "打{n}分。", "给{n}分。"),
}
EN_NUMBERS = ("zero", "one", "two", "three", "four", "five")
ZH_NUMBERS = "零一二三四五"
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December")
DATE_SAYINGS = {
    "en": ("Bought it on {M} {d}, {y}.", "Ordered {iso}.", "Arrived {d} {M} {y}."),
    "zh": ("{y}年{m}月{d}日买的。", "{y}/{m}/{d}下单。", "{y}年{m}月{d}日收到。"),
}
RECOMMEND_SAYINGS = {
    ("en", True): ("Would recommend.", "Highly recommend it!"),
    ("en", False): ("Would not recommend.", "I don't recommend it."),
    ("zh", True): ("推荐购买！", "推荐给大家。"),
    ("zh", False): ("不推荐。", "不会推荐给朋友。"),
}
STARS = {"positive": (4, 5), "negative": (1, 2), "neutral": (3,)}


def make_reviews(rows: int = REVIEWS, seed: int = REVIEW_SEED) -> list[tuple[object, ...]]:
    """(id, lang, product, review, sentiment, rating, date, recommend) rows; rating and date are ""
    where the review names none; recommend is what the review says, else whether it is positive."""
    rng = random.Random(seed)
    out: list[tuple[object, ...]] = []
    for i in range(1, rows + 1):
        lang = "en" if i % 2 else "zh"
        product = rng.choice(PRODUCTS[lang])
        tricky = rng.random() < 0.09
        if tricky:
            label, first = rng.choice(TRICKY[lang])
            parts = [first.format(p=product)]
        else:
            label = rng.choices(("positive", "negative", "neutral"), weights=(45, 35, 20))[0]
            sayings = SAYINGS[(lang, label)]
            parts = [s.format(p=product) for s in rng.sample(sayings, rng.choice((1, 2)))]
        rating: object = ""
        if rng.random() < 0.5:
            rating = rng.choice(STARS[label])
            forms = RATING_SAYINGS[lang][:1] if tricky else RATING_SAYINGS[lang]  # words would tip a tricky one
            parts.append(rng.choice(forms).format(n=rating, w=EN_NUMBERS[int(rating)].capitalize(), z=ZH_NUMBERS[int(rating)]))
        date = ""
        if rng.random() < 0.4:
            day = datetime.date(2024, 1, 1) + datetime.timedelta(days=rng.randrange(366))
            date = day.isoformat()
            form = rng.choice(DATE_SAYINGS[lang])
            parts.insert(0 if rng.random() < 0.5 else len(parts), form.format(M=MONTHS[day.month - 1], d=day.day, y=day.year, m=day.month, iso=date))
        recommend = label == "positive"
        if not tricky and label != "neutral" and rng.random() < 0.3:
            parts.append(rng.choice(RECOMMEND_SAYINGS[(lang, recommend)]))
        review = ("" if lang == "zh" else " ").join(parts)
        out.append((i, lang, product, review, label, rating, date, "yes" if recommend else "no"))
    return out


def write(path: Path, header: tuple[str, ...], rows: Sequence[Sequence[object]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    print(f"wrote {len(rows)} rows to {path}")


def main(path: Path = OUT, reviews_path: Path = REVIEWS_OUT) -> int:
    write(path, ("id", "question", "answer"), make_rows())
    write(reviews_path, REVIEW_COLUMNS, make_reviews())
    return 0


if __name__ == "__main__":
    sys.exit(main())
