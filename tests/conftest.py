from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from core import constants as C
from core.keys import KeyEntry
from core.runner import Runner
from core.simulator import Simulator, SimulatorConfig
from core.store import RunStore

ROOT = Path(__file__).resolve().parent.parent

# The browser tests' fixtures (`browser`, `apps`, `sessions`), for every test module.
pytest_plugins = ["tests.browser"]


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries back off in milliseconds in tests; the policy itself is tested in test_errors."""
    monkeypatch.setattr(C, "BACKOFF_BASE_S", 0.005)
    monkeypatch.setattr(C, "BACKOFF_MAX_S", 0.05)


@pytest.fixture(autouse=True)
def fresh_login_throttle(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with no failed sign-in counted against the process (the throttle is
    process-wide by design: one test's wrong passwords must not slow another's)."""
    from core import throttle

    monkeypatch.setattr(throttle, "_throttle", None)


@pytest.fixture
def at(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The app in Streamlit's AppTest, on a fresh data folder, with no key from the environment."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("LLM_BATCH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    app.run()
    assert not app.exception, app.exception
    return app


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RunStore]:
    s = RunStore(tmp_path / "data")
    yield s
    s.close()


class FullDiskStore(RunStore):
    """A store whose disk can be filled and freed from the test, whichever thread writes:
    SQLite's `max_page_count` (a per-connection limit, applied here to every thread's
    connection, fresh ones included) turns the next write that needs a page into a real
    SQLITE_FULL, "database or disk is full"."""

    UNLIMITED = 1_073_741_823
    max_pages = UNLIMITED

    def _conn(self):  # type: ignore[no-untyped-def]
        conn = super()._conn()
        if getattr(self._local, "limited", None) is not conn or self._local.limit != self.max_pages:
            conn.execute(f"PRAGMA max_page_count = {self.max_pages}")
            self._local.limited, self._local.limit = conn, self.max_pages
        return conn

    def fill_disk(self) -> None:
        """No room for one more page."""
        self.max_pages = self._conn().execute("PRAGMA page_count").fetchone()[0]

    def free_disk(self) -> None:
        self.max_pages = self.UNLIMITED


@pytest.fixture
def full_disk_store(tmp_path: Path) -> Iterator[FullDiskStore]:
    s = FullDiskStore(tmp_path / "data")
    yield s
    s.close()


class SimHarness:
    """A simulator reached in process through the SDK's HTTP transport, and a runner using it."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.sim = Simulator(config)
        self.runner = self._runner()

    def _runner(self) -> Runner:
        return Runner(client_factory=lambda entry, timeout: self.sim.client(entry.api_key, timeout=timeout, max_retries=0))

    def restart(self) -> Runner:
        """The process dies (see `crash`) and a new one starts, on the same store and the same
        provider: what a restarted app or command line finds."""
        crash(self.runner)
        self.runner = self._runner()
        return self.runner

    def keys(self, *names: str, rpm: int = 6000, tpm: int | None = None) -> list[KeyEntry]:
        return [KeyEntry("Test", "http://sim.test/v1", "simulated", name, rpm, tpm) for name in names]


@pytest.fixture
def harness() -> Iterator[callable]:
    made: list[SimHarness] = []

    def make(**config: object) -> SimHarness:
        h = SimHarness(SimulatorConfig(**{"rpm": 0, "latency_s": 0.005, "latency_jitter_s": 0.002, "error_rate": 0.0, **config}))
        made.append(h)
        return h

    yield make
    for h in made:
        h.runner.shutdown()


def crash(runner: Runner) -> None:
    """The process dies: the engine loop stops wherever it is, nothing is tidied up, the store is
    left as it was (a run says 'running'). A coroutine on the loop can die at an exact point with
    `asyncio.get_running_loop().stop(); await asyncio.Future()`."""
    runner._loop.call_soon_threadsafe(runner._loop.stop)
    runner._thread.join(30)
    assert not runner._thread.is_alive()


def arithmetic_frame(n: int, start: int = 1) -> pd.DataFrame:
    """Rows whose right answers are known: 'a + b' with answer a + b."""
    rows = [{"id": str(i), "question": f"{i} + {i * 2}", "answer": str(i * 3)} for i in range(start, start + n)]
    return pd.DataFrame(rows, dtype=object)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SimServer:
    """`python -m core.simulator` as a real loopback server in its own process."""

    def __init__(self, *args: str) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "core.simulator", "--port", str(self.port), *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        line = self.proc.stdout.readline()
        if "listening" not in line:
            self.proc.kill()
            raise RuntimeError(f"simulator did not start: {line!r} {self.proc.stderr.read()}")
        self.base_url = f"http://127.0.0.1:{self.port}/v1"

    def stats(self) -> dict:
        import json
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/_sim/stats", timeout=10) as r:
            return json.loads(r.read())

    def post(self, path: str, payload: dict) -> None:
        import json
        import urllib.request

        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", data=json.dumps(payload).encode(), method="POST", headers={"content-type": "application/json"}
        )
        urllib.request.urlopen(req, timeout=10).read()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture
def sim_server() -> Iterator[callable]:
    servers: list[SimServer] = []

    def start(*args: str) -> SimServer:
        s = SimServer(*args)
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.stop()


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.01) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


class RedisServer:
    """A real `redis-server` (the Debian package) on a free loopback port, saving nothing to disk.
    `stop()` and `start()` again on the same port act out Redis going down and coming back."""

    def __init__(self, workdir: Path, *args: str) -> None:
        import shutil

        self.exe = shutil.which("redis-server")
        if self.exe is None:
            pytest.fail("redis-server is not installed: apt-get install redis-server (the README's test command installs it)", pytrace=False)
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.args = args
        self.proc: subprocess.Popen[str] | None = None
        for _ in range(5):  # a free port can be taken by someone else before redis binds it
            self.port = free_port()
            if self.start():
                return
        raise RuntimeError("redis-server did not start on any of 5 free ports")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> bool:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self.proc = subprocess.Popen(
            [self.exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(self.workdir), *self.args],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0))

        def answers() -> bool:
            if self.proc is None or self.proc.poll() is not None:
                return True  # exited: the port was taken
            try:
                return bool(client.ping())
            except redis.AuthenticationError:
                return True  # it answers, and wants a password
            except redis.RedisError:
                return False

        wait_for(answers, timeout=30, interval=0.02)
        client.close()
        return self.proc.poll() is None

    def client(self):  # type: ignore[no-untyped-def]
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, decode_responses=True)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis")
    yield server
    server.stop()
