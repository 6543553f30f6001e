"""LLM Batch Studio's engine: everything that is not drawing. Never imports streamlit.

    table = load_table(data, "questions.csv")
    spec = RunSpec(template="Compute {question}. Reply with the number only.")
    handle = start_run(RunStore(), table.frame, spec, demo_pool())
    handle.snapshot()            # live progress, from any thread
    RunStore().results_table(handle.run_id)
"""

from .batch import BatchCost, batch_cost, batch_jobs, batch_supported
from .batch_store import BatchJob
from .constants import MAX_ROWS, MAX_UPLOAD_MB, MODEL_PRICES
from .clients import ClientFactory, default_client_factory
from .durations import clock, describe_seconds
from .errors import InputError
from .estimate import RunEstimate, estimate_run, price_for
from .exports import EXPORT_FORMATS, export_bytes, export_file_name, to_csv_bytes, to_jsonl_bytes, to_xlsx_bytes, write_export
from .gate_view import PACE_TEXTS, GateView, PaceSource
from .keycheck import KeyCheck, check_keys, check_keys_async
from .keyverdict import DIAGNOSES, KeyDiagnosis, diagnose
from .keys import (
    PROVIDER_PRESETS, SIMULATED_PROVIDER, KeyEntry, KeyInfo, KeySource, demo_pool, expected_rpm, key_settings, make_pool, mask_key, parse_keys,
    pool_from_env, pool_from_settings, server_pool,
)  # fmt: skip
from .limits import GateRegistry, KeyGate
from .messages import Explained, explain, host_of, root_cause
from .output import answers_match, parse_output
from .progress import KeyStatus, ProgressSnapshot
from .report import FailureCause, RunOutcome, RunReport, failure_causes, measured_output, output_tokens_sample, run_outcome, run_report
from .runner import Runner, RunHandle, get_runner
from .runs import effective_status, resume_keys, resume_run, run_progress, start_run, validate_run
from .spec import RunSpec
from .status import RowStatus, RunStatus
from .store import RowResult, RunRecord, RunStore, get_store
from .tables import ENCODINGS, SEPARATORS, LoadedTable, TableInfo, list_sheets, load_table, read_table
from .template import PromptTemplate, TemplateProblem, estimate_tokens

__all__ = [
    "BatchCost", "batch_cost", "batch_jobs", "batch_supported", "BatchJob",
    "MAX_ROWS", "MAX_UPLOAD_MB", "MODEL_PRICES",
    "ClientFactory", "default_client_factory",
    "clock", "describe_seconds",
    "InputError",
    "RunEstimate", "estimate_run", "price_for",
    "EXPORT_FORMATS", "export_bytes", "export_file_name", "to_csv_bytes", "to_jsonl_bytes", "to_xlsx_bytes", "write_export",
    "PACE_TEXTS", "GateView", "PaceSource",
    "KeyCheck", "check_keys", "check_keys_async",
    "DIAGNOSES", "KeyDiagnosis", "diagnose",
    "PROVIDER_PRESETS", "SIMULATED_PROVIDER", "KeyEntry", "KeyInfo", "KeySource", "demo_pool", "expected_rpm", "key_settings", "make_pool", "mask_key",
    "parse_keys", "pool_from_env", "pool_from_settings", "server_pool",
    "GateRegistry", "KeyGate",
    "answers_match", "parse_output",
    "Explained", "explain", "host_of", "root_cause",
    "KeyStatus", "ProgressSnapshot",
    "FailureCause", "RunOutcome", "RunReport", "failure_causes", "measured_output", "output_tokens_sample", "run_outcome", "run_report",
    "Runner", "RunHandle", "get_runner",
    "effective_status", "resume_keys", "resume_run", "run_progress", "start_run", "validate_run",
    "RunSpec",
    "RowStatus", "RunStatus",
    "RowResult", "RunRecord", "RunStore", "get_store",
    "ENCODINGS", "SEPARATORS", "LoadedTable", "TableInfo", "list_sheets", "load_table", "read_table",
    "PromptTemplate", "TemplateProblem", "estimate_tokens",
]  # fmt: skip
