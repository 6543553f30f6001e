"""`python -m core compare`: several prompts and models on the same rows, headless.

    python -m core compare questions.csv --template "Compute {question}." \\
        --template "Compute {question} step by step, carefully." --demo --label-column answer \\
        --output wide.csv --summary summary.csv
    DEEPSEEK_KEYS=sk-a python -m core compare q.xlsx --template-file a.txt --template-file b.txt \\
        --model deepseek-chat --model deepseek-reasoner --base-url https://api.deepseek.com/v1 \\
        --keys-env DEEPSEEK_KEYS --score numeric:0.01 --sample 200 --seed 1 --output wide.xlsx
    python -m core compare q.csv --template "..." --template "..." --demo --label-column answer \
        --score judge --judge-model simulated --judge-rubric-file rubric.txt --output wide.xlsx --summary wide.xlsx

Every template x model is a variant. `--summary` naming the same .xlsx file as `--output` writes
one workbook with a sheet each. With `--score judge`, another model grades every answer: the
variants' provider and keys by default, or its own (`--judge-base-url`, `--judge-keys-env`). Exit codes as for `run`: 0 every row of every variant
succeeded, 1 some did not (the tables still have every row), 2 bad input.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path
from typing import TextIO

from . import constants as C
from .cli import _concurrency, _rpm, given_keys
from .columns import columns_from_file, text_columns
from .compare import ComparisonProgress, comparison_progress, comparison_run_ids, resume_comparison, start_comparison, stop_comparison
from .compare_report import CompareTable, compare_table, compare_workbook
from .compare_store import ComparisonRecord, get_comparison
from .constants import SIMULATED_BASE_URL
from .errors import InputError
from .exports import format_for_path, write_bytes, write_export
from .judge import Judge
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
        "--score",
        default="exact",
        metavar="MODE",
        help="exact | exact:case | numeric:TOL | numeric:N%% | oneof:a,b,c | contains | regex:PAT | judge (default: exact)",
    )
    p.add_argument("--judge-model", metavar="M", help="the model that grades each answer (with --score judge; with --demo: simulated)")
    p.add_argument("--judge-rubric", metavar="TEXT", help="what the judge grades by, besides the label column")
    p.add_argument("--judge-rubric-file", metavar="F", help="a file holding the rubric")
    p.add_argument("--judge-base-url", metavar="URL", help="the judge's provider, if not the variants' (then --judge-keys-env)")
    p.add_argument("--judge-keys-env", metavar="VAR", help="environment variable holding the judge's comma-separated keys")
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
    p.add_argument("--summary", help="the summary, one row per variant: SUMMARY.csv, .xlsx or .jsonl (the --output .xlsx: one workbook, a sheet each)")
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


def _env_keys(var: str) -> list[str]:
    value = os.environ.get(var, "")
    if not value.strip():
        raise InputError(f"The environment variable {var} is empty: put your comma-separated keys in it.")
    return parse_keys(value)


def _judge(args: argparse.Namespace, variants_url: str) -> Judge | None:
    """The judge the options ask for: --score judge, or a --judge-model."""
    if args.score.strip().lower() != "judge" and not args.judge_model:
        return None
    rubric = args.judge_rubric or ""
    if args.judge_rubric_file:
        try:
            rubric = Path(args.judge_rubric_file).read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise InputError(f"Cannot read the rubric file {args.judge_rubric_file}: {exc.strerror}.") from None
    url = (args.judge_base_url or variants_url).rstrip("/")
    model = args.judge_model or ("simulated" if url == SIMULATED_BASE_URL else "")
    if not model:
        raise InputError("Give the judge's model with --judge-model.")
    provider = SIMULATED_PROVIDER if url == SIMULATED_BASE_URL else "Custom"
    return Judge(provider, url, model, rubric)


def _judge_pool(args: argparse.Namespace, url: str, model: str, variant_keys: list[KeyEntry]) -> list[KeyEntry]:
    """The judge's keys: its own (--judge-keys-env) when it has a provider of its own, else none
    beyond the variants' (the simulated provider needs none)."""
    if url.rstrip("/") == SIMULATED_BASE_URL or any(k.base_url.rstrip("/") == url.rstrip("/") for k in variant_keys):
        return []
    if not args.judge_keys_env:
        raise InputError("The judge's provider needs its keys: give --judge-keys-env VAR.")
    return make_pool(_env_keys(args.judge_keys_env), provider="Custom", base_url=url, model=model, rpm=args.rpm)


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
    judge = _judge(args, base_url)
    if judge is not None:
        keys = keys + _judge_pool(args, judge.base_url, judge.model, keys)
    record = start_comparison(
        store, table.frame, variants, keys, base=base, selection=_selection(args), scoring=Scoring.parse(args.score), file_name=path.name, judge=judge
    )
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
    if progress.record.judge is not None:
        parts.append(f"judge {progress.judge_done}/{progress.judge_total}")
    return f"[{progress.fraction:4.0%}] " + "  ".join(parts)


