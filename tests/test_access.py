"""Access and ownership in core: the access mode from secrets, who a sign-in names, failed
sign-ins slowed down on a virtual clock, who may see and act on a run or a comparison (enforced
in core's actions, not only by the pages), and the response cache as its owner's."""

from __future__ import annotations

import sqlite3

import pytest

import core
from core import constants as C
from core.access import LOCAL_USER, AccessConfig, AccessMode, NotAllowed, User
from core.compare import cancel_comparison, pause_comparison, remove_comparison, rescore_comparison, resume_comparison, start_comparison
from core.compare_store import get_comparison
from core.errors import InputError
from core.ownership import clear_cache, share_comparison, share_run, visible_comparison, visible_comparisons, visible_run, visible_runs
from core.runs import cancel_run, continue_run, pause_run, remove_run, resume_run, start_run
from core.scoring import Scoring
from core.spec import RunSpec
from core.store import RunStore
from core.throttle import LoginThrottle
from core.variants import Variant
from tests.conftest import arithmetic_frame, wait_for
from tests.test_engine import run_to_end

SPEC = RunSpec(template="Compute {question}. Reply with the number only.", concurrency=8)
ANA = User("ana", "Ana")
BO = User("bo", "Bo")
ADMIN = User("root@example.com", "Root", admin=True)


# --- the access mode ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("access", "auth", "env", "mode"),
    [
        (None, None, {}, AccessMode.OFF),
        ({"password": "pw"}, None, {}, AccessMode.PASSWORD),
        ({"users": {"ana": "a-pw"}}, None, {}, AccessMode.PASSWORD),
        (None, {"password": "pw"}, {}, AccessMode.PASSWORD),  # the preset keys' password before access modes
        (None, None, {"LLM_BATCH_PASSWORD": "pw"}, AccessMode.PASSWORD),
        (None, {"redirect_uri": "https://x/oauth2callback", "cookie_secret": "s", "client_id": "c"}, {}, AccessMode.OIDC),
        ({"mode": "off", "password": "pw"}, None, {}, AccessMode.OFF),  # said outright wins
        ({"mode": "PASSWORD", "password": "pw"}, {"redirect_uri": "u", "cookie_secret": "s"}, {}, AccessMode.PASSWORD),
    ],
)
def test_the_access_mode_comes_from_the_secrets(access, auth, env, mode):  # type: ignore[no-untyped-def]
    assert AccessConfig.from_secrets(access, auth, env).mode == mode


@pytest.mark.parametrize(
    ("access", "auth", "code"),
    [
        ({"mode": "sso"}, None, "access_config"),
        ({"mode": "password"}, None, "access_config"),  # no password to check against
        ({"mode": "oidc"}, {"client_id": "c"}, "access_config"),  # Streamlit needs redirect_uri and cookie_secret
        ({"users": "ana"}, None, "access_config"),
    ],
)
def test_a_mode_that_cannot_work_is_a_plain_error_not_an_open_door(access, auth, code):  # type: ignore[no-untyped-def]
    with pytest.raises(InputError) as err:
        AccessConfig.from_secrets(access, auth, {})
    assert err.value.code == code


def test_oidc_lists_its_named_providers():
    auth = {"redirect_uri": "u", "cookie_secret": "s", "google": {"client_id": "g"}, "okta": {"client_id": "o"}}
    assert AccessConfig.from_secrets(None, auth, {}).providers == ("google", "okta")
    assert AccessConfig.from_secrets(None, {"redirect_uri": "u", "cookie_secret": "s", "client_id": "c"}, {}).providers == ()


def test_a_shared_password_signs_in_any_name_and_the_name_is_the_owner():
    config = AccessConfig.from_secrets({"password": "team pw", "admins": ["Root"]}, None, {})
    assert config.password_user("  Ana  Lima ", "team pw") == User("ana lima", "Ana Lima")
    assert config.password_user("ANA LIMA", "team pw").id == "ana lima"  # one owner, however typed
    assert config.password_user("Ana", "team pw ") is None and config.password_user("Ana", "") is None
    assert config.password_user("root", "team pw").admin
    for bad in ("", "   ", "a" * (C.MAX_USER_NAME_CHARS + 1), "ana\x00"):
        with pytest.raises(InputError) as err:
            config.password_user(bad, "team pw")
        assert err.value.code == "bad_name"


