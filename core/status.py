"""The states of a run and of a row, as enums: `RunStatus.DONE`, `RowStatus.FAILED`.

They are `str`s with the values the store, the exports and the progress snapshot have always
used, so stored runs read back unchanged and `RunStatus.DONE == "done"`. Code that sets or
compares a state names the member: a typo (`RunStatus.DNOE`) is an AttributeError at once, not
a state that silently matches nothing.
"""

from __future__ import annotations

import enum

__all__ = ["RunStatus", "RowStatus"]


class RunStatus(enum.StrEnum):
    """Where a run stands. Stored in `runs.status`, except STARTING and FINISHING, which only a
    live engine's progress reports."""

    CREATING = "creating"  # stored while its input rows are written; invisible to readers
    DELETING = "deleting"  # stored while its rows are removed; invisible to readers
    STARTING = "starting"  # live only: the engine has not sent yet
    RUNNING = "running"
    PAUSED = "paused"
    WAITING_FOR_KEYS = "waiting_for_keys"  # every key died; a new key continues the run
    FINISHING = "finishing"  # live only: stopped, requests already sent still finishing
    DONE = "done"
    CANCELLED = "cancelled"
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # said of a stored 'running' run that no engine runs (a crash)

    @property
    def finished(self) -> bool:
        """Ended by its engine: nothing more will happen without a resume."""
        return self in (RunStatus.DONE, RunStatus.CANCELLED, RunStatus.FAILED)


class RowStatus(enum.StrEnum):
    """How a row ended. Stored in `results.status` and shown in the download's status column."""

    OK = "ok"
    UNPARSED = "unparsed"  # answered, but the JSON fields asked for could not be read
    FAILED = "failed"
    PENDING = "pending"  # no result yet: only in the download, never stored
