"""The pieces of a comparison before anything runs: a Variant (a prompt and a model), the grid of
templates x models, and which rows every variant gets (all, the first N, or N at random with a
seed, so that every variant sees the same rows).

    variants = grid(["Compute {q}.", "Compute {q} step by step."], ["gpt-4o-mini", "gpt-4o"])
    [v.name for v in variants]    # ['t1/gpt-4o-mini', 't1/gpt-4o', 't2/gpt-4o-mini', 't2/gpt-4o']
    RowSelection("random", 50, seed=7).rows(1_000)   # the same 50 row numbers every time
"""

from __future__ import annotations

import dataclasses
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from . import constants as C
from .columns import OutputColumn, check_columns, columns_from_rows, columns_to_rows, text_columns
from .constants import SIMULATED_BASE_URL
from .errors import InputError
from .keys import PROVIDER_PRESETS, SIMULATED_PROVIDER, KeyEntry, ProviderPreset, demo_pool, make_pool
from .spec import RunSpec

__all__ = [
    "Variant", "RowSelection", "ProviderChoice", "grid", "variant_keys", "check_variants", "provider_choices", "compare_pool", "provider_pool",
    "SELECTION_MODES", "MAX_VARIANTS",
]  # fmt: skip

SELECTION_MODES = ("all", "first", "random")
MAX_VARIANTS = 12  # columns side by side a page can still show
DEMO_KEYS = 4


@dataclass(frozen=True)
class Variant:
    """One way of answering the rows: a prompt (+ system prompt) on a provider's model, with its
    own temperature, max tokens and output columns. Keys are not part of it: they are never stored.
    `json_fields` (a comparison stored before output columns, `--json-fields`) become text columns."""

    name: str
    template: str
    system: str | None = None
    provider: str = SIMULATED_PROVIDER
    base_url: str = SIMULATED_BASE_URL
    model: str = "simulated"
    temperature: float | None = C.DEFAULT_TEMPERATURE
    max_tokens: int | None = C.DEFAULT_MAX_TOKENS
    columns: tuple[OutputColumn, ...] = ()
    json_fields: tuple[str, ...] = ()
    price_in: float | None = None
    price_out: float | None = None

    def __post_init__(self) -> None:
        name = " ".join(str(self.name).split())
        if not name:
            raise InputError("Give every variant a name.", "variant_no_name")
        object.__setattr__(self, "name", name)
        fields = [f.strip() for f in self.json_fields if f and f.strip()]
        columns = tuple(self.columns)
        if not all(isinstance(c, OutputColumn) for c in columns):
            columns = columns_from_rows(c.to_dict() if isinstance(c, OutputColumn) else c for c in columns)
        object.__setattr__(self, "columns", check_columns(columns) if columns or not fields else text_columns(fields))
        object.__setattr__(self, "json_fields", ())
        object.__setattr__(self, "system", self.system or None)

    @property
    def simulated(self) -> bool:
        return self.base_url.rstrip("/") == SIMULATED_BASE_URL

    def spec(self, base: RunSpec) -> RunSpec:
        """The run settings of this variant: the comparison's (label, concurrency, attempts,
        cache) with this variant's prompt, model parameters and output columns."""
        free = self.simulated  # the simulated provider costs nothing, whatever price was set
        return base.replace(
            template=self.template, system=self.system, temperature=self.temperature, max_tokens=self.max_tokens,
            columns=self.columns, json_fields=(),
            label_field=base.label_field if base.label_field in {c.name for c in self.columns} else None,
            price_in=None if free else (self.price_in if self.price_in is not None else base.price_in),
            price_out=None if free else (self.price_out if self.price_out is not None else base.price_out),
        )  # fmt: skip

    def request_identity(self, base: RunSpec) -> tuple[Any, ...]:
        """What makes this variant's requests what they are: two variants with the same would send
        identical requests, paid twice while they run side by side."""
        spec = self.spec(base)
        return (
            self.base_url.rstrip("/"), self.model, spec.template, spec.system or "", json.dumps(spec.request_params(), sort_keys=True),
            json.dumps(columns_to_rows(spec.columns), sort_keys=True),
        )  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["columns"] = columns_to_rows(self.columns)
        data["json_fields"] = []
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Variant:
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["json_fields"] = tuple(values.get("json_fields") or ())
        values["columns"] = columns_from_rows(values.get("columns") or ())
        return cls(**values)

    def replace(self, **changes: Any) -> Variant:
        return dataclasses.replace(self, **changes)