def test_with_a_password_per_person_each_name_has_its_own():
    config = AccessConfig.from_secrets({"users": {"Ana": "a-pw", "bo": "b-pw"}, "password": "team"}, None, {})
    assert config.password_user("ana", "a-pw") == User("ana", "ana")
    assert config.password_user("ana", "b-pw") is None
    assert config.password_user("carl", "team") is None  # with a list, the team's password names nobody
    assert config.password_user("carl", "a-pw") is None


def test_an_oidc_sign_in_is_its_verified_address_and_the_allow_list_keeps_others_out():
    config = AccessConfig.from_secrets(
        {"allow": ["@example.com", "guest@other.org"], "admins": ["Root@Example.com"]}, {"redirect_uri": "u", "cookie_secret": "s"}, {}
    )
    assert config.oidc_user({"is_logged_in": False}) is None
    assert config.oidc_user({}) is None
    ana = config.oidc_user({"is_logged_in": True, "email": "Ana@Example.com", "name": "Ana", "sub": "1"})
    assert ana == User("ana@example.com", "Ana")
    assert config.oidc_user({"is_logged_in": True, "email": "root@example.com"}).admin
    assert config.oidc_user({"is_logged_in": True, "email": "guest@other.org"}).id == "guest@other.org"
    with pytest.raises(NotAllowed) as err:
        config.oidc_user({"is_logged_in": True, "email": "eve@other.org"})
    assert err.value.code == "not_on_list"
    # An address the provider did not verify is not an identity: the subject is, and it is not on the list.
    with pytest.raises(NotAllowed):
        config.oidc_user({"is_logged_in": True, "email": "ana@example.com", "email_verified": False, "sub": "x", "iss": "https://idp"})
    open_config = AccessConfig.from_secrets(None, {"redirect_uri": "u", "cookie_secret": "s"}, {})
    assert open_config.oidc_user({"is_logged_in": True, "email": "ana@example.com", "email_verified": False, "sub": "x", "iss": "https://idp"}).id == (
        "https://idp#x"
    )
    with pytest.raises(NotAllowed) as err:
        open_config.oidc_user({"is_logged_in": True})
    assert err.value.code == "no_identity"


# --- failed sign-ins are slowed down ------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_each_failure_doubles_the_sessions_wait_and_a_success_ends_it():
    clock = Clock()
    throttle = LoginThrottle(clock)
    assert throttle.wait_s("s1") == 0
    waits = []
    for _ in range(4):
        throttle.failed("s1")
        waits.append(throttle.wait_s("s1"))
        clock.now += waits[-1]
        assert throttle.wait_s("s1") == 0  # once waited, it may try again
    assert waits == [1.0, 2.0, 4.0, 8.0]
    assert throttle.wait_s("s2") == 0  # another session is not slowed by a few failures
    throttle.failed("s1")
    throttle.succeeded("s1")
    assert throttle.wait_s("s1") == 0


def test_the_wait_is_capped():
    clock = Clock()
    throttle = LoginThrottle(clock)
    for _ in range(20):
        throttle.failed("s")
    assert throttle.wait_s("s") == C.LOGIN_DELAY_MAX_S


def test_many_failures_from_many_sessions_slow_every_session_down():
    """A new session is free to make: the process counts failures too."""
    clock = Clock()
    throttle = LoginThrottle(clock)
    for i in range(C.LOGIN_FREE_FAILURES):
        throttle.failed(f"attacker-{i}")
        clock.now += 0.01
    assert throttle.wait_s("fresh") == 0
    throttle.failed("attacker-x")
    assert throttle.wait_s("fresh") == pytest.approx(1.0)
    for i in range(3):
        throttle.failed(f"attacker-y{i}")
    assert throttle.wait_s("fresh") == pytest.approx(8.0)
    clock.now += C.LOGIN_WINDOW_S + 1  # the window has passed: forgotten
    assert throttle.wait_s("fresh") == 0 and throttle.wait_s("attacker-x") == 0


