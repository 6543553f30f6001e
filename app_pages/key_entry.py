"""Pasting API keys, as the Keys page and the Compare page's variants do it: a box whose keys
are taken out of it at once (it never shows a key again), the keys then shown masked only, each
removable. The keys live in this tab's session memory; they are never written anywhere."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import streamlit as st

import core
from app_pages.i18n import t


def take_pasted(text_key: str) -> list[str]:
    """The keys typed in a box, and the box emptied."""
    new = core.parse_keys(st.session_state.get(text_key, ""))
    st.session_state[text_key] = ""
    return new


def paste_box(
    text_key: str,
    button_key: str,
    on_add: Callable[..., None],
    *,
    args: tuple = (),
    label: str | None = None,
    help_text: str | None = None,
    height: int = 110,
    on_change: bool = False,
) -> None:
    """A box to paste keys into, one per line, and its Add button (whose callback takes them);
    with `on_change`, keys are taken as soon as the box is left, Add or not."""
    st.text_area(
        label or t("keys.paste"), key=text_key, height=height, placeholder="sk-...\nsk-...", help=help_text or t("keys.paste_help"),
        on_change=on_add if on_change else None, args=args if on_change else None,
    )  # fmt: skip
    st.button(t("keys.add"), key=button_key, on_click=on_add, args=args, icon=":material/add:")


def remove_menu(container, keys: Sequence[str], on_remove: Callable[..., None], key_prefix: str, *, args: tuple = ()) -> None:  # type: ignore[no-untyped-def]
    """A popover listing the keys masked, one button each to remove it."""
    with container.popover(t("keys.remove"), icon=":material/delete:"):
        for i, key in enumerate(keys):
            st.button(core.mask_key(key), key=f"{key_prefix}_{i}", on_click=on_remove, args=(*args, key))


def masked(keys: Sequence[str]) -> str:
    """Keys as they may be shown: masked, comma-separated."""
    return ", ".join(core.mask_key(k) for k in keys)
