"""The command line: the same engine, headless.

    python -m core run questions.csv --template "Compute {question}" --demo --output out.csv
    python -m core run big.xlsx --template-file prompt.txt --base-url https://api.deepseek.com/v1 \\
        --model deepseek-chat --keys-env DEEPSEEK_KEYS --shared-limit --output out.xlsx
    python -m core run big.xlsx --output out.xlsx --resume 20261121-203712-3fa9c2 --keys-env DEEPSEEK_KEYS

Exit codes: 0 every row succeeded, 1 some did not (the output still has every row), 2 bad input (or
a run another process is running, without --wait).
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from . import constants as C
from .batch_cli import BatchReporter
from .columns import columns_from_file, columns_to_rows
from .durations import clock
from .errors import InputError
from .exports import format_for_path, write_export
from .keys import SIMULATED_PROVIDER, KeyEntry, parse_keys, pool_from_settings
from .leases import RunningElsewhere
from .outbound import outbound_policy
from .progress import ProgressSnapshot
from .runner import RunHandle, get_runner
from .runs import effective_status, resume_run, run_progress, start_run
from .spec import RunSpec
from .status import RunStatus
from .store import RunStore
from .tables import load_table

__all__ = ["main"]


def _rpm(value: str) -> int | None:
    """`--rpm auto` (the default) learns each key's limit; a number is a ceiling."""
    if value.strip().lower() == "auto":
        return None
    try:
        rpm = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is neither auto nor a number of requests per minute") from None
    if rpm < 1:
        raise argparse.ArgumentTypeError("requests per minute must be at least 1, or auto")
    return rpm


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core", description="Run every row of a table through an LLM.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a table through a model (or resume a run)")
    run.add_argument("input", metavar="INPUT", help="CSV, TSV or XLSX file")
    run.add_argument("--sheet", help="XLSX sheet to read (default: the first)")
    run.add_argument("--encoding", help="text encoding of a CSV, any Python codec name (default: detected, e.g. utf-8, gb18030, cp1252)")
    run.add_argument("--separator", help=r"CSV separator, one character: , ; | or \t for a tab (default: detected)")
    tmpl = run.add_mutually_exclusive_group()
    tmpl.add_argument("--template", help="prompt with {column} placeholders")
    tmpl.add_argument("--template-file", help="file holding the prompt template")
    run.add_argument("--system", help="system prompt")
    run.add_argument("--demo", action="store_true", help="use the built-in simulated provider (no key, no network)")
    run.add_argument("--base-url", help="OpenAI-compatible base URL, e.g. https://api.openai.com/v1")
    run.add_argument("--model", help="model name")
    run.add_argument("--key", action="extend", nargs="+", default=[], help="API key (repeatable; prefer --keys-env)")
    run.add_argument("--keys-env", metavar="VAR", help="environment variable holding comma-separated keys")
    run.add_argument(
        "--rpm",
        type=_rpm,
        default=None,
        metavar="auto|N",
        help="requests per minute per key: auto (default) learns the provider's limit, a number is a ceiling",
    )
    run.add_argument("--shared-limit", action="store_true", help="the keys share one account's limit: one pace for all of them (--rpm N is then that limit)")
    run.add_argument("--tpm", type=int, help="tokens per minute, per key (0: none, as in the app)")
    run.add_argument(
        "--concurrency",
        type=_concurrency,
        default=str(C.DEFAULT_CONCURRENCY),
        metavar="N|auto",
        help=f"requests in flight at once; 'auto' keeps as many as the keys' pace needs (at most {C.AUTO_CONCURRENCY_CAP}), 'auto:N' at most N",
    )
    run.add_argument("--max-attempts", type=int, default=C.DEFAULT_MAX_ATTEMPTS)
    run.add_argument("--timeout", type=float, default=C.DEFAULT_TIMEOUT_S, metavar="SECONDS")
    run.add_argument("--max-tokens", type=int, help="cap on each answer's tokens (0: none, as in the app)")
    run.add_argument("--temperature", type=float)
    run.add_argument(
        "--columns", metavar="COLUMNS.json",
        help="output columns, as the Prompt page's editor holds them: a JSON list of {name, type, description, required, choices}",
    )  # fmt: skip
    run.add_argument("--json-fields", help="comma-separated text columns to fill from a JSON answer (the short form of --columns)")
    # Asking for JSON is automatic with columns now (the strongest way the provider takes); the
    # option of before is still accepted, so that old scripts run.
    run.add_argument("--json-response-format", action="store_true", help=argparse.SUPPRESS)
    run.add_argument("--max-reasks", type=int, default=C.DEFAULT_MAX_REASKS, help="times an answer that does not fit the columns is asked again")
    run.add_argument("--label-column", help="column with the expected answer, for accuracy")
    run.add_argument("--label-field", help="output column compared with the label (default: the last one)")
    run.add_argument("--price-in", type=float, help="USD per million input tokens")
    run.add_argument("--price-out", type=float, help="USD per million output tokens")
    run.add_argument("--first-rows", type=int, help="only the first N rows (a test run)")
    run.add_argument("--output", required=True, help="OUT.csv, OUT.xlsx or OUT.jsonl")
    run.add_argument("--data-dir", help=f"where runs are stored (default ${C.DATA_DIR_ENV} or ./{C.DEFAULT_DATA_DIR})")
    run.add_argument("--resume", metavar="RUN_ID", help="continue a stored run; rows already done are not sent again")
    run.add_argument(
        "--wait",
        action="store_true",
        help="with --resume: if another process is running the run, wait (showing its progress) and take it over when that process stops",
    )
    run.add_argument(
        "--switch-model", action="store_true", help="with --resume: continue the run with keys for another provider or model (recorded in the run)"
    )
    run.add_argument("--batch", action="store_true", help="send through the provider's Batch API: half price, done within 24 h (resume with --resume)")
    run.add_argument("--no-cache", action="store_true", help="do not answer repeated prompts from the response cache")
    # Parsed by core.compare_cli (see main): listed here so that -h shows it.
    sub.add_parser("compare", help="several prompts and models on the same rows, side by side", add_help=False)
    lst = sub.add_parser("list", help="list stored runs")
    lst.add_argument("--data-dir")
    clear = sub.add_parser("clear-cache", help="forget every cached answer (runs keep their results; repeated prompts are sent again)")
    clear.add_argument("--data-dir")
    return parser


