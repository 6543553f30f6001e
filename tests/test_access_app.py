"""Access and ownership in the app, with Streamlit's AppTest: the gate comes before anything is
loaded (a ?run= link's table included), a shared password with a name or an OIDC sign-in
(`at.user`), History lists one's own runs and the shared ones, a link to someone else's run shows
it read-only if shared and nothing if not, an admin sees and deletes everything, and failed
passwords are slowed down (on a virtual clock)."""

from __future__ import annotations

import ast

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

import core
from core.keys import demo_pool
from core.spec import RunSpec
from core.store import RowResult, RunStore
from tests.conftest import ROOT

PASSWORD = "team pw"
OIDC = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "a-long-random-cookie-secret",
    "client_id": "llm-batch-studio",
    "client_secret": "xxx",
    "server_metadata_url": "https://idp.example.com/.well-known/openid-configuration",
}
RUN_CONTROLS = {"pause", "cancel", "resume_live", "resume_stored", "retry_failed", "retry_failed_now", "switch_model"}


@pytest.fixture
def team(tmp_path, monkeypatch) -> RunStore:  # type: ignore[no-untyped-def]
    """A data folder shared by a team that signs in with a password; the app's store."""
    monkeypatch.setenv("LLM_BATCH_DATA_DIR", str(tmp_path / "data"))
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_MODEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LLM_BATCH_PASSWORD", PASSWORD)
    return core.get_store(tmp_path / "data")


def made_run(store: RunStore, owner: str, *, shared: bool = False, file_name: str = "") -> str:
    """A finished run of `owner`'s with two answers and a failed row (so Retry would be offered)."""
    frame = pd.DataFrame({"question": ["1 + 1", "2 + 2", "3 + 3"], "answer": ["2", "4", "6"]}, dtype=object)
    spec = RunSpec(template="Compute {question}. Reply with the number only.", label_column="answer")
    run_id = store.create_run(spec, frame, [k.info() for k in demo_pool(2)], file_name=file_name or f"{owner or 'local'}.csv", owner=owner)
    store.record_results(
        run_id,
        [
            (RowResult(row=0, status="ok", output="2"), None),
            (RowResult(row=1, status="ok", output="4"), None),
            (RowResult(row=2, status="failed", error="x"), None),
        ],
    )
    store.set_status(run_id, "done")
    store.set_shared(run_id, shared)
    return run_id


