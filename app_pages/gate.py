"""The door of a hosted app: the sign-in page (a name and the team's password, or Streamlit's
OIDC sign-in), the user a session acts for, and the sidebar's "signed in as". With access off,
the local default, there is no door and the user is core.LOCAL_USER. The rules (which mode, who
a sign-in names, how failures are slowed down, who may do what) are core's."""

from __future__ import annotations

import math
import os
import secrets

import streamlit as st

import core
from app_pages.i18n import language, language_picker, t

USER_KEY = "access_user"  # the signed-in user, as a plain dict (it outlives a reload of core's modules)
SESSION_KEY = "access_session"  # this session's name for the login throttle


def secret_section(section: str) -> dict | None:
    """A section of `.streamlit/secrets.toml`, or None (no secrets.toml at all is the normal case)."""
    try:
        value = st.secrets.get(section) if len(st.secrets) else None
    except Exception:
        return None
    return _plain(value) if value else None


def _plain(value: object) -> dict:
    # st.secrets' sections are AttrDicts of AttrDicts: plain dicts for core.
    return {k: _plain(v) if hasattr(v, "items") else v for k, v in value.items()}  # type: ignore[attr-defined]


def access_config() -> core.AccessConfig:
    """The access mode this server is set up with (InputError: set up so that it cannot work)."""
    return core.AccessConfig.from_secrets(secret_section("access"), secret_section("auth"), os.environ)


def current_user() -> core.User:
    """The user this session acts for: the signed-in one, or the local user when access is off."""
    kept = st.session_state.get(USER_KEY)
    if kept:
        return core.User(**kept)
    try:
        if not access_config().on:
            return core.LOCAL_USER
    except core.InputError:
        pass
    st.stop()  # never reached through app.py, whose gate runs first: a page on its own shows nothing
    raise AssertionError("unreachable")


def signed_in_user() -> core.User | None:
    """The gate, before anything is loaded: with access on, the sign-in page until someone is
    signed in (None: the caller stops), then that user. With access off, the local user."""
    st.session_state.setdefault("lang", language())
    try:
        config = access_config()
    except core.InputError as exc:  # a closed door, with the reason for whoever set the server up
        st.title("LLM Batch Studio")
        st.error(t("access.config_error"), icon=":material/lock:")
        st.code(str(exc), language=None)
        return None
    if not config.on:
        return core.LOCAL_USER
    if config.mode == core.AccessMode.OIDC:
        return _oidc(config)
    kept = st.session_state.get(USER_KEY)
    return core.User(**kept) if kept else _password_form(config)


def _keep(user: core.User) -> core.User:
    st.session_state[USER_KEY] = {"id": user.id, "name": user.name, "admin": user.admin}
    return user


def _door(prompt: str) -> None:
    with st.sidebar:
        language_picker()
    st.title("LLM Batch Studio")
    st.write(prompt)


def _password_form(config: core.AccessConfig) -> core.User | None:
    _door(t("access.password_prompt"))
    session = st.session_state.setdefault(SESSION_KEY, secrets.token_hex(8))
    with st.form("login", border=True):
        name = st.text_input(t("access.name"), key="login_name", max_chars=core.constants.MAX_USER_NAME_CHARS)
        given = st.text_input(t("auth.password"), type="password", key="password_input")
        if st.form_submit_button(t("auth.enter"), type="primary"):
            throttle = core.get_throttle()
            wait = throttle.wait_s(session)
            if wait > 0:  # refused unchecked: a guess made too early tells nothing
                st.error(t("access.wait", s=math.ceil(wait)), icon=":material/hourglass_top:")
                return None
            try:
                user = config.password_user(name, given)
            except core.InputError as exc:
                st.error(t(f"error.{exc.code}", **exc.params), icon=":material/badge:")
                return None
            if user is None:
                throttle.failed(session)
                st.error(t("auth.wrong"), icon=":material/lock:")
                return None
            throttle.succeeded(session)
            _keep(user)
            st.rerun()
    return None


def _oidc(config: core.AccessConfig) -> core.User | None:
    try:
        user = config.oidc_user(st.user.to_dict())
    except core.NotAllowed as exc:
        _door(t(f"error.{exc.code}", **exc.params))
        st.button(t("access.sign_out"), key="sign_out", on_click=sign_out, icon=":material/logout:")
        return None
    if user is not None:
        return _keep(user)
    _door(t("access.oidc_prompt"))
    providers = config.providers or (None,)
    row = st.container(horizontal=True)
    for provider in providers:
        label = t("access.sign_in_with", provider=provider.capitalize()) if provider else t("access.sign_in")
        row.button(label, key=f"sign_in_{provider or 'default'}", on_click=st.login, args=(provider,), type="primary", icon=":material/login:")
    return None


def sign_out() -> None:
    """Forget everything this session held (its table, its keys, its runs), then the user."""
    oidc = access_config().mode == core.AccessMode.OIDC
    for key in list(st.session_state):
        del st.session_state[key]
    if oidc:
        st.logout()


def user_box(user: core.User) -> None:
    """The sidebar's "signed in as", with Sign out; nothing when access is off."""
    if user.local:
        return
    with st.sidebar.container(border=True, key="signed_in"):
        st.caption(t("access.signed_in", name=user.name) + (" · " + t("access.admin") if user.admin else ""))
        st.button(t("access.sign_out"), key="sign_out", on_click=sign_out, icon=":material/logout:")


def check_links(user: core.User) -> None:
    """A ?run= or ?compare= link this user may not see shows a plain message and loads nothing:
    the same message whether it does not exist or is not shared (nobody learns what exists)."""
    if user.local:
        return  # one local user: a stale link is simply not followed, as before
    from app_pages.common import plain  # (common imports this module: by now it is loaded)

    store = core.get_store()
    run_id = st.query_params.get("run")
    if run_id and core.visible_run(store, run_id, user) is None:
        del st.query_params["run"]
        st.session_state.pop("run_id", None)
        st.warning(t("access.run_not_visible", id=plain(run_id)), icon=":material/lock:")
    compare_id = st.query_params.get("compare")
    if compare_id and core.visible_comparison(store, compare_id, user) is None:
        del st.query_params["compare"]
        st.session_state.pop("compare_id", None)
        st.warning(t("access.comparison_not_visible", id=plain(compare_id)), icon=":material/lock:")
