"""What the command line says about a batch-mode run: each batch id as soon as it exists, and each
change of a batch's stage at the provider, read from the run store (the source of truth)."""

from __future__ import annotations

from typing import TextIO

from .batch_store import BatchJobs
from .store import RunStore

__all__ = ["BatchReporter"]


class BatchReporter:
    """Call `tick()` as often as you like; it writes only what is new."""

    def __init__(self, store: RunStore, run_id: str, err: TextIO) -> None:
        self.jobs = BatchJobs(store)
        self.run_id = run_id
        self.err = err
        self._said: dict[int, tuple[str | None, str, int]] = {}

    def tick(self) -> None:
        for job in self.jobs.list(self.run_id):
            said = self._said.get(job.part)
            now = (job.batch_id, job.state, job.completed)
            if said == now or job.batch_id is None:
                continue
            if said is None or said[0] != job.batch_id:
                self.err.write(f"batch: {job.batch_id} (file {job.input_file_id}, {len(job.rows)} rows)\n")
            if said is None or said[1:] != now[1:]:
                self.err.write(f"batch {job.batch_id}: {job.state.replace('_', ' ')}, {job.completed}/{job.total} done, {job.failed} failed\n")
            self.err.flush()
            self._said[job.part] = now
