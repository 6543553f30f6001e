"""The demo sheets the app and the command line offer with no file of the user's: each one's table, the
prompt that fits it, its label column, and the output columns a columns editor may suggest for it.
The simulated provider (core/sim_fields.py) answers their prompts by documented rules."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["DemoSheet", "DEMO_SHEETS", "DEMO_DIR", "demo_sheet"]

DEMO_DIR = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class DemoSheet:
    key: str  # "arithmetic" | "reviews": also the key of its words on the pages (data.demo.<key>)
    file_name: str
    template: str  # in English; `template_zh` for a page in Chinese (same answers, so the labels still match)
    template_zh: str
    label_column: str
    # Output columns a columns editor may offer for this sheet: name, type ("text", "number", "integer",
    # "boolean", "date", "choice"), description, choices (for "choice"). Names match the label columns.
    columns: tuple[Mapping[str, object], ...] = field(default_factory=tuple)

    @property
    def path(self) -> Path:
        return DEMO_DIR / self.file_name

    def template_in(self, lang: str) -> str:
        return self.template_zh if lang == "zh" else self.template


DEMO_SHEETS: dict[str, DemoSheet] = {
    sheet.key: sheet
    for sheet in (
        DemoSheet(
            "arithmetic",
            "demo_arithmetic.csv",
            "Compute {question}. Reply with the number only.",
            "Compute {question}. Reply with the number only.",  # the numbers are the same in every language
            "answer",
        ),
        DemoSheet(
            "reviews",
            "demo_reviews.csv",
            "Is this review positive, negative or neutral? Answer with one word.\n\nProduct: {product}\nReview: {review}",
            "这条评论的情感是 positive、negative 还是 neutral？只回答其中一个英文词。\n\n商品：{product}\n评论：{review}",
            "sentiment",
            columns=(
                {"name": "sentiment", "type": "choice", "choices": ("positive", "negative", "neutral"), "description": "the review's overall sentiment"},
                {"name": "rating", "type": "integer", "description": "the star rating the review gives, if any"},
                {"name": "date", "type": "date", "description": "the purchase or delivery date the review mentions, if any"},
                {"name": "recommend", "type": "boolean", "description": "whether the reviewer would recommend the product"},
            ),
        ),
    )
}


def demo_sheet(key: str) -> DemoSheet:
    """The demo sheet of that key; an unknown key is the arithmetic one (the classic demo)."""
    return DEMO_SHEETS.get(key, DEMO_SHEETS["arithmetic"])