def grid(
    templates: Sequence[str],
    models: Sequence[str],
    *,
    systems: Sequence[str | None] | None = None,
    base: Variant | None = None,
    names: Sequence[str] | None = None,
) -> list[Variant]:
    """Every template x every model, templates first. Named after what differs: t1, t2 for
    templates, the model for models, t1/model for both (or `names`, one per template)."""
    templates = [t for t in templates if t and t.strip()]
    models = list(dict.fromkeys(m.strip() for m in models if m and m.strip())) or [(base.model if base else "simulated")]
    if not templates:
        raise InputError("Give at least one prompt template.", "no_templates")
    systems = list(systems) if systems is not None else [base.system if base else None] * len(templates)
    base = base or Variant("base", templates[0])
    labels = list(names) if names else [f"t{i + 1}" for i in range(len(templates))]
    out = []
    for label, template, system in zip(labels, templates, systems):
        for model in models:
            if len(models) == 1:
                name = label
            elif len(templates) == 1 and not names:
                name = model
            else:
                name = f"{label}/{model}"
            out.append(base.replace(name=name, template=template, system=system, model=model))
    return out


def check_variants(variants: Sequence[Variant], base: RunSpec) -> None:
    """Raise InputError for a set of variants that cannot be compared: none, too many, two
    with one name, or two that would send the very same requests."""
    if not variants:
        raise InputError("Add at least one variant to compare.", "no_variants")
    if len(variants) > MAX_VARIANTS:
        raise InputError(f"Compare at most {MAX_VARIANTS} variants at once.", "too_many_variants", n=MAX_VARIANTS)
    names: set[str] = set()
    seen: dict[tuple[Any, ...], str] = {}
    for v in variants:
        if v.name.casefold() in names:
            raise InputError(f"Two variants are called {v.name!r}: give each its own name.", "variant_same_name", name=v.name)
        names.add(v.name.casefold())
        ident = v.request_identity(base)
        if ident in seen:
            raise InputError(
                f"Variants {seen[ident]!r} and {v.name!r} would send the same requests: change the prompt, the model or a setting of one.",
                "variant_same_requests", first=seen[ident], second=v.name,
            )  # fmt: skip
        seen[ident] = v.name


def _preset_at(base_url: str) -> ProviderPreset | None:
    url = base_url.rstrip("/")
    return next((p for p in PROVIDER_PRESETS.values() if p.base_url.rstrip("/") == url), None)


def variant_keys(variant: Variant, keys: Sequence[KeyEntry]) -> list[KeyEntry]:
    """The keys a variant is sent with: those for its provider (base URL), asking for its model.
    The simulated provider needs none, nor a local server (Ollama, vLLM). Two variants on one key
    share its gate, so its limit."""
    url = variant.base_url.rstrip("/")
    mine = [dataclasses.replace(k, model=variant.model) for k in keys if k.base_url.rstrip("/") == url]
    if mine:
        return mine
    if variant.simulated:
        return [dataclasses.replace(k, model=variant.model) for k in demo_pool(DEMO_KEYS)]
    preset = _preset_at(url)
    if preset is not None and not preset.needs_key:
        return make_pool([], provider=preset.label, base_url=url, model=variant.model)
    raise InputError(
        f"Variant {variant.name!r} uses {variant.provider} ({url}), and no key for it was given: paste one in the variant's box, or on the Keys page.",
        "variant_no_keys",
        name=variant.name,
        provider=variant.provider,
    )