def test_the_sessions_remembered_are_bounded(monkeypatch):
    monkeypatch.setattr(C, "LOGIN_MAX_SESSIONS", 3)
    clock = Clock()
    throttle = LoginThrottle(clock)
    for i in range(10):
        throttle.failed(f"s{i}")
        clock.now += C.LOGIN_DELAY_MAX_S * 10  # each alone in the process's window
    assert len(throttle._sessions) <= 3


# --- owners, sharing and who may act --------------------------------------------------------------


def slow_keys(h, name: str = "k"):  # type: ignore[no-untyped-def]
    """A key paced at 60/min: a run of 50 rows is still going while the test acts on it."""
    return h.keys(name, rpm=60)


def test_a_run_belongs_to_its_maker_and_is_listed_for_them_only_until_shared(harness, store):
    h = harness()
    mine = run_to_end(start_run(store, arithmetic_frame(3), SPEC, h.keys("k"), runner=h.runner, user=ANA)).run_id
    theirs = run_to_end(start_run(store, arithmetic_frame(3), SPEC, h.keys("k"), runner=h.runner, user=BO)).run_id
    local = run_to_end(start_run(store, arithmetic_frame(3), SPEC, h.keys("k"), runner=h.runner)).run_id
    assert store.get_run(mine).owner == "ana" and store.get_run(local).owner == ""
    assert [r.id for r in visible_runs(store, ANA)] == [mine]
    assert visible_run(store, theirs, ANA) is None and visible_run(store, "no-such-run", ANA) is None
    share_run(store, theirs, True, BO)
    assert {r.id for r in visible_runs(store, ANA)} == {theirs, mine} and visible_run(store, theirs, ANA).shared
    assert {r.id for r in visible_runs(store, ADMIN)} == {mine, theirs, local}  # an admin sees every run
    assert {r.id for r in visible_runs(store, LOCAL_USER)} == {mine, theirs, local}  # and so does the local user
    with pytest.raises(NotAllowed) as err:
        share_run(store, mine, True, BO)
    assert err.value.code == "not_visible"  # Bo is not even told Ana's run exists
    share_run(store, mine, True, ADMIN)
    share_run(store, theirs, False, BO)
    assert [r.id for r in visible_runs(store, ANA)] == [mine]


def test_only_the_owner_or_an_admin_pauses_cancels_resumes_adds_keys_or_deletes(harness, store):
    h = harness()
    handle = start_run(store, arithmetic_frame(50), SPEC, slow_keys(h), runner=h.runner, user=ANA)
    run_id = handle.run_id
    assert wait_for(lambda: handle.snapshot().state == "running", 30)
    share_run(store, run_id, True, ANA)  # Bo may look at it, not steer it
    for act in (pause_run, cancel_run, continue_run, remove_run):
        with pytest.raises(NotAllowed) as err:
            act(store, run_id, BO, h.runner)
        assert err.value.code == "not_owner"
    with pytest.raises(NotAllowed):
        resume_run(store, run_id, h.keys("bo-key"), runner=h.runner, user=BO)  # new keys for a live run: Ana's to give
    with pytest.raises(NotAllowed):
        resume_run(store, run_id, h.keys("bo-key"), retry_failed=True, runner=h.runner, user=BO)
    assert h.runner.going(run_id) is not None and handle.snapshot().state == "running"
    assert "bo-key" not in h.sim.stats()  # nothing was sent with Bo's key
    pause_run(store, run_id, ADMIN, h.runner)
    assert wait_for(lambda: handle.snapshot().state == "paused", 30)
    continue_run(store, run_id, ANA, h.runner)
    cancel_run(store, run_id, ANA, h.runner)
    assert handle.wait(60)
    with pytest.raises(InputError):
        remove_run(store, "no-such-run", ANA, h.runner)
    remove_run(store, run_id, ANA, h.runner)
    assert store.get_run(run_id) is None


def test_nobody_else_steers_an_unshared_run_and_is_told_nothing_about_it(harness, store):
    h = harness()
    run_id = run_to_end(start_run(store, arithmetic_frame(3), SPEC, h.keys("k"), runner=h.runner, user=ANA)).run_id
    with pytest.raises(NotAllowed) as err:
        resume_run(store, run_id, h.keys("k"), retry_failed=True, runner=h.runner, user=BO)
    assert err.value.code == "not_visible" and "ana" not in str(err.value)


