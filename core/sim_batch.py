"""The simulated provider's Batch API: `/v1/files` (upload, retrieve, content) and `/v1/batches`
(create, retrieve, list, cancel), in OpenAI's shapes, so the real SDK drives it.

A batch goes validating -> in_progress (its counts growing) -> finalizing -> completed over
`SimulatorConfig.batch_completion_s` on the simulator's clock (0: completed at the first
retrieve). Each line is answered as a chat request would be, once, when the batch ends. Triggers
in a line's messages: SIMULATE_BAD_REQUEST puts a 400 in the error file; SIMULATE_BATCH_LOST
leaves the line out of both files (as a provider's bug would). `created` and `answered` say what
the provider saw, for tests that count it; `expire` and `finish_all` act out the window ending.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections import Counter
from collections.abc import Mapping
from email.parser import BytesParser
from email.policy import HTTP
from typing import TYPE_CHECKING

from .sim_arith import completion, estimate_tokens, read_messages
from .sim_errors import refuse_format
from .sim_fields import reply

if TYPE_CHECKING:
    from .simulator import SimResponse, Simulator

__all__ = ["BatchSim"]

_STAGES = (0.1, 0.9)  # validating until 10% of the time, finalizing after 90%


class BatchSim:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.files: dict[str, dict] = {}
        self.contents: dict[str, bytes] = {}
        self.batches: dict[str, dict] = {}
        self.created: list[tuple[str, str]] = []  # (batch id, input file id) of every create
        self.answered: Counter[str] = Counter()  # custom_id -> times answered
        self._started: dict[str, float] = {}
        self._forced: dict[str, tuple[str, int | None]] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    # --- test hooks -----------------------------------------------------------------------------

    def expire(self, batch_id: str, done: int = 0) -> None:
        """The window ends for this batch at its next retrieve, with its first `done` lines finished."""
        self._forced[batch_id] = ("expired", done)

    def finish_all(self) -> None:
        """Every unfinished batch completes at its next retrieve."""
        for batch_id, b in self.batches.items():
            if b["status"] in ("validating", "in_progress", "finalizing"):
                self._forced[batch_id] = ("completed", None)

    # --- routes ---------------------------------------------------------------------------------

    async def handle(self, method: str, route: str, headers: Mapping[str, str], body: bytes) -> SimResponse:
        from .simulator import _bearer

        refusal = self.sim._refuse_key(_bearer(headers))
        if refusal is not None:
            return refusal
        parts = route.split("/")
        i = next(n for n, p in enumerate(parts) if p in ("files", "batches"))
        kind, rest, method = parts[i], parts[i + 1 :], method.upper()
        if kind == "files":
            if method == "POST" and not rest:
                return self._upload(headers, body)
            if method == "GET" and rest and rest[0] in self.files:
                if rest[1:] == ["content"]:
                    return self._respond(self.contents[rest[0]], "application/octet-stream")
                return self._json(self.files[rest[0]])
            return self._missing("file", rest[0] if rest else "")
        if method == "POST" and not rest:
            return self._create(body)
        if method == "GET" and not rest:
            with self._lock:
                data = [self._advance(b) for b in reversed(list(self.batches))]
            return self._json(
                {"object": "list", "data": data, "first_id": data[0]["id"] if data else None, "last_id": data[-1]["id"] if data else None, "has_more": False}
            )
        if rest and rest[0] in self.batches:
            with self._lock:
                if method == "POST" and rest[1:] == ["cancel"]:
                    return self._json(self._cancel(rest[0]))
                if method == "GET" and len(rest) == 1:
                    return self._json(self._advance(rest[0]))
        return self._missing("batch", rest[0] if rest else "")

    def _upload(self, headers: Mapping[str, str], body: bytes) -> SimResponse:
        message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + headers.get("content-type", "").encode() + b"\r\n\r\n" + body)
        fields: dict[str, tuple[str | None, bytes]] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            fields[str(name)] = (part.get_filename(), payload if isinstance(payload, bytes) else b"")
        if "file" not in fields:
            return self.sim._error(400, "Missing the file.", "invalid_request_error", None, param="file")
        filename, content = fields["file"]
        file_id = f"file-sim{next(self._ids):06d}"
        purpose = fields.get("purpose", (None, b"batch"))[1].decode()
        self.files[file_id] = {
            "id": file_id,
            "object": "file",
            "bytes": len(content),
            "created_at": 1700000000,
            "filename": filename or "upload.jsonl",
            "purpose": purpose,
            "status": "processed",
        }
        self.contents[file_id] = content
        return self._json(self.files[file_id])

    def _create(self, body: bytes) -> SimResponse:
        try:
            req = json.loads(body)
        except ValueError:
            req = {}
        file_id = req.get("input_file_id")
        if file_id not in self.files:
            return self._missing("file", str(file_id))
        with self._lock:
            batch_id = f"batch_sim{next(self._ids):06d}"
            lines = [ln for ln in self.contents[file_id].decode().splitlines() if ln.strip()]
            self.batches[batch_id] = {
                "id": batch_id, "object": "batch", "endpoint": req.get("endpoint", "/v1/chat/completions"), "errors": None,
                "input_file_id": file_id, "completion_window": req.get("completion_window", "24h"), "status": "validating",
                "output_file_id": None, "error_file_id": None, "created_at": 1700000000, "metadata": req.get("metadata"),
                "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
            }  # fmt: skip
            self._started[batch_id] = self.sim._clock()
            self.created.append((batch_id, file_id))
            return self._json(self.batches[batch_id])

    # --- the batch's life -------------------------------------------------------------------------

    def _lines(self, b: dict) -> list[dict]:
        return [json.loads(ln) for ln in self.contents[b["input_file_id"]].decode().splitlines() if ln.strip()]

    def _advance(self, batch_id: str) -> dict:
        b = self.batches[batch_id]
        if b["status"] in ("completed", "expired", "cancelled", "failed"):
            return b
        total = b["request_counts"]["total"]
        if b["status"] == "cancelling":
            self._finish(b, "cancelled", b["request_counts"]["completed"])
            return b
        forced = self._forced.pop(batch_id, None)
        if forced is not None:
            self._finish(b, forced[0], total if forced[1] is None else forced[1])
            return b
        span = self.sim.config.batch_completion_s
        elapsed = self.sim._clock() - self._started[batch_id]
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
        return b

    def _cancel(self, batch_id: str) -> dict:
        b = self._advance(batch_id)
        if b["status"] in ("validating", "in_progress", "finalizing"):
            b["status"] = "cancelling"
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
                    err.append(
                        json.dumps(
                            {
                                "id": f"batch_req_{n}",
                                "custom_id": cid,
                                "response": None,
                                "error": {"code": "batch_expired", "message": "This request could not be executed before the completion window expired."},
                            }
                        )
                    )
                continue
            if "SIMULATE_BATCH_LOST" in everything:
                continue
            self.answered[cid] += 1
            refusal = refuse_format(req, cfg.structured_outputs)
            if "SIMULATE_BAD_REQUEST" in everything or refusal is not None:
                body = {
                    "error": {
                        "message": "This model's maximum context length is 8192 tokens.",
                        "type": "invalid_request_error",
                        "code": "context_length_exceeded",
                    }
                } if refusal is None else {"error": {"message": refusal.message, "type": refusal.type, "param": refusal.param, "code": refusal.code}}
                err.append(
                    json.dumps(
                        {"id": f"batch_req_{n}", "custom_id": cid, "response": {"status_code": 400, "request_id": f"req_{n}", "body": body}, "error": None}
                    )
                )
                b["request_counts"]["failed"] += 1
                continue
            content, finish = reply(req, prompt, everything, seed=cfg.seed, error_rate=cfg.error_rate)
            answer = completion(f"chatcmpl-simb{n:06d}", str(req.get("model") or "simulated"), content, finish, estimate_tokens(everything) + 4 * len(messages))
            out.append(
                json.dumps(
                    {"id": f"batch_req_{n}", "custom_id": cid, "response": {"status_code": 200, "request_id": f"req_{n}", "body": answer}, "error": None},
                    ensure_ascii=False,
                )
            )
        b["request_counts"]["completed"] = len(out)
        b["status"] = status
        for key, lines in (("output_file_id", out), ("error_file_id", err)):
            if lines:
                file_id = f"file-sim{next(self._ids):06d}"
                data = ("\n".join(lines) + "\n").encode()
                self.files[file_id] = {
                    "id": file_id,
                    "object": "file",
                    "bytes": len(data),
                    "created_at": 1700000000,
                    "filename": f"{b['id']}_{key}.jsonl",
                    "purpose": "batch_output",
                    "status": "processed",
                }
                self.contents[file_id] = data
                b[key] = file_id

    # --- answers ----------------------------------------------------------------------------------

    def _json(self, payload: object) -> SimResponse:
        return self._respond(json.dumps(payload, ensure_ascii=False).encode(), "application/json")

    def _respond(self, body: bytes, content_type: str) -> SimResponse:
        from .simulator import SimResponse

        return SimResponse(200, {"content-type": content_type}, body)

    def _missing(self, what: str, ident: str) -> SimResponse:
        return self.sim._error(404, f"No such {what}: {ident!r}.", "invalid_request_error", None)
