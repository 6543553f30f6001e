"""The simulated provider's Batch API: `/v1/files` (upload, list, retrieve, content, delete) and
`/v1/batches` (create, retrieve, list, cancel), in OpenAI's shapes, so the real SDK drives it.

A batch goes validating -> in_progress (its counts growing) -> finalizing -> completed over
`SimulatorConfig.batch_completion_s` on the simulator's clock (0: completed at the first
retrieve). Each line is answered as a chat request would be, once, when the batch ends. Files and
batches belong to the key that made them, as at a provider: another key gets a 404 for them and
does not see them listed. Triggers in a line's messages: SIMULATE_BAD_REQUEST puts a 400 in the
error file; SIMULATE_BATCH_LOST leaves the line out of both files (as a provider's bug would).
`created` and `answered` say what the provider saw, for tests that count it; `finish`,
`finish_all` and `expire` act out a batch ending.

With a `folder` (the demo's: the data folder's `simulator/`), files and batches are kept there
instead of in memory, on the wall clock, so a demo batch is still there after a restart of the
app and finishes as it would have. Owners are kept as a digest of the key, never the key.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from email.parser import BytesParser
from email.policy import HTTP
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from . import constants as C
from .sim_arith import completion, estimate_tokens, read_messages
from .sim_errors import refuse_format
from .sim_fields import reply

if TYPE_CHECKING:
    from .simulator import SimResponse, Simulator

__all__ = ["BatchSim"]

_STAGES = (0.1, 0.9)  # validating until 10% of the time, finalizing after 90%
_ID = re.compile(r"[A-Za-z0-9_\-]+")
_RUNNING = ("validating", "in_progress", "finalizing")


class _Shelf(MutableMapping[str, Any]):
    """A folder with one file per id (JSON, or raw bytes). The folder is asked for at every use:
    the demo's data folder is read from the environment, as the run store's is."""

    def __init__(self, folder: Callable[[], Path], name: str, *, raw: bool = False) -> None:
        self._folder, self._name, self._raw = folder, name, raw

    def _dir(self) -> Path:
        path = self._folder() / self._name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _path(self, key: str) -> Path:
        if not _ID.fullmatch(key):
            raise KeyError(key)
        return self._dir() / key

    def __getitem__(self, key: str) -> Any:
        path = self._path(key)
        try:
            data = path.read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            raise KeyError(key) from None
        return data if self._raw else json.loads(data)

    def __setitem__(self, key: str, value: Any) -> None:
        path = self._path(key)
        tmp = path.with_name(f".{key}.tmp")
        tmp.write_bytes(value if self._raw else json.dumps(value, ensure_ascii=False).encode())
        os.replace(tmp, path)  # whole or not at all, as a provider's record is

    def __delitem__(self, key: str) -> None:
        try:
            self._path(key).unlink()
        except FileNotFoundError:
            raise KeyError(key) from None

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(p.name for p in self._dir().iterdir() if _ID.fullmatch(p.name)))

    def __len__(self) -> int:
        return sum(1 for _ in self)


def owner_of(key: str) -> str:
    """Whose a file or batch is: a digest of the key that made it (a folder never holds a key)."""
    return hashlib.sha256(f"llm-batch-sim\0{key}".encode()).hexdigest()[:16]


class BatchSim:
    def __init__(self, sim: Simulator, folder: Callable[[], Path] | None = None, clock: Callable[[], float] | None = None) -> None:
        self.sim = sim
        self.folder = folder
        self.files: MutableMapping[str, dict] = {} if folder is None else _Shelf(folder, "files")
        self.contents: MutableMapping[str, bytes] = {} if folder is None else _Shelf(folder, "contents", raw=True)
        self.batches: MutableMapping[str, dict] = {} if folder is None else _Shelf(folder, "batches")
        self._started: MutableMapping[str, float] = {} if folder is None else _Shelf(folder, "started")
        self._owners: MutableMapping[str, str] = {} if folder is None else _Shelf(folder, "owners")
        self._clock = clock  # None: the simulator's
        self.created: list[tuple[str, str]] = []  # (batch id, input file id) of every create
        self.answered: Counter[str] = Counter()  # custom_id -> times answered
        self._forced: dict[str, tuple[str, int | None]] = {}
        self._ids: dict[Path | None, Iterator[int]] = {}
        self._lock = threading.Lock()

    def _now(self) -> float:
        return self._clock() if self._clock is not None else self.sim._clock()

    def _new_id(self, prefix: str) -> str:
        where = self.folder() if self.folder is not None else None
        counter = self._ids.get(where)
        if counter is None:
            # After a restart the numbers go on from the highest kept, so no id is given twice.
            numbers = [int(m.group(1)) for shelf in (self.files, self.batches) for name in shelf if (m := re.search(r"(\d+)$", name))]
            counter = self._ids[where] = itertools.count(max(numbers, default=0) + 1)
        return f"{prefix}{next(counter):06d}"

    # --- test hooks -----------------------------------------------------------------------------

    def expire(self, batch_id: str, done: int = 0) -> None:
        """The window ends for this batch at its next retrieve, with its first `done` lines finished."""
        self._forced[batch_id] = ("expired", done)

    def finish(self, batch_id: str) -> None:
        """This batch completes at its next retrieve."""
        self._forced[batch_id] = ("completed", None)

    def finish_all(self) -> None:
        """Every unfinished batch completes at its next retrieve."""
        for batch_id, b in self.batches.items():
            if b["status"] in _RUNNING:
                self._forced[batch_id] = ("completed", None)

    def owner(self, ident: str) -> str | None:
        """The digest (`owner_of`) of the key a file or batch belongs to."""
        return self._owners.get(ident)

    # --- routes ---------------------------------------------------------------------------------

    async def handle(self, method: str, route: str, headers: Mapping[str, str], body: bytes, query: str = "") -> SimResponse:
        from .simulator import _bearer

        key = _bearer(headers)
        refusal = self.sim._refuse_key(key)
        if refusal is not None:
            return refusal
        who = owner_of(key)
        parts = route.split("/")
        i = next(n for n, p in enumerate(parts) if p in ("files", "batches"))
        kind, rest, method = parts[i], parts[i + 1 :], method.upper()
        with self._lock:
            if kind == "files":
                return self._files(method, rest, headers, body, parse_qs(query), who)
            return self._batches(method, rest, body, who)

    def _mine(self, ident: str, who: str, shelf: MutableMapping[str, Any]) -> bool:
        return ident in shelf and self._owners.get(ident) == who

    def _files(self, method: str, rest: list[str], headers: Mapping[str, str], body: bytes, query: dict[str, list[str]], who: str) -> SimResponse:
        if not rest:
            if method == "POST":
                return self._upload(headers, body, who)
            if method == "GET":
                purpose = query["purpose"][0] if query.get("purpose") else None
                data = [f for ident, f in self.files.items() if self._owners.get(ident) == who and (purpose is None or f["purpose"] == purpose)]
                return self._json({"object": "list", "data": data, "has_more": False, "first_id": data[0]["id"] if data else None,
                                   "last_id": data[-1]["id"] if data else None})  # fmt: skip
        elif self._mine(rest[0], who, self.files):
            ident = rest[0]
            if method == "GET" and rest[1:] == ["content"]:
                return self._respond(self.contents[ident], "application/octet-stream")
            if method == "GET" and len(rest) == 1:
                return self._json(self.files[ident])
            if method == "DELETE" and len(rest) == 1:
                self._forget_file(ident)
                return self._json({"id": ident, "object": "file", "deleted": True})
        return self._missing("file", rest[0] if rest else "")

    def _batches(self, method: str, rest: list[str], body: bytes, who: str) -> SimResponse:
        if not rest:
            if method == "POST":
                return self._create(body, who)
            if method == "GET":
                data = [self._advance(b) for b in reversed(list(self.batches)) if self._owners.get(b) == who]
                return self._json({"object": "list", "data": data, "first_id": data[0]["id"] if data else None,
                                   "last_id": data[-1]["id"] if data else None, "has_more": False})  # fmt: skip
        elif self._mine(rest[0], who, self.batches):
            if method == "POST" and rest[1:] == ["cancel"]:
                return self._json(self._cancel(rest[0]))
            if method == "GET" and len(rest) == 1:
                return self._json(self._advance(rest[0]))
        return self._missing("batch", rest[0] if rest else "")

    def _upload(self, headers: Mapping[str, str], body: bytes, who: str) -> SimResponse:
        message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + headers.get("content-type", "").encode() + b"\r\n\r\n" + body)
        fields: dict[str, tuple[str | None, bytes]] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            fields[str(name)] = (part.get_filename(), payload if isinstance(payload, bytes) else b"")
        if "file" not in fields:
            return self.sim._error(400, "Missing the file.", "invalid_request_error", None, param="file")
        filename, content = fields["file"]
        purpose = fields.get("purpose", (None, b"batch"))[1].decode()
        return self._json(self._store_file(filename or "upload.jsonl", purpose, content, who))

    def _store_file(self, filename: str, purpose: str, content: bytes, who: str) -> dict:
        file_id = self._new_id("file-sim")
        meta = {"id": file_id, "object": "file", "bytes": len(content), "created_at": 1700000000, "filename": filename, "purpose": purpose,
                "status": "processed"}  # fmt: skip
        self.contents[file_id] = content  # the content first: a file listed is a whole file
        self._owners[file_id] = who
        self.files[file_id] = meta
        return meta

    def _forget_file(self, file_id: str) -> None:
        for shelf in (self.files, self.contents, self._owners):
            shelf.pop(file_id, None)

    def _create(self, body: bytes, who: str) -> SimResponse:
        try:
            req = json.loads(body)
        except ValueError:
            req = {}
        file_id = req.get("input_file_id")
        if not isinstance(file_id, str) or not self._mine(file_id, who, self.files):
            return self._missing("file", str(file_id))
        if self.folder is not None:
            self._prune()
        batch_id = self._new_id("batch_sim")
        lines = [ln for ln in self.contents[file_id].decode().splitlines() if ln.strip()]
        b = {
            "id": batch_id, "object": "batch", "endpoint": req.get("endpoint", "/v1/chat/completions"), "errors": None,
            "input_file_id": file_id, "completion_window": req.get("completion_window", "24h"), "status": "validating",
            "output_file_id": None, "error_file_id": None, "created_at": 1700000000, "metadata": req.get("metadata"),
            "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
        }  # fmt: skip
        self._started[batch_id] = self._now()
        self._owners[batch_id] = who
        self.batches[batch_id] = b
        self.created.append((batch_id, file_id))
        return self._json(b)

    def _prune(self) -> None:
        """Batches older than SIM_BATCH_KEEP_S go, with their files: the data folder does not grow for ever."""
        now = self._now()
        for batch_id, started in list(self._started.items()):
            if now - started <= C.SIM_BATCH_KEEP_S:
                continue
            b = self.batches.pop(batch_id, None) or {}
            for file_id in (b.get("input_file_id"), b.get("output_file_id"), b.get("error_file_id")):
                if file_id:
                    self._forget_file(file_id)
            self._started.pop(batch_id, None)
            self._owners.pop(batch_id, None)

    # --- the batch's life -------------------------------------------------------------------------

    def _lines(self, b: dict) -> list[dict]:
        return [json.loads(ln) for ln in self.contents[b["input_file_id"]].decode().splitlines() if ln.strip()]

    def _advance(self, batch_id: str) -> dict:
        b = self.batches[batch_id]
        if b["status"] in ("completed", "expired", "cancelled", "failed"):
            return b
        total = b["request_counts"]["total"]
        forced = self._forced.pop(batch_id, None)
        if b["status"] == "cancelling":
            self._finish(b, "cancelled", b["request_counts"]["completed"])
        elif forced is not None:
            self._finish(b, forced[0], total if forced[1] is None else forced[1])
        else:
            span = self.sim.config.batch_completion_s
            elapsed = self._now() - self._started[batch_id]
            if span <= 0 or elapsed >= span:
                self._finish(b, "completed", total)
            elif elapsed < span * _STAGES[0]:
                b["status"] = "validating"
            elif elapsed < span * _STAGES[1]:
                b["status"] = "in_progress"
                b["request_counts"]["completed"] = int(total * (elapsed - span * _STAGES[0]) / (span * (_STAGES[1] - _STAGES[0])))
            else:
                b["status"] = "finalizing"
                b["request_counts"]["completed"] = total
        self.batches[batch_id] = b  # kept (in a folder, written back)
        return b

    def _cancel(self, batch_id: str) -> dict:
        b = self._advance(batch_id)
        if b["status"] in _RUNNING:
            b["status"] = "cancelling"
            self.batches[batch_id] = b
        return b

    def _finish(self, b: dict, status: str, done: int) -> None:
        """Answer the first `done` lines; the rest are expired (error file) or cancelled (left out)."""
        out: list[str] = []
        err: list[str] = []
        cfg = self.sim.config
        for n, line in enumerate(self._lines(b)):
            cid = str(line.get("custom_id") or "")
            req = line.get("body") or {}
            messages = req.get("messages") or [{"role": "user", "content": ""}]
            prompt, everything = read_messages(messages)
            if n >= done:
                if status == "expired":
                    error = {"code": "batch_expired", "message": "This request could not be executed before the completion window expired."}
                    err.append(json.dumps({"id": f"batch_req_{n}", "custom_id": cid, "response": None, "error": error}))
                continue
            if "SIMULATE_BATCH_LOST" in everything:
                continue
            self.answered[cid] += 1
            refusal = refuse_format(req, cfg.structured_outputs)
            if "SIMULATE_BAD_REQUEST" in everything or refusal is not None:
                body = (
                    {
                        "error": {
                            "message": "This model's maximum context length is 8192 tokens.",
                            "type": "invalid_request_error",
                            "code": "context_length_exceeded",
                        }
                    }
                    if refusal is None
                    else {"error": {"message": refusal.message, "type": refusal.type, "param": refusal.param, "code": refusal.code}}
                )
                response = {"status_code": 400, "request_id": f"req_{n}", "body": body}
                err.append(json.dumps({"id": f"batch_req_{n}", "custom_id": cid, "response": response, "error": None}))
                b["request_counts"]["failed"] += 1
                continue
            content, finish = reply(req, prompt, everything, seed=cfg.seed, error_rate=cfg.error_rate)
            answer = completion(f"chatcmpl-simb{n:06d}", str(req.get("model") or "simulated"), content, finish, estimate_tokens(everything) + 4 * len(messages))
            response = {"status_code": 200, "request_id": f"req_{n}", "body": answer}
            out.append(json.dumps({"id": f"batch_req_{n}", "custom_id": cid, "response": response, "error": None}, ensure_ascii=False))
        b["request_counts"]["completed"] = len(out)
        b["status"] = status
        who = self._owners.get(b["id"], "")
        for key, lines in (("output_file_id", out), ("error_file_id", err)):
            if lines:
                b[key] = self._store_file(f"{b['id']}_{key}.jsonl", "batch_output", ("\n".join(lines) + "\n").encode(), who)["id"]

    # --- answers ----------------------------------------------------------------------------------

    def _json(self, payload: object) -> SimResponse:
        return self._respond(json.dumps(payload, ensure_ascii=False).encode(), "application/json")

    def _respond(self, body: bytes, content_type: str) -> SimResponse:
        from .simulator import SimResponse

        return SimResponse(200, {"content-type": content_type}, body)

    def _missing(self, what: str, ident: str) -> SimResponse:
        return self.sim._error(404, f"No such {what}: {ident!r}.", "invalid_request_error", None)
