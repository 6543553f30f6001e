"""LLM Batch Studio's engine: everything that is not drawing. Never imports streamlit.

table = load_table(data, "questions.csv")
spec = RunSpec(template="Compute {question}. Reply with the number only.")
handle = start_run(RunStore(), table.frame, spec, demo_pool())
handle.snapshot()            # live progress, from any thread
RunStore().results_table(handle.run_id)
"""

from .access import LOCAL_USER, AccessConfig, AccessMode, NotAllowed, User
from .batch import BatchCost, batch_cost, batch_jobs, batch_supported
from .batch_follow import follow_batches
from .batch_store import BatchJob
from .clients import ClientFactory, default_client_factory
from .columns import ColumnType, OutputColumn, columns_from_json, columns_from_rows, columns_to_json, columns_to_rows, json_schema, validate
from .compare import (
    ComparisonEstimate,
    ComparisonProgress,
    VariantProgress,
    cancel_comparison,
    comparison_progress,
    comparison_run_ids,
    continue_comparison,
    estimate_comparison,
    pause_comparison,
    remove_comparison,
    rescore_comparison,
    resume_comparison,
    select_rows,
    start_comparison,
    stop_comparison,
    validate_comparison,
)  # fmt: skip
from .compare_report import FILTERS, CompareTable, VariantSummary, Verdict, compare_file_name, compare_table, compare_workbook, wilson_interval
from .compare_store import ComparisonRecord, comparison_of_run, delete_comparison, get_comparison, list_comparisons, set_scoring
from .constants import MAX_ROWS, MAX_UPLOAD_MB, MODEL_PRICES
from .demos import DEMO_SHEETS, DemoSheet, demo_sheet
from .durations import clock, describe_seconds
from .errors import InputError
from .estimate import RunEstimate, estimate_run, price_for
from .exports import EXPORT_FORMATS, export_bytes, export_file_name, to_csv_bytes, to_jsonl_bytes, to_xlsx_book_bytes, to_xlsx_bytes, write_export
from .gate_view import PACE_TEXTS, GateView, PaceSource
from .judge import Judge, JudgeResults
from .keycheck import KeyCheck, check_keys, check_keys_async
from .keys import (
    PROVIDER_PRESETS,
    SIMULATED_PROVIDER,
    KeyEntry,
    KeyInfo,
    KeySource,
    demo_pool,
    expected_rpm,
    key_settings,
    make_pool,
    mask_key,
    parse_keys,
    pool_from_env,
    pool_from_settings,
    server_pool,
)  # fmt: skip
from .keyverdict import DIAGNOSES, KeyDiagnosis, diagnose
from .leases import Lease, RunningElsewhere, read_lease, running_elsewhere
from .limits import GateRegistry, KeyGate
from .messages import Explained, explain, host_of, root_cause
from .outbound import AllowEntry, OutboundPolicy, check_base_urls, configure_outbound, outbound_policy, policy_from_settings
from .output import answers_match
from .ownership import (
    cache_size,
    check_may_act,
    clear_cache,
    may_act,
    may_see,
    share_comparison,
    share_run,
    visible_comparison,
    visible_comparisons,
    visible_run,
    visible_runs,
)  # fmt: skip
from .progress import KeyStatus, ProgressSnapshot
from .report import FailureCause, RunOutcome, RunReport, failure_causes, measured_output, output_tokens_sample, run_outcome, run_report
from .runner import RunHandle, Runner, get_runner
from .runs import cancel_run, continue_run, effective_status, pause_run, remove_run, resume_keys, resume_run, run_progress, start_run, validate_run
from .scoring import SCORING_MODES, Scoring
from .shared_limits import SharedLimits, shared_limits_from_env
from .spec import RunSpec
from .status import RowStatus, RunStatus
from .store import RowResult, RunRecord, RunStore, get_store
from .structured import ASK_MODES, AskMode, remembered_mode, request_body
from .tables import ENCODINGS, SEPARATORS, LoadedTable, TableInfo, list_sheets, load_table, read_table
from .template import PromptTemplate, TemplateProblem, estimate_tokens
from .throttle import LoginThrottle, get_throttle
from .variants import (
    MAX_VARIANTS,
    SELECTION_MODES,
    ProviderChoice,
    RowSelection,
    Variant,
    compare_pool,
    grid,
    provider_choices,
    provider_pool,
    variant_keys,
)  # fmt: skip