def opened(query: dict[str, str] | None = None, secrets: dict | None = None, user: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    at.query_params.update(query or {})
    if secrets:
        at.secrets = secrets
    if user is not None:
        at.user = user
    at.run()
    assert not at.exception, at.exception
    return at


def sign_in(at: AppTest, name: str, password: str = PASSWORD) -> AppTest:
    at.text_input(key="login_name").input(name)
    at.text_input(key="password_input").input(password)
    at.button(key="FormSubmitter:login-Enter").click().run()
    assert not at.exception, at.exception
    return at


def on(at: AppTest, page: str) -> AppTest:
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def buttons(at: AppTest) -> set[str]:
    return {b.key for b in at.button if b.key}


def texts(elements) -> str:  # type: ignore[no-untyped-def]
    return " ".join(e.value for e in elements).replace("\\", "")  # Markdown escapes out


def history_ids(at: AppTest) -> set[str]:
    runs = [d.value for d in at.dataframe if "Run id" in d.value.columns]
    return set(runs[0]["Run id"]) if runs else set()


# --- the gate ---------------------------------------------------------------------------------------


def test_a_run_link_loads_nothing_before_the_password(team, monkeypatch):
    """Before, the app read a ?run= link's input table into the session and only then asked for
    the password: anyone with the link had the table in their session, password or not."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-team-preset-0000aaaa")  # before access modes, only preset keys put up the gate
    run_id = made_run(team, "ana")
    loaded: list[str] = []
    load_inputs = RunStore.load_inputs
    monkeypatch.setattr(RunStore, "load_inputs", lambda self, rid, **kw: loaded.append(rid) or load_inputs(self, rid, **kw))
    at = opened({"run": run_id})
    assert at.text_input(key="password_input") is not None and not at.title[0].value == "Data"
    assert loaded == [] and "dataset" not in at.session_state and "run_id" not in at.session_state
    sign_in(at, "Ana")
    assert at.title[0].value == "Data" and loaded == [run_id]  # her own run's table, now that she is in
    assert at.session_state["dataset"]["name"] == "ana.csv"


def test_with_a_password_set_every_page_is_behind_it_even_without_preset_keys(team):
    at = opened()
    assert [t.value for t in at.title] == ["LLM Batch Studio"] and "dataset" not in at.session_state
    assert "your runs are kept under your name" in texts(at.markdown)
    sign_in(at, "Ana")
    assert at.title[0].value == "Data" and "Signed in as Ana" in texts(at.sidebar.caption)


def test_a_name_is_needed_and_a_wrong_password_is_said(team):
    at = opened()
    sign_in(at, "   ")
    assert "Give your name" in texts(at.error) and "dataset" not in at.session_state
    sign_in(at, "Ana", "nope")
    assert "not right" in texts(at.error) and "dataset" not in at.session_state


def test_failed_passwords_slow_the_next_attempt_down(team, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(core.get_throttle(), "clock", lambda: clock[0])
    at = opened()
    sign_in(at, "Ana", "guess 1")
    assert "not right" in texts(at.error)
    sign_in(at, "Ana", PASSWORD)  # the right one, too early: refused without being checked
    assert "try again in 1 s" in texts(at.error) and "dataset" not in at.session_state
    clock[0] += 1
    sign_in(at, "Ana", "guess 2")
    clock[0] += 1
    sign_in(at, "Ana", PASSWORD)
    assert "try again in 1 s" in texts(at.error)  # the second failure doubled the wait to 2 s
    clock[0] += 1
    sign_in(at, "Ana", PASSWORD)
    assert at.title[0].value == "Data"


def test_many_failures_across_sessions_slow_a_new_session_too(team, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(core.get_throttle(), "clock", lambda: clock[0])
    for i in range(core.constants.LOGIN_FREE_FAILURES + 1):
        sign_in(opened(), f"attacker {i}", "guess")  # a fresh session for each guess
    at = sign_in(opened(), "Ana", PASSWORD)
    assert "try again in" in texts(at.error) and "dataset" not in at.session_state


def test_signing_out_forgets_the_session(team):
    at = sign_in(opened(), "Ana")
    on(at, "app_pages/keys.py")
    at.text_area(key="keys_text").set_value("sk-ana-private-1111\n").run()
    at.button(key="add_keys").click().run()
    assert at.session_state["user_keys"]
    at.sidebar.button(key="sign_out").click().run()
    assert at.text_input(key="password_input") is not None
    assert "user_keys" not in at.session_state and "dataset" not in at.session_state


# --- owners ---------------------------------------------------------------------------------------


def test_history_lists_ones_own_runs_and_the_shared_ones_only(team):
    ana_private, ana_shared = made_run(team, "ana"), made_run(team, "ana", shared=True)
    bo_own = made_run(team, "bo")
    local = made_run(team, "")  # from before owners, or the command line
    at = on(sign_in(opened(), "Bo"), "app_pages/history.py")
    assert history_ids(at) == {bo_own, ana_shared}
    table = next(d.value for d in at.dataframe if "Run id" in d.value.columns)
    assert dict(zip(table["Run id"], table["Owner"])) == {bo_own: "bo", ana_shared: "ana"}
    assert ana_private not in repr(list(at.main)) and local not in repr(list(at.main))


def test_a_link_to_someone_elses_unshared_run_shows_nothing_of_it(team, monkeypatch):
    run_id = made_run(team, "ana", file_name="salaries.csv")
    at = sign_in(opened({"run": run_id}), "Bo")
    assert f"There is no run {run_id} that you can see" in texts(at.warning)
    assert at.session_state["dataset"]["demo"] and "salaries" not in repr(list(at.main))
    assert at.session_state.get("run_id") is None and "run" not in at.query_params
    on(at, "app_pages/run.py")
    assert "salaries" not in repr(list(at.main)) and not RUN_CONTROLS & buttons(at)


def test_a_link_to_a_shared_run_shows_it_read_only(team):
    run_id = made_run(team, "ana", shared=True, file_name="shared.csv")
    at = on(sign_in(opened({"run": run_id}), "Bo"), "app_pages/run.py")
    assert "ana shared this with the team" in texts(at.info)
    assert "shared.csv" in texts(at.subheader)
    assert not RUN_CONTROLS & buttons(at)  # no Pause, Resume, Retry...
    assert not [t for t in at.toggle if t.key == f"share_run_{run_id}"]  # not Bo's to unshare
    assert at.session_state["dataset"]["demo"]  # looked at, not taken into Bo's session
    on(at, "app_pages/history.py")
    at.session_state["history_selected"] = run_id  # as a click on its row does
    at.run()
    assert "history_delete" not in buttons(at) and "only its owner can change it" in texts(at.caption)


def test_a_shared_run_going_in_this_process_is_shown_to_another_user_without_controls(team):
    """A paused run is live: its page polls it. Someone else's once redrew itself for ever (the
    page took the run for this tab's own, whose start buttons a pause must update)."""
    from tests.conftest import arithmetic_frame, wait_for

    ana = core.User("ana", "Ana")
    runner = core.get_runner()
    handle = core.start_run(team, arithmetic_frame(300), RunSpec(template="Compute {question}."), demo_pool(1, rpm=60), runner=runner, user=ana)
    try:
        assert wait_for(lambda: handle.snapshot().state == "running", 30)  # (a pause before the engine starts is shown as running)
        core.pause_run(team, handle.run_id, ana, runner)
        assert wait_for(lambda: handle.snapshot().state == "paused", 30)
        core.share_run(team, handle.run_id, True, ana)
        at = on(sign_in(opened({"run": handle.run_id}), "Bo"), "app_pages/run.py")
        assert "ana shared this with the team" in texts(at.info) and not RUN_CONTROLS & buttons(at)
        assert not at.button(key="run_all").disabled  # Bo's own start buttons are not held by Ana's run
        assert {"resume_live", "cancel"} <= buttons(on(sign_in(opened({"run": handle.run_id}), "Ana"), "app_pages/run.py"))  # hers to steer
    finally:
        handle.cancel()
        assert handle.wait(60)


def test_the_owner_shares_a_run_with_a_toggle_and_keeps_the_controls(team):
    run_id = made_run(team, "ana")
    at = on(sign_in(opened({"run": run_id}), "Ana"), "app_pages/run.py")
    assert "retry_failed" in buttons(at) and not [i for i in at.info if "shared this" in i.value]
    at.toggle(key=f"share_run_{run_id}").set_value(True).run()
    assert team.get_run(run_id).shared
    bo = on(sign_in(opened({"run": run_id}), "Bo"), "app_pages/run.py")
    assert "ana shared this with the team" in texts(bo.info)


def test_an_admin_sees_every_run_and_may_delete_any(team):
    ana, bo = made_run(team, "ana"), made_run(team, "bo")
    at = on(sign_in(opened(secrets={"access": {"password": PASSWORD, "admins": ["Root"]}}), "root"), "app_pages/history.py")
    assert "admin" in texts(at.sidebar.caption) and history_ids(at) == {ana, bo}
    at.session_state["history_selected"] = ana
    at.run()
    at.button(key="history_delete").click().run()
    assert team.get_run(ana) is None and history_ids(at) == {bo}


def test_the_cache_is_cleared_from_history(team):
    run_id = made_run(team, "ana")
    team.record_results(run_id, [(RowResult(row=0, status="ok", output="2", model="simulated"), "k-ana")])
    other = made_run(team, "bo")
    team.record_results(other, [(RowResult(row=0, status="ok", output="2", model="simulated"), "k-bo")])
    at = on(sign_in(opened(), "Ana"), "app_pages/history.py")
    assert "1 answers in your response cache" in texts(at.caption)
    at.button(key="history_clear_cache").click().run()
    assert "Cleared 1 cached answers" in texts(at.success)
    assert team.cache_size("ana") == 0 and team.cache_size("bo") == 1


def test_a_comparison_link_follows_the_same_rules(team):
    frame = pd.DataFrame({"question": ["1 + 1"], "answer": ["2"]}, dtype=object)
    variants = [core.Variant("a", "Compute {question}."), core.Variant("b", "Compute {question} carefully.")]
    runner = core.get_runner()
    ana = core.User("ana", "Ana")
    record = core.start_comparison(team, frame, variants, demo_pool(2), base=RunSpec(template="-", label_column="answer"), runner=runner, user=ana)
    for run_id in record.run_ids:
        handle = runner.get(run_id)
        assert handle is None or handle.wait(60)
    bo = sign_in(opened({"compare": record.id}), "Bo")
    assert f"There is no comparison {record.id} that you can see" in texts(bo.warning)
    core.share_comparison(team, record.id, True, ana)
    bo = on(sign_in(opened({"compare": record.id}), "Bo"), "app_pages/compare.py")
    assert "ana shared this with the team" in texts(bo.info)
    assert not {"cmp_pause", "cmp_cancel", "cmp_resume", "cmp_retry", "cmp_rescore_go"} & buttons(bo)


# --- OIDC through st.login ------------------------------------------------------------------------------


def test_oidc_asks_to_sign_in_and_uses_the_signed_in_address(team, monkeypatch):
    import streamlit as st

    monkeypatch.delenv("LLM_BATCH_PASSWORD")
    run_id = made_run(team, "ana@example.com", file_name="ana.csv")
    secrets = {"auth": OIDC, "access": {"allow": ["@example.com"]}}
    calls: list[object] = []
    monkeypatch.setattr(st, "login", lambda provider=None: calls.append(provider))
    at = opened({"run": run_id}, secrets, {"is_logged_in": False})
    assert "Sign in to use it" in texts(at.markdown) and "dataset" not in at.session_state
    at.button(key="sign_in_default").click().run()
    assert calls == [None]
    at = opened({"run": run_id}, secrets, {"is_logged_in": True, "email": "ana@example.com", "name": "Ana Lima"})
    assert at.title[0].value == "Data" and at.session_state["dataset"]["name"] == "ana.csv"
    assert "Signed in as Ana Lima" in texts(at.sidebar.caption)
    other = opened({"run": run_id}, secrets, {"is_logged_in": True, "email": "bo@example.com", "name": "Bo"})
    assert f"There is no run {run_id} that you can see" in texts(other.warning)


def test_oidc_keeps_out_an_address_not_on_the_list(team, monkeypatch):
    monkeypatch.delenv("LLM_BATCH_PASSWORD")
    at = opened(secrets={"auth": OIDC, "access": {"allow": ["@example.com"]}}, user={"is_logged_in": True, "email": "eve@elsewhere.org"})
    assert "eve@elsewhere.org may not use this server" in texts(at.markdown)
    assert "dataset" not in at.session_state and "sign_out" in buttons(at)


def test_named_oidc_providers_get_a_button_each(team, monkeypatch):
    monkeypatch.delenv("LLM_BATCH_PASSWORD")
    auth = {"redirect_uri": OIDC["redirect_uri"], "cookie_secret": OIDC["cookie_secret"], "google": {"client_id": "g"}, "okta": {"client_id": "o"}}
    at = opened(secrets={"auth": auth}, user={"is_logged_in": False})
    assert {"sign_in_google", "sign_in_okta"} <= buttons(at)


def test_access_settings_that_cannot_work_keep_the_door_closed(team, monkeypatch):
    at = opened(secrets={"access": {"mode": "oidc"}})
    assert "cannot be used" in texts(at.error) and "dataset" not in at.session_state


def test_with_access_off_there_is_no_door_and_every_run_is_the_local_users(tmp_path, monkeypatch):
    monkeypatch.setenv("LLM_BATCH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("LLM_BATCH_PASSWORD", raising=False)
    store = core.get_store(tmp_path / "data")
    ana, local = made_run(store, "ana"), made_run(store, "")
    at = on(opened(), "app_pages/history.py")
    assert history_ids(at) == {ana, local} and "sign_out" not in buttons(at)
    table = next(d.value for d in at.dataframe if "Run id" in d.value.columns)
    assert "Owner" not in table.columns  # alone, there is nobody to tell apart


# --- the pages hand the user to core ----------------------------------------------------------------------


def test_the_pages_never_act_on_a_run_without_saying_who_acts():
    """Core enforces the rules only for the user it is given: every call from a page names one,
    and no page reads around them (the store's list, delete, or a comparison by id)."""
    needs_user = {"start_run", "resume_run", "start_comparison", "resume_comparison", "measured_output"}
    positional = {
        "remove_run": 3, "remove_comparison": 4, "rescore_comparison": 4, "clear_cache": 2, "cache_size": 2, "visible_run": 3,
        "visible_runs": 2, "visible_comparison": 3, "visible_comparisons": 2, "share_run": 4, "share_comparison": 4,
    }  # fmt: skip
    forbidden = {"list_runs", "list_comparisons", "get_comparison", "delete_run", "delete_comparison", "set_scoring"}
    problems = []
    for path in [*(ROOT / "app_pages").glob("*.py"), ROOT / "app.py"]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            name, where = node.func.attr, f"{path.name}:{node.lineno}"
            if isinstance(node.func.value, ast.Name) and node.func.value.id == "core":
                if name in needs_user and not any(k.arg == "user" for k in node.keywords):
                    problems.append(f"{where} core.{name} without user=")
                if name in positional and len(node.args) < positional[name] and not any(k.arg == "user" for k in node.keywords):
                    problems.append(f"{where} core.{name} without the user")
            if name in forbidden:
                problems.append(f"{where} .{name}()")
    assert not problems, problems