def _watch(store: RunStore, cid: str, err: TextIO) -> ComparisonProgress:
    runner = get_runner()
    tty = err.isatty()
    last = 0.0
    stopped_for_keys = False
    while True:
        progress = comparison_progress(store, cid, runner)
        assert progress is not None
        stuck = any((v.snapshot and v.snapshot.state == "waiting_for_keys") or v.judge_state == "waiting_for_keys" for v in progress.variants)
        if not stopped_for_keys and stuck:
            stopped_for_keys = True  # the command line cannot be given new keys: stop, to be resumed
            stop_comparison(store, cid, "Every key stopped working; resume with --resume and working keys.", runner)
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
    judge = data.record.judge
    if judge is not None:
        graded = sum(s.judge.graded for s in data.summaries if s.judge)
        answered = sum(s.ok + s.unparsed for s in data.summaries)
        requests = sum(s.judge.requests for s in data.summaries if s.judge)
        tokens = sum(s.judge.tokens_in + s.judge.tokens_out for s in data.summaries if s.judge)
        cost = sum(s.judge.cost for s in data.summaries if s.judge)
        err.write(
            f"judge {judge.model}: graded {graded} of {answered} answers; {requests} requests, {tokens:,} tokens, ${cost:.4f} (not in the variants' costs)\n"
        )


def _resume_keys(args: argparse.Namespace, record: ComparisonRecord | None) -> list[KeyEntry] | None:
    if record is not None and not args.base_url:  # the keys are for the provider it was made with
        args.base_url = next((v.base_url for v in record.variants if not v.simulated), None)
    keys = _keys(args) if (args.demo or args.key or args.keys_env) else None
    judge = record.judge if record is not None else None
    if judge is not None and not judge.simulated and args.judge_keys_env:  # a judge on a provider of its own
        keys = (keys or []) + make_pool(_env_keys(args.judge_keys_env), provider="Custom", base_url=judge.base_url, model=judge.model, rpm=args.rpm)
    return keys


def _write(data: CompareTable, args: argparse.Namespace) -> None:
    if args.summary and os.path.abspath(args.summary) == os.path.abspath(args.output):
        if format_for_path(args.output) != "xlsx":
            raise InputError("Only an .xlsx file holds both tables (a sheet each): give --summary a file of its own.")
        write_bytes(compare_workbook(data), args.output)
        return
    write_export(data.wide, args.output)
    if args.summary:
        write_export(data.summary(), args.summary)


def _run(args: argparse.Namespace, err: TextIO) -> int:
    format_for_path(args.output)  # a wrong extension is bad input: say so before any request
    if args.summary:
        format_for_path(args.summary)
        if os.path.abspath(args.summary) == os.path.abspath(args.output) and format_for_path(args.output) != "xlsx":
            raise InputError("Only an .xlsx file holds both tables (a sheet each): give --summary a file of its own.")
    store = RunStore(args.data_dir)
    if args.resume:
        keys = _resume_keys(args, get_comparison(store, args.resume))
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
        if interrupts == 1:
            stop_comparison(store, cid, f"Interrupted: resume with --resume {cid}", runner)
        else:
            record = get_comparison(store, cid)
            for run_id in comparison_run_ids(store, record) if record else ():
                if (h := runner.going(run_id)) is not None:
                    h.abort()
        if interrupts == 1:
            err.write("\nFinishing the requests already sent; press Ctrl-C again to stop at once.\n")

    previous = signal.signal(signal.SIGINT, interrupt)
    try:
        progress = _watch(store, cid, err)
    finally:
        signal.signal(signal.SIGINT, previous)
    data = compare_table(store, cid, runner=runner)
    _write(data, args)
    err.write(
        f"{progress.state}: {len(data.summaries)} variants x {data.record.n_rows} rows; wide table in {args.output}"
        + (f", summary in {args.summary}" if args.summary else "")
        + "\n"
    )
    _report(data, err)
    if progress.state != "done":
        err.write(f"Resume with: --resume {cid}\n")
    complete = all(s.ok == s.rows and s.judge_pending == 0 and not (s.judge and s.judge.failed) for s in data.summaries if s.state != "deleted")
    return 0 if progress.state == "done" and complete else 1


def main(argv: list[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    err = err or sys.stderr
    args = parser().parse_args(argv)
    try:
        return _run(args, err)
    except InputError as exc:
        err.write(f"error: {exc}\n")
        return 2