def test_a_comparison_and_its_runs_belong_to_its_maker(harness, store):
    h = harness()
    frame = arithmetic_frame(50)
    variants = [
        Variant("a", "Compute {question}.", provider="Test", base_url="http://sim.test/v1", model="simulated"),
        Variant("b", "Compute {question} carefully.", provider="Test", base_url="http://sim.test/v1", model="simulated"),
    ]
    record = start_comparison(store, frame, variants, slow_keys(h), base=SPEC.replace(label_column="answer"), runner=h.runner, user=ANA)
    assert get_comparison(store, record.id).owner == "ana"
    assert all(store.get_run(r).owner == "ana" for r in record.run_ids)
    assert visible_comparison(store, record.id, BO) is None and visible_comparisons(store, BO) == []
    share_comparison(store, record.id, True, ANA)
    assert visible_comparison(store, record.id, BO) is not None
    assert all(visible_run(store, r, BO) is not None for r in record.run_ids)  # the comparison shows their answers
    for act in (pause_comparison, cancel_comparison, remove_comparison):
        with pytest.raises(NotAllowed):
            act(store, record.id, h.runner, BO)
    with pytest.raises(NotAllowed):
        resume_comparison(store, record.id, retry_failed=True, runner=h.runner, user=BO)
    with pytest.raises(NotAllowed):
        rescore_comparison(store, record.id, Scoring.parse("contains"), BO)
    with pytest.raises(NotAllowed):
        share_comparison(store, record.id, False, BO)
    assert all(h.runner.going(r) is not None for r in record.run_ids)
    cancel_comparison(store, record.id, h.runner, ANA)
    assert wait_for(lambda: all(h.runner.get(r) is None for r in record.run_ids), 60)
    assert rescore_comparison(store, record.id, Scoring.parse("contains"), ADMIN).scoring.mode == "contains"
    remove_comparison(store, record.id, h.runner, ANA)
    assert get_comparison(store, record.id) is None and all(store.get_run(r) is None for r in record.run_ids)


# --- the response cache is its owner's -------------------------------------------------------------


def cache_rows(store: RunStore) -> int:
    return sqlite3.connect(store.path).execute("SELECT COUNT(*) FROM cache").fetchone()[0]


def test_deleting_a_run_deletes_the_answers_it_put_in_the_cache(harness, store):
    """Before owners, every answer stayed on disk in the cache after its run was deleted, and a
    later run with the same prompts got them back."""
    h = harness()
    frame = arithmetic_frame(30)
    first = run_to_end(start_run(store, frame, SPEC, h.keys("k"), runner=h.runner)).run_id
    kept = run_to_end(start_run(store, arithmetic_frame(5, start=500), SPEC, h.keys("k"), runner=h.runner)).run_id
    assert cache_rows(store) == 35
    sent = h.sim.total_requests()
    remove_run(store, first, LOCAL_USER, h.runner)
    assert cache_rows(store) == 5  # the other run's answers stay
    again = run_to_end(start_run(store, frame, SPEC, h.keys("k"), runner=h.runner))
    assert again.cached == 0 and h.sim.total_requests() == sent + 30  # asked again: nothing of the deleted run was left
    assert store.get_run(kept) is not None


def test_a_crash_while_deleting_leaves_no_cached_answer_behind(harness, tmp_path):
    h = harness()
    store = RunStore(tmp_path / "d")
    run_id = run_to_end(start_run(store, arithmetic_frame(10), SPEC, h.keys("k"), runner=h.runner)).run_id
    store.set_status(run_id, "paused")
    store._tx([("UPDATE runs SET status = 'deleting' WHERE id = ?", (run_id,))])  # as a crash halfway through delete_run leaves it
    store.close()
    reopened = RunStore(tmp_path / "d")
    assert reopened.get_run(run_id) is None and cache_rows(reopened) == 0
    reopened.close()


def test_one_users_cached_answers_are_never_served_to_another(harness, store):
    h = harness()
    frame = arithmetic_frame(20)
    run_to_end(start_run(store, frame, SPEC, h.keys("k"), runner=h.runner, user=ANA))
    sent = h.sim.total_requests()
    bo = run_to_end(start_run(store, frame, SPEC, h.keys("k"), runner=h.runner, user=BO))
    assert bo.cached == 0 and h.sim.total_requests() == sent + 20
    ana_again = run_to_end(start_run(store, frame, SPEC, h.keys("k"), runner=h.runner, user=ANA))
    assert ana_again.cached == 20 and h.sim.total_requests() == sent + 20  # her own cache still answers her