def given_keys(args: argparse.Namespace) -> list[str]:
    """The keys of --key and --keys-env (the variable's value never printed)."""
    keys = list(args.key)
    if args.keys_env:
        value = os.environ.get(args.keys_env, "")
        if not value.strip():
            raise InputError(f"The environment variable {args.keys_env} is empty: put your comma-separated keys in it.")
        keys += parse_keys(value)
    return keys


def _keys(args: argparse.Namespace) -> list[KeyEntry]:
    """The options' keys, chosen by the app's own rule (core.pool_from_settings): `--demo` is the
    simulated provider, else the keys given, for the provider at --base-url."""
    settings = {"rpm": args.rpm, "tpm": args.tpm, "shared_limit": args.shared_limit}
    if args.demo:
        return pool_from_settings({**settings, "provider": SIMULATED_PROVIDER, "base_url": "", "model": ""})[0]
    keys = given_keys(args)
    if not (args.base_url and args.model):
        raise InputError("Give --base-url and --model with your keys, or use --demo.")
    keys = parse_keys(",".join(keys))
    if not keys:  # a provider the command line knows nothing about: it needs a key
        raise InputError("Paste at least one API key, or choose the simulated provider for a demo.", "no_keys")
    return pool_from_settings({**settings, "provider": "Custom", "base_url": args.base_url, "model": args.model, "user_keys": keys})[0]


def _concurrency(value: str) -> tuple[int, bool]:
    """`16` (fixed), `auto` or `auto:64` (as many as needed, at most 64)."""
    text = value.strip().lower()
    try:
        if text == "auto":
            return C.AUTO_CONCURRENCY_CAP, True
        if text.startswith("auto:"):
            return int(text[5:]), True
        return int(text), False
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, 'auto' or 'auto:N', not {value!r}") from None


def _spec(args: argparse.Namespace) -> RunSpec:
    if args.template_file:
        try:
            template = Path(args.template_file).read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise InputError(f"Cannot read the template file {args.template_file}: {exc.strerror}.") from None
    elif args.template is not None:
        template = args.template
    else:
        raise InputError("Give the prompt with --template TEXT or --template-file FILE.")
    if args.columns and args.json_fields:
        raise InputError("Give --columns or --json-fields, not both.", "columns_and_fields")
    # The options as the app's form would hold them: one mapping (RunSpec.from_settings) for both.
    return RunSpec.from_settings({
        "template": template,
        "system": args.system,
        "output_mode": "columns" if args.json_fields or args.columns else "text",
        "output_columns": columns_to_rows(columns_from_file(args.columns)) if args.columns else [],
        "json_fields": args.json_fields or "",
        "max_reasks": args.max_reasks,
        "label_column": args.label_column,
        "label_field": args.label_field,
        "set_temperature": args.temperature is not None,
        "temperature": args.temperature,
        "max_tokens": args.max_tokens,
        "concurrency": args.concurrency[0],
        "auto_concurrency": args.concurrency[1],
        "max_attempts": args.max_attempts,
        "timeout_s": args.timeout,
        "use_cache": not args.no_cache,
        "price_in": args.price_in,
        "price_out": args.price_out,
    })  # fmt: skip


