"""Soak: 5,000 rows over loopback HTTP with every fault a real provider throws, at once."""

from __future__ import annotations

import threading

import pytest

from core.keys import KeyEntry
from core.runner import Runner
from core.runs import start_run
from core.spec import RunSpec
from tests.conftest import arithmetic_frame, wait_for
from tests.test_engine import within_limit

N = 5_000
RPM = 3_000  # per key, at the provider and in the engine
CONCURRENCY = 48


@pytest.mark.slow
def test_soak_5000_rows_with_faults_a_revoked_key_and_a_key_without_quota(store, sim_server):
    server = sim_server(
        "--rpm", str(RPM), "--latency", "0.03", "--jitter", "0.01", "--error-rate", "0", "--seed", "11",
        "--p-5xx", "0.05", "--p-drop", "0.02", "--p-nonjson", "0.01", "--p-timeout", "0.01", "--hang", "30",
        "--no-quota-key", "sk-broke",
    )  # fmt: skip
    keys = [KeyEntry("Soak", server.base_url, "simulated", k, RPM) for k in ("sk-one", "sk-two", "sk-revoked", "sk-broke")]
    spec = RunSpec(template="Compute {question}. Reply with the number only.", concurrency=CONCURRENCY, max_attempts=6, timeout_s=2.0, use_cache=False)
    runner = Runner()
    frame = arithmetic_frame(N)
    handle = start_run(store, frame, spec, keys, runner=runner)

    revoked_at = {}

    def revoke_midway() -> None:
        if wait_for(lambda: handle.snapshot().done >= N // 3, timeout=300):
            server.post("/_sim/revoke", {"key": "sk-revoked"})
            revoked_at["stats"] = server.stats()["sk-revoked"]

    threading.Thread(target=revoke_midway, daemon=True).start()
    assert handle.wait(600), handle.snapshot()
    snap = handle.snapshot()
    runner.shutdown()

    # every row ends, once, on its own row: ok with the right answer, or failed with a reason
    table = store.results_table(snap.run_id)
    assert len(table) == N and list(table["id"]) == list(frame["id"])
    assert set(table["status"]) <= {"ok", "failed"} and snap.pending == 0
    ok = table["status"] == "ok"
    assert (table.loc[ok, "output"] == frame.loc[ok, "answer"]).all(), "an answer landed on the wrong row"
    failed = table.loc[~ok, "error"]
    assert all(e.startswith("Failed after 6 attempts:") for e in failed)
    assert ok.mean() > 0.99  # six attempts at ~9% faults: a failed row is rare

    stats = server.stats()
    # nobody went over a key's limit, as the provider counts it
    requests = sum(s["requests"] for s in stats.values())
    assert sum(s["rate_limited"] for s in stats.values()) <= requests * 0.01
    for key in ("sk-one", "sk-two", "sk-revoked"):
        assert within_limit(stats[key]["times"], RPM), key
    # the dead keys were dropped: no more than the requests in flight when they died
    assert stats["sk-broke"]["unauthorized"] <= CONCURRENCY and stats["sk-broke"]["ok"] == 0
    after_revoke = stats["sk-revoked"]["requests"] - revoked_at["stats"]["requests"]
    assert after_revoke <= CONCURRENCY
    dead = {k.fingerprint: k for k in snap.keys}
    assert dead[keys[2].fingerprint].state == "dead" and dead[keys[3].fingerprint].state == "dead"
    assert stats["sk-one"]["ok"] > 0 and stats["sk-two"]["ok"] > 0
    assert snap.timeouts > 0 and snap.retries > 0