def test_the_cache_can_be_cleared_per_user_and_whole(harness, store):
    h = harness()
    frame = arithmetic_frame(10)
    run_to_end(start_run(store, frame, SPEC, h.keys("k"), runner=h.runner, user=ANA))
    run_to_end(start_run(store, frame, SPEC, h.keys("k"), runner=h.runner, user=BO))
    assert core.cache_size(store, ANA) == 10 and core.cache_size(store, LOCAL_USER) == 20
    assert clear_cache(store, ANA) == 10 and core.cache_size(store, BO) == 10
    sent = h.sim.total_requests()
    again = run_to_end(start_run(store, frame, SPEC, h.keys("k"), runner=h.runner, user=ANA))
    assert again.cached == 0 and again.ok == 10 and h.sim.total_requests() == sent + 10  # the results of her runs stay; only repeats are asked again
    assert clear_cache(store, LOCAL_USER) == 20 and cache_rows(store) == 0  # the local user's folder: everyone's


def test_clearing_a_large_cache_goes_in_chunks(store, monkeypatch):
    monkeypatch.setattr(C, "STORE_CHUNK_ROWS", 7)
    import pandas as pd

    run_id = store.create_run(SPEC, pd.DataFrame({"question": [str(i) for i in range(30)]}, dtype=object), [], owner="ana")
    store.record_results(run_id, [(core.RowResult(row=i, status="ok", output=str(i)), f"k{i}") for i in range(30)])
    assert store.clear_cache("ana") == 30 and store.cache_size() == 0


def test_rows_from_before_owners_belong_to_the_local_user(tmp_path, monkeypatch):
    """m005_owners on a store made before it: runs, comparisons and cached answers are the local user's."""
    from core import migrations

    before = [m for m in migrations.MIGRATIONS if m.__name__ < "m005"]
    monkeypatch.setattr(migrations, "MIGRATIONS", before)
    old = RunStore(tmp_path / "d")
    run_id = "20250101-000000-abcdef"
    old._tx([
        (
            "INSERT INTO runs (id, created_at, updated_at, status, file_name, n_rows, columns_json, spec_json, keys_json) "
            "VALUES (?, 'x', 'x', 'done', 'old.csv', 1, '[\"question\"]', ?, '[]')",
            (run_id, SPEC.to_json()),
        ),
        ("INSERT INTO inputs (run_id, row, cells_json) VALUES (?, 0, '[\"1 + 1\"]')", (run_id,)),
        ("INSERT INTO cache (key, model, output, finish_reason, tokens_in, tokens_out, created_at) VALUES ('k', 'm', '2', 'stop', 1, 1, 'x')", ()),
    ])  # fmt: skip
    old.close()
    monkeypatch.undo()
    new = RunStore(tmp_path / "d")
    record = new.get_run(run_id)
    assert record.owner == "" and not record.shared and record.file_name == "old.csv"
    assert set(new.cache_lookup(["k"])) == {"k"} and new.cache_lookup(["k"], owner="ana") == {}
    assert [r.id for r in visible_runs(new, ANA)] == [] and [r.id for r in visible_runs(new, LOCAL_USER)] == [run_id]
    names = [r[0] for r in new._conn().execute("SELECT name FROM migrations")]
    assert "m005_owners" in names  # (later migrations, m006_judge, follow it)
    new.close()


def test_the_command_line_clears_the_cache(harness, tmp_path, capsys):
    from core.cli import main

    h = harness()
    store = RunStore(tmp_path / "d")
    run_to_end(start_run(store, arithmetic_frame(4), SPEC, h.keys("k"), runner=h.runner, user=ANA))
    run_to_end(start_run(store, arithmetic_frame(3, start=100), SPEC, h.keys("k"), runner=h.runner))
    assert main(["clear-cache", "--data-dir", str(tmp_path / "d")]) == 0
    assert "cleared 7 cached answers" in capsys.readouterr().out and cache_rows(store) == 0
    store.close()