def _fmt_time(seconds: float | None) -> str:
    return clock(seconds, missing="--:--")


def _progress_line(snap: ProgressSnapshot, width: int = 24) -> str:
    filled = int(width * snap.fraction)
    bar = "#" * filled + "-" * (width - filled)
    cooling = sum(1 for k in snap.keys if k.state == "cooling")
    dead = sum(1 for k in snap.keys if k.state == "dead")
    extra = (f", {cooling} key(s) cooling" if cooling else "") + (f", {dead} key(s) dead" if dead else "")
    if snap.state == RunStatus.FINISHING:
        extra += f", finishing {snap.in_flight} request(s) already sent"
    return (
        f"[{bar}] {snap.done}/{snap.total} ok {snap.ok} failed {snap.failed} {snap.rows_per_s:.1f} rows/s ETA {_fmt_time(snap.eta_s)} ${snap.cost:.4f}{extra}"
    )


def _watch(handle: RunHandle, err: TextIO, on_tick: Callable[[], None] | None = None) -> ProgressSnapshot:
    tty = err.isatty()
    last_print = 0.0
    stopped_for_keys = False
    while True:
        finished = handle.wait(0.5)
        snap = handle.snapshot()
        if on_tick is not None:
            on_tick()
        if snap.state == RunStatus.WAITING_FOR_KEYS and not stopped_for_keys:
            stopped_for_keys = True
            handle.stop(snap.message)
        now = time.monotonic()
        if tty:
            err.write("\r" + _progress_line(snap) + "\x1b[K")
            err.flush()
        elif now - last_print >= 5 or finished:
            err.write(_progress_line(snap) + "\n")
            err.flush()
            last_print = now
        if finished:
            if tty:
                err.write("\n")
            return handle.snapshot()


def _settle_gc() -> None:
    """Everything alive now (modules, the input table, the run's rows) lives until the process
    ends: take it out of the collector's sight, and collect the young generation less often.
    This was 8-10% of the command line's CPU at 800 rows/s (see benchmarks/high_rate.py)."""
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(C.GC_THRESHOLD_GEN0, gen1, gen2)


def _run(args: argparse.Namespace, err: TextIO, *, owns_process: bool = False) -> int:
    format_for_path(args.output)  # a wrong extension is bad input: say so before any request
    store = RunStore(args.data_dir)
    keys = None if (args.resume and not (args.demo or args.key or args.keys_env)) else _keys(args)
    if args.resume:
        handle = _resume(store, args, keys, err)
    else:
        path = Path(args.input)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InputError(f"Cannot read {args.input}: {exc.strerror}.") from None
        separator = "\t" if args.separator in ("\\t", "tab", "TAB") else args.separator
        table = load_table(data, path.name, args.sheet, encoding=args.encoding, separator=separator)
        spec = _spec(args)
        handle = start_run(store, table.frame, spec.replace(batch=True) if args.batch else spec, keys or [], file_name=path.name, first_rows=args.first_rows)
    err.write(f"run: {handle.run_id}\n")
    err.flush()
    if owns_process:  # a caller of main(argv) in its own process keeps its collector as it is
        _settle_gc()

    interrupts = 0

    def interrupt(signum: int, frame: object) -> None:
        # The first Ctrl-C lets requests already sent finish (they are paid); a second cuts them.
        nonlocal interrupts
        interrupts += 1
        if interrupts == 1:
            handle.stop(f"Interrupted: resume with --resume {handle.run_id}")
            err.write("\nFinishing the requests already sent; press Ctrl-C again to stop at once.\n")
        else:
            handle.abort()

    record = store.get_run(handle.run_id, counts=False)
    reporter = BatchReporter(store, handle.run_id, err) if record is not None and record.spec.batch else None
    shared = _SharedReporter(err)

    def tick() -> None:
        shared.tick()
        if reporter is not None:
            reporter.tick()

    previous = signal.signal(signal.SIGINT, interrupt)
    try:
        snap = _watch(handle, err, tick)
    finally:
        signal.signal(signal.SIGINT, previous)
    write_export(store.results_table(handle.run_id), args.output)
    accuracy = f", accuracy {snap.accuracy:.1%} of {snap.judged}" if snap.accuracy is not None else ""
    # With columns, "unparsed" rows are those whose answer did not fit them: invalid.
    counts = f"{snap.ok} valid, {snap.unparsed} invalid, {snap.reasked} re-asked" if record is not None and record.spec.columns else (
        f"{snap.ok} ok, {snap.unparsed} unparsed"
    )  # fmt: skip
    err.write(
        f"{snap.state}: {snap.total} rows, {counts}, {snap.failed} failed, {snap.pending} pending "
        f"in {_fmt_time(snap.elapsed_s)}; {snap.tokens_in + snap.tokens_out:,} tokens, ${snap.cost:.4f}{accuracy}; "
        f"results in {args.output}\n"
    )
    if snap.state != RunStatus.DONE:
        err.write(f"{snap.message}\nResume with: --resume {handle.run_id}\n")
    return 0 if snap.state == RunStatus.DONE and snap.ok == snap.total else 1


