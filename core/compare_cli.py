"""`python -m core compare`: several prompts and models on the same rows, headless.

    python -m core compare questions.csv --template "Compute {question}." \\
        --template "Compute {question} step by step, carefully." --demo --label-column answer \\
        --output wide.csv --summary summary.csv
    DEEPSEEK_KEYS=sk-a python -m core compare q.xlsx --template-file a.txt --template-file b.txt \\
        --model deepseek-chat --model deepseek-reasoner --base-url https://api.deepseek.com/v1 \\
        --keys-env DEEPSEEK_KEYS --score numeric:0.01 --sample 200 --seed 1 --output wide.xlsx

Every template x model is a variant. Exit codes as for `run`: 0 every row of every variant
succeeded, 1 some did not (the tables still have every row), 2 bad input.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path
from typing import TextIO

from . import constants as C
from .cli import _concurrency, _rpm, given_keys
from .columns import columns_from_file, text_columns
from .compare import ComparisonProgress, comparison_progress, resume_comparison, start_comparison
from .compare_report import CompareTable, compare_table
from .compare_store import get_comparison
from .errors import InputError
from .exports import format_for_path, write_export
from .constants import SIMULATED_BASE_URL
from .keys import SIMULATED_PROVIDER, KeyEntry, demo_pool, make_pool, parse_keys
from .runner import get_runner
from .scoring import Scoring
from .spec import RunSpec
from .store import RunStore
from .tables import load_table
from .variants import RowSelection, Variant, grid

__all__ = ["main"]

POLL_S = 0.5
QUIET_PRINT_S = 5.0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m core compare", description="Run several prompts and models on the same rows and compare them side by side.")
    p.add_argument("input", metavar="INPUT", nargs="?", help="CSV, TSV or XLSX file (not needed with --resume)")
    p.add_argument("--sheet", help="XLSX sheet to read (default: the first)")
    p.add_argument("--template", action="append", default=[], help="a prompt with {column} placeholders (repeat for each prompt)")
    p.add_argument("--template-file", action="append", default=[], help="a file holding a prompt (repeatable)")
    p.add_argument("--system", help="system prompt for every variant")
    p.add_argument("--model", action="append", default=[], help="a model (repeat for each model); every template x model is a variant")
    p.add_argument("--demo", action="store_true", help="use the built-in simulated provider (no key, no network)")
    p.add_argument("--base-url", help="OpenAI-compatible base URL")
    p.add_argument("--key", action="extend", nargs="+", default=[], help="API key (repeatable; prefer --keys-env)")
    p.add_argument("--keys-env", metavar="VAR", help="environment variable holding comma-separated keys")
    p.add_argument("--shared-limit", action="store_true", help="the keys share one account's limit")
    p.add_argument("--label-column", help="column with the expected answer, for accuracy")
    p.add_argument(
        "--score", default="exact", metavar="MODE", help="exact | exact:case | numeric:TOL | numeric:N%% | oneof:a,b,c | contains | regex:PAT (default: exact)"
    )
    p.add_argument("--rows", type=int, metavar="N", help="only the first N rows")
    p.add_argument("--sample", type=int, metavar="N", help="N rows at random (with --seed, the same rows every time)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rpm", type=_rpm, default=None, metavar="auto|N", help="requests per minute per key: auto (default) or a ceiling")
    p.add_argument("--concurrency", type=_concurrency, default=str(C.DEFAULT_CONCURRENCY), metavar="N|auto", help="requests in flight at once, per variant")
    p.add_argument("--temperature", type=float)
    p.add_argument("--max-tokens", type=int)
    p.add_argument("--json-fields", help="comma-separated fields to extract from a JSON answer (the last is scored)")
    p.add_argument("--columns", metavar="COLUMNS.json", help="output columns, as the Prompt page's editor holds them (a JSON list; the last is scored)")
    p.add_argument("--max-attempts", type=int, default=C.DEFAULT_MAX_ATTEMPTS)
    p.add_argument("--no-cache", action="store_true", help="do not answer repeated prompts from the response cache")
    p.add_argument("--output", required=True, help="the wide table: OUT.csv, OUT.xlsx or OUT.jsonl")
    p.add_argument("--summary", help="the summary, one row per variant: SUMMARY.csv, .xlsx or .jsonl")
    p.add_argument("--data-dir", help=f"where runs are stored (default ${C.DATA_DIR_ENV} or ./{C.DEFAULT_DATA_DIR})")
    p.add_argument("--resume", metavar="ID", help="continue a stored comparison; rows already done are not sent again")
    return p


def _keys(args: argparse.Namespace) -> list[KeyEntry]:
    if args.demo:
        return demo_pool(4, rpm=args.rpm)
    keys = given_keys(args)
    if not args.base_url:
        raise InputError("Give --base-url with your keys (and --model), or use --demo.")
    if not args.model and not args.resume:
        raise InputError("Give at least one --model.")
    return make_pool(
        parse_keys(",".join(keys)), provider="Custom", base_url=args.base_url, model=(args.model or ["-"])[0], rpm=args.rpm, shared_limit=args.shared_limit
    )


def _templates(args: argparse.Namespace) -> list[str]:
    templates = list(args.template)
    for name in args.template_file:
        try:
            templates.append(Path(name).read_text(encoding="utf-8-sig"))
        except OSError as exc:
            raise InputError(f"Cannot read the template file {name}: {exc.strerror}.") from None
    if not templates:
        raise InputError("Give the prompts with --template TEXT (or --template-file FILE), one per variant.")
    return templates


def _selection(args: argparse.Namespace) -> RowSelection:
    if args.rows is not None and args.sample is not None:
        raise InputError("Choose --rows N (the first N) or --sample N (at random), not both.")
    if args.rows is not None:
        return RowSelection("first", args.rows)
    if args.sample is not None:
        return RowSelection("random", args.sample, seed=args.seed)
    return RowSelection()


def _start(args: argparse.Namespace, store: RunStore, keys: list[KeyEntry]) -> str:
    if not args.input:
        raise InputError("Give the INPUT table (or --resume ID).")
    path = Path(args.input)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"Cannot read {args.input}: {exc.strerror}.") from None
    table = load_table(data, path.name, args.sheet)
    fields = tuple(f.strip() for f in (args.json_fields or "").split(",") if f.strip())
    if fields and args.columns:
        raise InputError("Give --columns or --json-fields, not both.", "columns_and_fields")
    columns = columns_from_file(args.columns) if args.columns else text_columns(fields)
    provider, base_url = (SIMULATED_PROVIDER, SIMULATED_BASE_URL) if args.demo else ("Custom", keys[0].base_url)
    template = Variant(
        "base", "-", args.system, provider, base_url, keys[0].model, args.temperature, args.max_tokens, columns=columns,
    )  # fmt: skip
    variants = grid(_templates(args), args.model or [keys[0].model], base=template)
    base = RunSpec(
        template="-", label_column=args.label_column, concurrency=args.concurrency[0], auto_concurrency=args.concurrency[1],
        max_attempts=args.max_attempts, use_cache=not args.no_cache,
    )  # fmt: skip
    record = start_comparison(store, table.frame, variants, keys, base=base, selection=_selection(args), scoring=Scoring.parse(args.score), file_name=path.name)
    return record.id


def _line(progress: ComparisonProgress) -> str:
    parts = []
    for v in progress.variants:
        s = v.snapshot
        if s is None:
            parts.append(f"{v.variant.name} deleted")
            continue
        failed = s.failed + s.unparsed
        parts.append(f"{v.variant.name} {s.done}/{s.total}" + (f" ({failed} failed)" if failed else ""))
    return f"[{progress.fraction:4.0%}] " + "  ".join(parts)


def _watch(store: RunStore, cid: str, err: TextIO) -> ComparisonProgress:
    runner = get_runner()
    tty = err.isatty()
    last = 0.0
    stopped_for_keys = False
    while True:
        progress = comparison_progress(store, cid, runner)
        assert progress is not None
        if not stopped_for_keys and any(v.snapshot and v.snapshot.state == "waiting_for_keys" for v in progress.variants):
            stopped_for_keys = True  # the command line cannot be given new keys: stop, to be resumed
            for run_id in progress.record.run_ids:
                if (h := runner.going(run_id)) is not None:
                    h.stop("Every key stopped working; resume with --resume and working keys.")
        now = time.monotonic()
        if tty:
            err.write("\r" + _line(progress) + "\x1b[K")
        elif now - last >= QUIET_PRINT_S or not progress.live:
            err.write(_line(progress) + "\n")
            last = now
        err.flush()
        if not progress.live:
            if tty:
                err.write("\n")
            return progress
        time.sleep(POLL_S)


def _report(data: CompareTable, err: TextIO) -> None:
    for s in data.summaries:
        acc = f"{s.accuracy:.1%} ({s.correct}/{s.judged})" if s.accuracy is not None else "–"
        p50 = f"{s.p50_ms / 1000:.2f}s" if s.p50_ms is not None else "–"
        p95 = f"{s.p95_ms / 1000:.2f}s" if s.p95_ms is not None else "–"
        err.write(
            f"  {s.name:<20} {s.state:<12} accuracy {acc:<18} failed {s.failed:<5} tokens {s.tokens_in + s.tokens_out:<9,} ${s.cost:.4f}  p50 {p50} p95 {p95}\n"
        )
    v = data.verdict
    if v.winner and v.runner_up and v.margin is not None:
        noise = "bigger than the noise" if v.significant else "within the noise"
        err.write(
            f"winner: {v.winner}, {v.margin * 100:+.1f} points ahead of {v.runner_up} ({v.only_winner_right} rows only it got right, "
            f"{v.only_runner_up_right} the reverse; p = {v.p_value:.2g}: {noise})\n"
        )
    elif v.reason == "tie":
        err.write("no winner: the best variants are equally accurate\n")


def _run(args: argparse.Namespace, err: TextIO) -> int:
    format_for_path(args.output)  # a wrong extension is bad input: say so before any request
    if args.summary:
        format_for_path(args.summary)
    store = RunStore(args.data_dir)
    if args.resume:
        record = get_comparison(store, args.resume)
        if record is not None and not args.base_url:  # the keys are for the provider it was made with
            args.base_url = next((v.base_url for v in record.variants if not v.simulated), None)
        keys = _keys(args) if (args.demo or args.key or args.keys_env) else None
        cid = resume_comparison(store, args.resume, keys).id
    else:
        cid = _start(args, store, _keys(args))
    err.write(f"comparison: {cid}\n")
    err.flush()
    runner = get_runner()
    interrupts = 0

    def interrupt(signum, frame):  # type: ignore[no-untyped-def]
        nonlocal interrupts
        interrupts += 1
        progress = comparison_progress(store, cid, runner)
        for run_id in progress.record.run_ids if progress else ():
            if (h := runner.going(run_id)) is not None:
                h.stop(f"Interrupted: resume with --resume {cid}") if interrupts == 1 else h.abort()
        if interrupts == 1:
            err.write("\nFinishing the requests already sent; press Ctrl-C again to stop at once.\n")

    previous = signal.signal(signal.SIGINT, interrupt)
    try:
        progress = _watch(store, cid, err)
    finally:
        signal.signal(signal.SIGINT, previous)
    data = compare_table(store, cid, runner=runner)
    write_export(data.wide, args.output)
    if args.summary:
        write_export(data.summary(), args.summary)
    err.write(
        f"{progress.state}: {len(data.summaries)} variants x {data.record.n_rows} rows; wide table in {args.output}"
        + (f", summary in {args.summary}" if args.summary else "")
        + "\n"
    )
    _report(data, err)
    if progress.state != "done":
        err.write(f"Resume with: --resume {cid}\n")
    complete = all(s.ok == s.rows for s in data.summaries if s.state != "deleted")
    return 0 if progress.state == "done" and complete else 1


def main(argv: list[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    err = err or sys.stderr
    args = parser().parse_args(argv)
    try:
        return _run(args, err)
    except InputError as exc:
        err.write(f"error: {exc}\n")
        return 2
