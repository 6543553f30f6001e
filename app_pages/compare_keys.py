"""The Compare page's keys. The Keys page holds one provider's keys. A variant (or the judge) on
another provider is sent with keys pasted in its own box on the Compare page: held in this tab's
memory under "cmp_keys" (base URL -> keys), one pool per provider shared by every variant on it,
never stored, and dropped once the comparison they were pasted for has ended."""

from __future__ import annotations

import streamlit as st

import core
from app_pages.common import pool, preset_pool, provider_label, runner, store
from app_pages.i18n import t
from app_pages.key_entry import masked, paste_box, remove_menu, take_pasted


def pasted() -> dict[str, list[str]]:
    return st.session_state.setdefault("cmp_keys", {})


def drop_pasted_keys_of_ended_comparison() -> None:
    owner = st.session_state.get("cmp_keys_for")
    if not owner:
        return
    progress = core.comparison_progress(store(), owner, runner())
    if progress is None or not progress.live:
        st.session_state.pop("cmp_keys", None)
        st.session_state.pop("cmp_keys_for", None)


def compare_keys() -> tuple[list[core.KeyEntry], set[str], str, core.InputError | None]:
    """The Keys page's keys (and the server's preset ones the user may use), each once, then the
    keys pasted here for other providers; the simulated provider needs none. A variant picks its
    provider among those. Also: the providers the Keys page serves, which need no box here."""
    problem = None
    try:
        entries, source = pool()
    except core.InputError as exc:  # e.g. a provider that needs a key, and none yet: the simulator still works
        entries, source, problem = [], "", exc
    extra = preset_pool() if source == core.KeySource.USER else []
    own = core.compare_pool(entries, extra)
    boxes = [core.provider_pool(url, keys) for url, keys in pasted().items() if keys]
    return core.compare_pool(own, *boxes), {k.base_url.rstrip("/") for k in own}, str(source), problem


def choice_label(c: core.ProviderChoice) -> str:
    if c.simulated:
        return provider_label(core.SIMULATED_PROVIDER)
    if c.n_keys == 0:
        return t("compare.provider_no_key", provider=provider_label(c.provider)) if c.needs_key else provider_label(c.provider)
    return t("compare.provider_key" if c.n_keys == 1 else "compare.provider_keys", provider=provider_label(c.provider), n=c.n_keys)


def add_pasted(prefix: str, url: str) -> None:
    new = take_pasted(f"{prefix}_keys_text")
    if new:
        pasted()[url] = list(dict.fromkeys([*pasted().get(url, []), *new]))


def remove_pasted(url: str, key: str) -> None:
    left = [k for k in pasted().get(url, []) if k != key]
    if left:
        pasted()[url] = left
    else:
        pasted().pop(url, None)


def own_keys_box(prefix: str, choice: core.ProviderChoice, keys_page_urls: set[str]) -> None:
    """Keys for a provider the Keys page does not hold: pasted here, masked at once."""
    if choice.simulated or choice.id in keys_page_urls or not (choice.needs_key or choice.id in pasted()):
        return
    name = provider_label(choice.provider)
    mine = pasted().get(choice.id, [])
    with st.container(key=f"{prefix}_own_keys"):
        paste_box(
            f"{prefix}_keys_text", f"{prefix}_add_keys", add_pasted, args=(prefix, choice.id), label=t("compare.keys_paste", provider=name),
            help_text=t("compare.keys_paste_help"), height=68, on_change=True,
        )  # fmt: skip
        if mine:
            row = st.container(horizontal=True, vertical_alignment="center")
            row.caption(t("compare.keys_pasted", n=len(mine), keys=masked(mine), provider=name))
            remove_menu(row, mine, remove_pasted, f"{prefix}_remove_key", args=(choice.id,))
        else:
            st.warning(t("compare.keys_needed", provider=name), icon=":material/key:")


def keyless_providers(record: core.ComparisonRecord, keys: list[core.KeyEntry], choices: dict[str, core.ProviderChoice]) -> list[core.ProviderChoice]:
    """The real providers of a comparison's variants and judge that this tab has no key for."""
    wanted = {v.base_url.rstrip("/"): v.provider for v in record.variants if not v.simulated}
    if record.judge is not None and not record.judge.simulated:
        wanted.setdefault(record.judge.base_url.rstrip("/"), record.judge.provider)
    have = {k.base_url.rstrip("/") for k in keys}
    out = []
    for url, provider in wanted.items():
        known = choices.get(url)
        if url not in have and (known is None or known.needs_key):
            out.append(core.ProviderChoice(provider, url, "-", needs_key=True))
    return out
