"""The pages when another process runs a run (the command line, another replica of the app), and when
the limits shared through Redis are off: with Streamlit's AppTest, in English and Chinese."""

from __future__ import annotations

import core
from core.leases import take_lease
from core.shared_limits import SharedLimits
from tests.conftest import free_port, wait_for
from tests.test_app import metric, on

B = "replica-b||202|bbbb"  # a process on another machine that shares the data folder


def held_elsewhere(tmp_path) -> tuple[core.RunStore, str]:  # type: ignore[no-untyped-def]
    store = core.RunStore(tmp_path / "data")
    frame = core.read_table(b"question\n1 + 1\n2 + 2\n3 + 3\n", "q.csv")
    run_id = store.create_run(core.RunSpec(template="Compute {question}"), frame, [k.info() for k in core.demo_pool(1)], file_name="q.csv")
    store.record_result(run_id, core.RowResult(row=0, status="ok", output="2"))
    store.set_status(run_id, "running")
    take_lease(store, run_id, me=B, ttl_s=3600)
    return store, run_id


def test_a_run_another_process_runs_shows_its_progress_from_the_store_and_offers_no_resume(at, tmp_path):
    store, run_id = held_elsewhere(tmp_path)
    on(at, "app_pages/run.py")
    at.query_params["run"] = run_id
    at.run()
    assert not at.exception, at.exception
    assert [i.value for i in at.info if "Running in another process (process 202 on replica\\-b)" in i.value]
    assert metric(at, "Succeeded") == "1" and metric(at, "Pending") == "2"
    assert not [b for b in at.button if b.key in ("resume_stored", "retry_failed", "pause", "cancel")]

    at.segmented_control(key="lang").set_value("zh").run()
    assert [i.value for i in at.info if "正在另一个进程中运行（replica\\-b 上的进程 202）" in i.value]

    store._tx([("DELETE FROM run_leases WHERE run_id = ?", (run_id,))])  # that process stopped (and let go)
    at.run()
    assert not [i for i in at.info if "另一个进程" in i.value]
    assert [b for b in at.button if b.key == "resume_stored"]  # interrupted: this process may go on with it now


def test_history_does_not_delete_a_run_another_process_runs(at, tmp_path):
    store, run_id = held_elsewhere(tmp_path)
    on(at, "app_pages/history.py")
    at.session_state["history_selected"] = run_id
    at.run()
    at.button(key="history_delete").click().run()
    assert any("running in another process (process 202 on replica-b): cancel it there first" in e.value.replace("\\", "") for e in at.error)
    assert store.get_run(run_id) is not None
    at.segmented_control(key="lang").set_value("zh").run()
    at.session_state["history_selected"] = run_id
    at.run()
    at.button(key="history_delete").click().run()
    assert any("该任务正在另一个进程中运行（replica-b 上的进程 202），请先在那里取消" in e.value.replace("\\", "") for e in at.error)
    assert store.get_run(run_id) is not None


def test_the_run_page_says_when_redis_cannot_be_reached_and_the_keys_are_paced_alone(at, sim_server):
    server = sim_server("--latency", "60", "--rpm", "0")  # answers come late: the run is still going while the page is read
    runner = core.get_runner()
    before = runner.gates.shared
    shared = runner.gates.shared = SharedLimits(f"redis://127.0.0.1:{free_port()}/0", timeout_s=0.5)  # nothing listens there
    try:
        on(at, "app_pages/keys.py")  # a real provider: simulated keys are never shared
        at.selectbox(key="provider").set_value("vLLM / llama.cpp (local)").run()
        at.text_input(key="base_url").set_value(server.base_url).run()
        on(at, "app_pages/run.py")
        at.button(key="run_test").click().run()
        assert not at.exception, at.exception
        assert wait_for(lambda: shared.problem is not None, timeout=30)
        at.run()
        assert any("Shared limits are off: Redis cannot be reached" in w.value for w in at.warning)
        cells = [str(v) for frame in at.dataframe for v in frame.value.to_numpy().ravel()]
        assert any("Redis unreachable: paced by this process alone" in v for v in cells)  # the key's pace, in the key table
        at.segmented_control(key="lang").set_value("zh").run()
        assert any("共享限额已关闭" in w.value for w in at.warning)
    finally:
        runner.gates.shared = before
        handle = runner.get(at.session_state["run_id"]) if "run_id" in at.session_state else None
        if handle is not None:
            handle.cancel()
            handle.abort()
            assert handle.wait(60)


def test_every_replicas_text_has_chinese():
    from app_pages.i18n_replicas import REPLICAS_STRINGS

    assert all(en and zh and en != zh for en, zh in REPLICAS_STRINGS.values())