def provider_pool(base_url: str, keys: Sequence[str]) -> list[KeyEntry]:
    """Keys pasted for one provider (a preset, by its base URL) as a pool of their own: paced
    Auto, each key on its own gate, asking for the preset's model until a variant asks for its own."""
    preset = _preset_at(base_url)
    return make_pool(list(keys), provider=preset.label if preset else "Custom", base_url=base_url, model=preset.model if preset else "default")


@dataclass(frozen=True)
class ProviderChoice:
    """A provider a variant may be sent to: one the user has keys for (or a local server, or the
    server's preset keys), or the simulated provider, which needs none."""

    provider: str
    base_url: str
    model: str  # the model its keys were added with: a new variant's default
    models: tuple[str, ...] = ()  # models to suggest: the keys' own, then the preset's
    n_keys: int = 0
    needs_key: bool = False  # a provider offered with no key yet: keys are to be pasted for it

    @property
    def simulated(self) -> bool:
        return self.base_url.rstrip("/") == SIMULATED_BASE_URL

    @property
    def id(self) -> str:
        """What a page keeps to remember the choice: its base URL (keys are never kept)."""
        return self.base_url.rstrip("/")


def compare_pool(*pools: Sequence[KeyEntry]) -> list[KeyEntry]:
    """The keys a comparison may use, from several sources in order of precedence (the user's,
    then the server's preset ones): a provider is served by the first pool that has keys for it,
    as the user's own keys win on the Run page; each key once. A variant is then sent with those
    of its provider (`variant_keys`)."""
    seen: dict[str, KeyEntry] = {}
    covered: set[str] = set()
    for pool in pools:
        urls = {k.base_url.rstrip("/") for k in pool}
        for k in pool:
            if k.base_url.rstrip("/") not in covered:
                seen.setdefault(k.fingerprint, k)
        covered |= urls
    return list(seen.values())


def provider_choices(keys: Sequence[KeyEntry], *, offer: bool = False) -> list[ProviderChoice]:
    """The providers a variant may pick, in the order of the keys, then the simulated provider
    (always there, for a demo); with `offer`, then every other preset, whose keys are still to be
    given (`needs_key`; a local server needs none). One choice per base URL: keys of one provider
    are one pool."""
    by_url: dict[str, list[KeyEntry]] = {}
    for k in keys:
        by_url.setdefault(k.base_url.rstrip("/"), []).append(k)
    out = []
    for url, group in by_url.items():
        first = group[0]
        preset = PROVIDER_PRESETS.get(first.provider)
        models = tuple(dict.fromkeys([*(k.model for k in group), *(preset.models if preset else ())]))
        name = SIMULATED_PROVIDER if first.simulated else first.provider
        out.append(ProviderChoice(name, url, first.model, models, len(group)))
    if SIMULATED_BASE_URL not in by_url:
        out.append(ProviderChoice(SIMULATED_PROVIDER, SIMULATED_BASE_URL, "simulated", ("simulated",), 0))
    if offer:
        for p in PROVIDER_PRESETS.values():
            url = p.base_url.rstrip("/")
            if url not in by_url and url != SIMULATED_BASE_URL:
                out.append(ProviderChoice(p.label, url, p.model, tuple(dict.fromkeys([p.model, *p.models])), 0, needs_key=p.needs_key))
    return out


@dataclass(frozen=True)
class RowSelection:
    """Which rows of the table every variant gets, in input order."""

    mode: str = "all"
    n: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if self.mode not in SELECTION_MODES:
            raise InputError(f"Rows: choose one of {', '.join(SELECTION_MODES)}.", "bad_selection")
        if self.mode != "all" and (self.n is None or self.n < 1):
            raise InputError("Choose how many rows to compare on: at least 1.", "selection_n")

    def rows(self, total: int) -> list[int]:
        """0-based row numbers, ascending. A random sample depends on the seed and the table's
        length only, so the same choice on the same table is the same rows."""
        if self.mode == "all" or self.n is None or self.n >= total:
            return list(range(total))
        if self.mode == "first":
            return list(range(self.n))
        return sorted(random.Random(self.seed).sample(range(total), self.n))

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> RowSelection:
        return cls(**json.loads(text))
