"""Run leases: a run is owned by one process at a time, so the app and the command line (or several
replicas of the app) can share one data folder and never run one run twice.

    lease = take_lease(store, run_id)    # RunningElsewhere if a live process holds it
    lease.renew()                        # every LEASE_TTL_S / 3 while the run goes (the Runner does it)
    lease.release()                      # when it ends
    read_lease(store, run_id)            # who holds it: what a page in another process shows

A lease is a row of `run_leases` (holder, heartbeat, expiry), taken in one write transaction that
reads the current holder and writes the new one: of two processes taking it at once, exactly one
gets it. A lease not renewed for its TTL can be taken over; so can one whose holder was a process
of this machine that is gone (a kill -9 is seen at once, not after the TTL). Times are the wall
clock (`time.time()`), the one clock that processes, and machines sharing a disk, agree on.
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import constants as C
from .errors import InputError

if TYPE_CHECKING:
    from .store import RunStore

__all__ = ["Lease", "RunLease", "RunningElsewhere", "holder", "take_lease", "read_lease", "running_elsewhere"]

Clock = Callable[[], float]

_TOKEN = secrets.token_hex(4)  # two processes that got the same pid (one after the other) differ


def _host() -> str:
    return (os.environ.get(C.LEASE_HOST_ENV) or socket.gethostname() or "localhost").replace("|", "/")


def _pid_namespace() -> str:
    """Which pids this process sees: containers on one machine share the hostname's kernel but not
    their pids, so a pid is checked only within its own namespace ('' where there is no /proc)."""
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""


def holder() -> str:
    """This process, as a lease names it: machine | pid namespace | pid | a random token."""
    return f"{_host()}|{_pid_namespace()}|{os.getpid()}|{_TOKEN}"


def _process_gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            # "pid (name) S ...": a zombie (Z) is dead, only not yet reaped by its parent.
            if f.read().rsplit(b")", 1)[-1].split()[0] in (b"Z", b"X"):
                return True
    except FileNotFoundError:
        return True
    except (OSError, IndexError):
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # it exists, as another user's process
    return False


@dataclass(frozen=True)
class Lease:
    """Who holds a run, as the store says."""

    run_id: str
    holder: str
    heartbeat_at: float  # wall clock
    expires_at: float

    def _parts(self) -> list[str]:
        parts = self.holder.split("|")
        return parts if len(parts) == 4 else ["", "", "", ""]

    @property
    def host(self) -> str:
        return self._parts()[0]

    @property
    def pid(self) -> int | None:
        pid = self._parts()[2]
        return int(pid) if pid.isdigit() else None

    @property
    def mine(self) -> bool:
        return self.holder == holder()

    def alive(self, now: float | None = None) -> bool:
        """Renewed within its TTL, by a process that, if it is of this machine, still exists."""
        if self.expires_at <= (time.time() if now is None else now):
            return False
        host, namespace, _, _ = self._parts()
        if host == _host() and namespace and namespace == _pid_namespace() and self.pid is not None and not self.mine:
            return not _process_gone(self.pid)
        return True

    def elsewhere(self, now: float | None = None) -> bool:
        """Held by another live process: this one must not run it."""
        return not self.mine and self.alive(now)

    @property
    def here(self) -> bool:
        """Held by a process of this machine."""
        return self.host == _host()

    @property
    def where(self) -> str:
        """'process 4242 on this machine', 'process 7 on app-2'."""
        place = "this machine" if self.here else self.host or "another machine"
        return f"process {self.pid} on {place}" if self.pid is not None else place


class RunningElsewhere(InputError):
    def __init__(self, lease: Lease, ttl_s: float | None = None) -> None:
        ttl = int(ttl_s if ttl_s is not None else C.LEASE_TTL_S)
        super().__init__(
            f"This run is running in another process ({lease.where}); its progress shows here. It can be resumed here once that process "
            f"stops, or when it has not been heard from for {ttl} s.",
            "running_elsewhere", where=lease.where, seconds=ttl, pid=lease.pid, host=lease.host,
        )  # fmt: skip
        self.lease = lease


class RunLease:
    """A lease this process holds on one run: renew it while the run goes, release it at the end."""

    def __init__(self, store: RunStore, run_id: str, holder: str, ttl_s: float, clock: Clock = time.time) -> None:
        self.store, self.run_id, self.holder, self.ttl_s, self._clock = store, run_id, holder, ttl_s, clock

    @property
    def heartbeat_s(self) -> float:
        return self.ttl_s / 3

    def renew(self) -> bool:
        """False if the lease is no longer ours: another process took the run over (this one was
        silent for longer than the TTL). The run must then stop at once."""
        now = self._clock()
        with self.store.transaction() as conn:
            cur = conn.execute(
                "UPDATE run_leases SET heartbeat_at = ?, expires_at = ? WHERE run_id = ? AND holder = ?", (now, now + self.ttl_s, self.run_id, self.holder)
            )
            return cur.rowcount == 1

    def release(self) -> None:
        with self.store.transaction() as conn:
            conn.execute("DELETE FROM run_leases WHERE run_id = ? AND holder = ?", (self.run_id, self.holder))


def take_lease(store: RunStore, run_id: str, *, me: str | None = None, ttl_s: float | None = None, clock: Clock = time.time) -> RunLease:
    """Own the run, or raise RunningElsewhere if another live process does. Taking a lease this
    process already holds renews it. The run must exist."""
    me = me or holder()
    ttl = C.LEASE_TTL_S if ttl_s is None else ttl_s
    now = clock()
    held: Lease | None = None
    # Read and write in one IMMEDIATE transaction: no other process writes in between.
    with store.transaction() as conn:
        row = conn.execute("SELECT holder, heartbeat_at, expires_at FROM run_leases WHERE run_id = ?", (run_id,)).fetchone()
        if row is not None:
            lease = Lease(run_id, row[0], row[1], row[2])
            if lease.holder != me and lease.alive(now):
                held = lease
        if held is None:
            conn.execute(
                "INSERT INTO run_leases (run_id, holder, heartbeat_at, expires_at) VALUES (?, ?, ?, ?) ON CONFLICT (run_id) DO UPDATE SET "
                "holder = excluded.holder, heartbeat_at = excluded.heartbeat_at, expires_at = excluded.expires_at",
                (run_id, me, now, now + ttl),
            )
    if held is not None:
        raise RunningElsewhere(held, ttl)
    return RunLease(store, run_id, me, ttl, clock)


def read_lease(store: RunStore, run_id: str) -> Lease | None:
    row = store.connection.execute("SELECT holder, heartbeat_at, expires_at FROM run_leases WHERE run_id = ?", (run_id,)).fetchone()
    return Lease(run_id, row[0], row[1], row[2]) if row is not None else None


def running_elsewhere(store: RunStore, run_id: str) -> Lease | None:
    """The lease of another live process on this run, if there is one."""
    lease = read_lease(store, run_id)
    return lease if lease is not None and lease.elsewhere() else None
