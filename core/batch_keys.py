"""Which key sends and follows each part of a batch run. With several keys the parts are spread
over them; a part belongs to the key that uploads its file, because the file and its batch live
in that key's account and no other key can see them. The store records the key's fingerprint
(never the key); a part whose key is not here now waits for it, and says which key it waits for.

    keys = PartKeys(entries, record.keys, client_factory, timeout_s)
    entry = keys.owner(job) or keys.pick(job.part)     # MissingKey: that part's key is gone
    client = keys.client(entry)
"""

from __future__ import annotations

from collections.abc import Sequence

import openai

from .batch_store import BatchJob
from .clients import ClientFactory
from .keys import KeyEntry, KeyInfo

__all__ = ["PartKeys", "MissingKey", "missing_key_message"]


class MissingKey(Exception):
    """A part's file or batch belongs to a key this run does not have now."""

    def __init__(self, job: BatchJob) -> None:
        super().__init__(f"part {job.part} belongs to key {job.key_fp}")
        self.job = job


def missing_key_message(jobs: Sequence[BatchJob], masked: dict[str, str]) -> str:
    """The sentence a run waiting for its parts' keys says (core/messages.py reads it back)."""
    keys = sorted({masked.get(j.key_fp or "", f"with fingerprint {(j.key_fp or '')[:8]}") for j in jobs})
    files = ", ".join(str(j.part + 1) for j in sorted(jobs, key=lambda j: j.part))
    many_keys, many_files = len(keys) > 1, len(jobs) > 1
    return (
        f"Waiting for the key{'s' if many_keys else ''} {', '.join(keys)}: {'they' if many_keys else 'it'} sent "
        f"file{'s' if many_files else ''} {files} of this batch, and only {'those keys' if many_keys else 'that key'} can follow "
        f"{'them' if many_files else 'it'}. Enter {'them' if many_keys else 'it'} again (keys are never saved)."
    )


class PartKeys:
    """The run's keys by fingerprint, each with its own client, opened on first use."""

    def __init__(self, keys: Sequence[KeyEntry], known: Sequence[KeyInfo], client_factory: ClientFactory, timeout_s: float) -> None:
        self._entries: dict[str, KeyEntry] = {}
        self._masked = {k.fingerprint: k.masked for k in known}
        self._clients: dict[str, openai.AsyncOpenAI] = {}
        self._factory = client_factory
        self._timeout = timeout_s
        self.add(keys)

    @property
    def entries(self) -> list[KeyEntry]:
        return list(self._entries.values())

    def add(self, keys: Sequence[KeyEntry]) -> None:
        for k in keys:
            self._entries.setdefault(k.fingerprint, k)
            self._masked.setdefault(k.fingerprint, k.masked)

    def owner(self, job: BatchJob) -> KeyEntry | None:
        """The key this part belongs to; None if it belongs to none yet (nothing of it is at the
        provider, so any key may take it). Raises MissingKey if its file was uploaded by a key
        that is not here."""
        if job.key_fp is None:
            # A part stored before parts had keys was sent with the run's first key.
            return self.entries[0] if job.input_file_id is not None else None
        entry = self._entries.get(job.key_fp)
        if entry is None and job.input_file_id is not None:
            raise MissingKey(job)
        # Its key is gone, but it never got a file id: no batch can exist for it (a batch is only
        # made from a stored file id), so another key may send it.
        return entry

    def pick(self, part: int) -> KeyEntry:
        """The key a new part goes to: the parts take the keys in turn."""
        entries = self.entries
        return entries[part % len(entries)]

    def client(self, entry: KeyEntry) -> openai.AsyncOpenAI:
        client = self._clients.get(entry.fingerprint)
        if client is None:
            client = self._clients[entry.fingerprint] = self._factory(entry, self._timeout)
        return client

    def message(self, jobs: Sequence[BatchJob]) -> str:
        return missing_key_message(jobs, self._masked)

    async def close(self) -> None:
        for client in self._clients.values():
            try:
                await client.close()
            except Exception:
                pass
        self._clients.clear()
