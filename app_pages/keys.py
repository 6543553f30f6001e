"""Keys and limits: a provider preset, pasted keys (masked once added), limits per key, and a
"Test keys" button. With no key at all the simulated provider is used."""

from __future__ import annotations

import functools

import pandas as pd
import streamlit as st

import core
from app_pages.common import plain, pool, preset_pool, presets_usable, provider_label, runner, server_keys, show_input_error, worded_choice
from app_pages.i18n import language, pace_text, t
from app_pages.key_entry import paste_box, remove_menu, take_pasted
from core import constants as C

KEEP = "session"

st.title(t("keys.title"))
st.caption(t("keys.intro"))


def apply_preset() -> None:
    preset = core.PROVIDER_PRESETS[st.session_state["provider"]]
    st.session_state["base_url"] = preset.base_url
    st.session_state["model"] = preset.model
    # A ceiling set for one provider means nothing for another: back to Auto.
    st.session_state["rpm"] = None


def add_keys() -> None:
    new = take_pasted("keys_text")  # the box never shows a key again
    st.session_state["user_keys"] = list(dict.fromkeys([*st.session_state["user_keys"], *new]))
    if new and st.session_state["provider"] == core.SIMULATED_PROVIDER:
        st.session_state["provider"] = "OpenAI"
        apply_preset()


def remove_key(key: str) -> None:
    st.session_state["user_keys"] = [k for k in st.session_state["user_keys"] if k != key]


provider_col, url_col, model_col = st.columns([3, 5, 3])  # the longest preset name fits
worded_choice(
    provider_col.selectbox, t("keys.provider"), list(core.PROVIDER_PRESETS), key="provider",
    format_func=functools.partial(provider_label, lang=language()), on_change=apply_preset, persist_state=KEEP,
)  # fmt: skip
url_col.text_input(t("keys.base_url"), key="base_url", persist_state=KEEP, disabled=st.session_state["provider"] == core.SIMULATED_PROVIDER)
model_col.text_input(t("keys.model"), key="model", persist_state=KEEP, disabled=st.session_state["provider"] == core.SIMULATED_PROVIDER)

keys_col, limits_col = st.columns([3, 2], gap="large")
with keys_col:
    paste_box("keys_text", "add_keys", add_keys)
with limits_col:
    # Empty is Auto (the pace is learnt); a number is a ceiling.
    st.number_input(
        t("keys.rpm"),
        min_value=1,
        max_value=C.FORM_MAX_RPM,
        step=10,
        value=None,
        placeholder=t("keys.rpm_auto"),
        key="rpm",
        persist_state=KEEP,
        help=t("keys.rpm_help"),
    )
    st.number_input(t("keys.tpm"), min_value=0, max_value=C.FORM_MAX_TPM, step=1000, key="tpm", persist_state=KEEP, help=t("keys.tpm_help"))
    st.checkbox(t("keys.shared"), key="shared_limit", persist_state=KEEP, help=t("keys.shared_help"))


def test_keys() -> None:
    """Test what is in the box too: keys typed but not yet added are added first."""
    if core.parse_keys(st.session_state.get("keys_text", "")):
        add_keys()
    st.session_state["test_requested"] = True


try:
    entries, source = pool()
except core.InputError as exc:  # e.g. a provider that needs a key, and none yet
    show_input_error(exc)
    entries, source = [], ""

st.subheader(t("keys.pool"))
if source == core.KeySource.SIMULATED:
    st.info(t("keys.simulated_note", n=len(entries)), icon=":material/science:")
elif source == core.KeySource.PRESET:
    st.success(t("keys.preset_note", n=len(entries), provider=entries[0].provider), icon=":material/lock:")
if source == core.KeySource.SIMULATED:  # what it is and is not, where the user meets it
    with st.container(border=True, key="sim_what"):
        st.markdown(f"**:material/science: {t('sim.what_title')}**")
        st.caption(t("sim.what"))

# The simulated keys are nobody's: "Test keys" never tests them as if they were the user's.
testable = entries if source in (core.KeySource.USER, core.KeySource.PRESET) else []
checks = {c.fingerprint: c for c in st.session_state.get("key_checks", [])}
if st.session_state.pop("test_requested", False):
    if testable:
        with st.spinner(t("keys.testing")):
            found = core.check_keys(testable)
        checks = {c.fingerprint: c for c in found}
        st.session_state["key_checks"] = found
    else:
        st.info(t("keys.nothing_to_test"), icon=":material/info:")

gates = runner().gates
rows, verdicts = [], []
for e in entries:
    view = gates.view(e.info())  # what a run in this process learnt about the key, if one used it
    rpm = t("keys.rpm_auto") if e.rpm is None else f"≤ {e.rpm:,}"
    row = {
        t("keys.col.key"): e.masked,
        t("keys.col.provider"): provider_label(e.provider),
        t("keys.col.model"): e.model,
        t("keys.col.rpm"): rpm,
        t("keys.col.pace"): pace_text(view) if view else "",
    }
    check = checks.get(e.fingerprint) if e in testable else None
    if check is not None:
        diagnosis = core.diagnose(check, e.base_url, e.model)
        row[t("keys.col.test")] = t(f"keys.short.{diagnosis.code}", **diagnosis.params)
        verdicts.append((e, diagnosis))
    else:
        row[t("keys.col.test")] = ""
    rows.append(row)
if rows:
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="key_table")

buttons = st.container(horizontal=True)
buttons.button(t("keys.test"), key="test_keys", on_click=test_keys, icon=":material/network_check:", type="primary", help=t("keys.test_help"))
if source == core.KeySource.USER and st.session_state["user_keys"]:
    remove_menu(buttons, st.session_state["user_keys"], remove_key, "remove_key")

if verdicts:
    # Each verdict in full, where it can be read: the cause, what to do, the provider's words.
    st.subheader(t("keys.verdicts"))
    for e, diagnosis in verdicts:
        good = diagnosis.code in ("ok", "rate_limited")
        lines = [f"**{plain(e.masked)}** · {plain(t(f'keys.why.{diagnosis.code}', **diagnosis.params))}"]
        if not diagnosis.code == "ok":
            lines.append(plain(t("keys.todo", todo=t(f"keys.todo.{diagnosis.code}", **diagnosis.params))))
        if diagnosis.detail:
            said = "keys.network_said" if diagnosis.code in ("dns", "refused", "unreachable") else "keys.provider_said"
            lines.append(plain(t(said, detail=diagnosis.detail)))
        with st.container(key=f"verdict_{e.fingerprint}"):
            (st.success if good else st.error)("  \n".join(lines), icon=":material/check_circle:" if good else ":material/error:")

if preset_pool() and source == core.KeySource.USER:
    st.caption(t("keys.preset_available"))
if server_keys() and not presets_usable():
    st.warning(t("access.preset_needs_access"), icon=":material/lock:")