def _resume(store: RunStore, args: argparse.Namespace, keys: list[KeyEntry] | None, err: TextIO) -> RunHandle:
    """`--resume`: a run another process is running is refused, or with `--wait` watched from the
    store until that process lets go of it (or dies), then taken over."""
    said, said_at = "", -math.inf
    while True:
        try:
            return resume_run(store, args.resume, keys, switch_model=args.switch_model)
        except RunningElsewhere as exc:
            if not args.wait:
                raise
            snap = run_progress(store, args.resume)
            done = f"{snap.done}/{snap.total} rows done" if snap is not None else "progress unknown"
            line = (
                f"waiting: run {args.resume} is running in {exc.lease.where}, {done}; it goes on here when that process stops, "
                f"or has not been heard from for {exc.params['seconds']} s"
            )
            if line != said or time.monotonic() - said_at >= 10:
                err.write(line + "\n")
                err.flush()
                said, said_at = line, time.monotonic()
            try:
                time.sleep(C.LEASE_WAIT_POLL_S)
            except KeyboardInterrupt:
                raise InputError(f"Stopped waiting; run {args.resume} goes on in {exc.lease.where}.") from None


class _SharedReporter:
    """Says once when the limits shared through Redis stop being shared, and when they are back."""

    def __init__(self, err: TextIO) -> None:
        self.err = err
        self.shared = get_runner().gates.shared
        self._episode = self.shared.failures if self.shared is not None else 0  # the last one said
        self._down = False

    def tick(self) -> None:
        shared = self.shared
        if shared is None:
            return
        problem = shared.problem
        if problem is not None and shared.failures != self._episode:
            self.err.write(f"\nwarning: {problem}\n")
            self._episode, self._down = shared.failures, True
        elif problem is None and self._down:
            self.err.write(f"\nshared limits: Redis at {shared.where} answers again; keys are paced with every process again\n")
            self._down = False
        else:
            return
        self.err.flush()


def _list(args: argparse.Namespace, out: TextIO) -> int:
    store = RunStore(args.data_dir)
    for r in store.list_runs():
        status = str(effective_status(r))
        if r.running_elsewhere and r.lease is not None:
            status += f" (in {r.lease.where})"
        out.write(f"{r.id}  {status:<16} {r.done}/{r.n_rows} rows  {r.failed} failed  ${r.cost:.4f}  {r.file_name}\n")
    return 0


def _clear_cache(args: argparse.Namespace, out: TextIO) -> int:
    # The command line is the local user, whose data folder it is: every user's answers go.
    n = RunStore(args.data_dir).clear_cache()
    out.write(f"cleared {n} cached answer{'s' if n != 1 else ''}\n")
    return 0


def main(argv: list[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    argv = sys.argv[1:] if argv is None else list(argv)
    try:  # hosted mode (LLM_BATCH_HOSTED=1): a broken LLM_BATCH_ALLOW_HOSTS is said before anything runs
        outbound_policy()
    except InputError as exc:
        err.write(f"error: {exc}\n")
        return 2
    if argv[:1] == ["compare"]:
        from .compare_cli import main as compare

        return compare(argv[1:], out=out, err=err)
    args = _parser().parse_args(argv)
    try:
        if args.command == "list":
            return _list(args, out)
        if args.command == "clear-cache":
            return _clear_cache(args, out)
        return _run(args, err, owns_process=argv is None)
    except InputError as exc:
        err.write(f"error: {exc}\n")
        return 2