__all__ = [
    "LOCAL_USER", "AccessConfig", "AccessMode", "NotAllowed", "User", "LoginThrottle", "get_throttle",
    "cache_size", "check_may_act", "clear_cache", "may_act", "may_see", "share_comparison", "share_run", "visible_comparison",
    "visible_comparisons", "visible_run", "visible_runs",
    "BatchCost", "batch_cost", "batch_jobs", "batch_supported", "BatchJob", "follow_batches",
    "ComparisonEstimate", "ComparisonProgress", "VariantProgress", "cancel_comparison", "comparison_progress", "continue_comparison",
    "estimate_comparison", "pause_comparison", "remove_comparison", "rescore_comparison", "resume_comparison", "select_rows", "start_comparison",
    "validate_comparison", "comparison_run_ids", "stop_comparison", "Judge", "JudgeResults",
    "FILTERS", "CompareTable", "Verdict", "VariantSummary", "compare_file_name", "compare_table", "compare_workbook", "wilson_interval",
    "ComparisonRecord", "comparison_of_run", "delete_comparison", "get_comparison", "list_comparisons", "set_scoring",
    "SCORING_MODES", "Scoring",
    "MAX_VARIANTS", "SELECTION_MODES", "ProviderChoice", "RowSelection", "Variant", "compare_pool", "grid", "provider_choices", "provider_pool",
    "variant_keys",
    "MAX_ROWS", "MAX_UPLOAD_MB", "MODEL_PRICES",
    "ClientFactory", "default_client_factory",
    "DEMO_SHEETS", "DemoSheet", "demo_sheet",
    "clock", "describe_seconds",
    "InputError",
    "RunEstimate", "estimate_run", "price_for",
    "EXPORT_FORMATS", "export_bytes", "export_file_name", "to_csv_bytes", "to_jsonl_bytes", "to_xlsx_book_bytes", "to_xlsx_bytes", "write_export",
    "PACE_TEXTS", "GateView", "PaceSource",
    "KeyCheck", "check_keys", "check_keys_async",
    "DIAGNOSES", "KeyDiagnosis", "diagnose",
    "PROVIDER_PRESETS", "SIMULATED_PROVIDER", "KeyEntry", "KeyInfo", "KeySource", "demo_pool", "expected_rpm", "key_settings", "make_pool", "mask_key",
    "parse_keys", "pool_from_env", "pool_from_settings", "server_pool",
    "Lease", "RunningElsewhere", "read_lease", "running_elsewhere",
    "GateRegistry", "KeyGate",
    "SharedLimits", "shared_limits_from_env",
    "answers_match",
    "ColumnType", "OutputColumn", "columns_from_json", "columns_from_rows", "columns_to_json", "columns_to_rows", "json_schema", "validate",
    "ASK_MODES", "AskMode", "remembered_mode", "request_body",
    "Explained", "explain", "host_of", "root_cause",
    "AllowEntry", "OutboundPolicy", "check_base_urls", "configure_outbound", "outbound_policy", "policy_from_settings",
    "KeyStatus", "ProgressSnapshot",
    "FailureCause", "RunOutcome", "RunReport", "failure_causes", "measured_output", "output_tokens_sample", "run_outcome", "run_report",
    "Runner", "RunHandle", "get_runner",
    "cancel_run", "continue_run", "effective_status", "pause_run", "remove_run", "resume_keys", "resume_run", "run_progress", "start_run",
    "validate_run",
    "RunSpec",
    "RowStatus", "RunStatus",
    "RowResult", "RunRecord", "RunStore", "get_store",
    "ENCODINGS", "SEPARATORS", "LoadedTable", "TableInfo", "list_sheets", "load_table", "read_table",
    "PromptTemplate", "TemplateProblem", "estimate_tokens",
]  # fmt: skip
