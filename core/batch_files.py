"""The Batch API's files: request lines (one per row, `custom_id` = run and row), split to fit the
provider's limits, and the output and error files read back into one outcome per row.

    parts, too_large = split_requests(request_lines(run_id, rows, messages_of, model, params))
    outcomes = read_outcomes(run_id, rows, output_text, error_text, state="completed")

Every row asked for gets exactly one outcome: an answer, an error, or, for a row that is in
neither file, a failure that says so (and why, from the batch's final state).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from . import constants as C
from .errors import scrub

__all__ = [
    "BatchLimits", "RequestFile", "LineOutcome", "custom_id", "row_of", "request_lines", "split_requests", "request_file",
    "read_outcomes", "missing_reason",
]  # fmt: skip

# The Batch API's path for every line; providers of the interface all ask for this one.
BATCH_URL = "/v1/chat/completions"


@dataclass(frozen=True)
class BatchLimits:
    """A provider's caps per input file (OpenAI: 50,000 requests and 200 MB); tests use small ones."""

    max_requests: int = C.BATCH_MAX_REQUESTS
    max_bytes: int = C.BATCH_MAX_BYTES


@dataclass(frozen=True)
class RequestFile:
    rows: tuple[int, ...]
    content: bytes


@dataclass(frozen=True)
class LineOutcome:
    """One row's line from a finished batch: the chat.completion body, or why there is none."""

    row: int
    body: dict | None = None
    error: str | None = None


def custom_id(run_id: str, row: int) -> str:
    return f"{run_id}:{row}"


def row_of(run_id: str, cid: object) -> int | None:
    """The row a custom_id names, None for a line of another run or a malformed one."""
    if not isinstance(cid, str):
        return None
    prefix, _, row = cid.rpartition(":")
    if prefix != run_id or not row.isdigit():
        return None
    return int(row)


def request_lines(
    run_id: str, rows: Iterable[int], messages_of: Callable[[int], list[dict[str, str]]], model: str, params: dict
) -> Iterator[tuple[int, bytes]]:
    """(row, line) for every row, in order; each line ends with a newline."""
    for row in rows:
        line = {"custom_id": custom_id(run_id, row), "method": "POST", "url": BATCH_URL, "body": {"model": model, "messages": messages_of(row), **params}}
        yield row, json.dumps(line, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def split_requests(lines: Iterable[tuple[int, bytes]], limits: BatchLimits = BatchLimits(), *, contents: bool = True) -> tuple[list[RequestFile], list[int]]:
    """Request files of at most `max_requests` lines and `max_bytes` bytes each, rows in order.
    Returns (files, rows whose one line alone is over `max_bytes`): those cannot be sent as a batch.
    With `contents=False` only the rows of each file are kept (a plan needs no 200 MB of bytes)."""
    files: list[RequestFile] = []
    too_large: list[int] = []
    rows: list[int] = []
    chunks: list[bytes] = []
    size = 0

    def close() -> None:
        nonlocal rows, chunks, size
        if rows:
            files.append(RequestFile(tuple(rows), b"".join(chunks)))
        rows, chunks, size = [], [], 0

    for row, line in lines:
        if len(line) > limits.max_bytes:
            too_large.append(row)
            continue
        if len(rows) >= limits.max_requests or size + len(line) > limits.max_bytes:
            close()
        rows.append(row)
        if contents:
            chunks.append(line)
        size += len(line)
    close()
    return files, too_large


def request_file(lines: Iterable[tuple[int, bytes]]) -> bytes:
    """One file of exactly these lines, unsplit: a planned part, rebuilt to be uploaded."""
    return b"".join(line for _, line in lines)


def missing_reason(state: str, batch_message: str = "") -> str:
    """Why a row is in neither file, from the batch's final state."""
    if state == "cancelled":
        return "The batch was cancelled before this row was done: retry the failed rows to do it."
    if state == "expired":
        return "The batch's 24 h window ended before this row was done: retry the failed rows to do it."
    if state == "failed":
        return f"The provider refused the batch: {batch_message}" if batch_message else "The provider refused the batch."
    return "The provider's batch returned no line for this row, in neither its output nor its error file."


def _error_text(error: object) -> str:
    if isinstance(error, dict):
        message = error.get("message") or error.get("code") or json.dumps(error, ensure_ascii=False)
        return str(message)
    return str(error)


def _outcome(row: int, line: dict, secrets: Sequence[str]) -> LineOutcome:
    error = line.get("error")
    response = line.get("response")
    if error:
        return LineOutcome(row, error=scrub(_error_text(error), secrets))
    if not isinstance(response, dict):
        return LineOutcome(row, error="The batch's line for this row has no response.")
    status = response.get("status_code")
    body = response.get("body")
    if isinstance(body, str):  # some providers send the body as a JSON string
        try:
            body = json.loads(body)
        except ValueError:
            body = None
    if status == 200 and isinstance(body, dict):
        return LineOutcome(row, body=body)
    detail = body.get("error") if isinstance(body, dict) else None
    text = _error_text(detail) if detail else f"HTTP {status}"
    return LineOutcome(row, error=scrub(f"The provider answered {status}: {text}", secrets, limit=500))


def read_outcomes(
    run_id: str, rows: Sequence[int], output_text: str, error_text: str, *, state: str, batch_message: str = "", secrets: Sequence[str] = ()
) -> list[LineOutcome]:
    """One outcome per row of `rows`, in their order. A row's first line wins (a provider that
    repeats a line is not paid twice here); lines of other runs and lines that are not JSON are
    skipped; a row with no line gets the reason from `missing_reason`."""
    wanted = set(rows)
    found: dict[int, LineOutcome] = {}
    for text in (output_text, error_text):
        for raw in text.splitlines():
            if not raw.strip():
                continue
            try:
                line = json.loads(raw)
            except ValueError:
                continue
            row = row_of(run_id, line.get("custom_id")) if isinstance(line, dict) else None
            if row is None or row not in wanted or row in found:
                continue
            found[row] = _outcome(row, line, secrets)
    reason = missing_reason(state, batch_message)
    return [found.get(row) or LineOutcome(row, error=reason) for row in rows]
