"""What core's English sentences mean, as a code and its values, so that a page can say them in
another language while the store, the exports and the command line keep the English.

    explain("Failed after 4 attempts: Could not reach the provider: Cannot connect to host api.openai.com:443")
    # Explained(code="failed_after", params={"n": "4"}, inner=(Explained(code="unreachable", params={"host": "api.openai.com", ...}),))

Row errors, run messages, notes about a file and key checks are stored or returned as English
text; this table is the one place that reads them back. A sentence it does not know comes back
as code "" with the text itself, and is shown as it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .refusals import REFUSAL_SENTENCES

__all__ = ["Explained", "explain", "root_cause", "host_of"]


@dataclass(frozen=True)
class Explained:
    code: str  # "" when the sentence is not one of core's
    text: str  # the English sentence as it was
    params: dict[str, str] = field(default_factory=dict)
    inner: tuple[Explained, ...] = ()  # sentences quoted inside this one, explained too


# (code, pattern). Named groups become params; a group named `inner` is a sentence of its own,
# `inners` several joined by "; ". First match wins, so the nesting ones come first.
_PATTERNS: list[tuple[str, str]] = [
    # row errors and the recent-errors list (engine, progress)
    ("failed_after", r"Failed after (?P<n>\d+) attempts?: (?P<inner>.+)"),
    ("rate_limited_giving_up", r"Rate limited (?P<n>\d+) times; giving up on this row: (?P<inner>.+)"),
    ("kept_resume", r"(?P<inner>.+?)\.? Finished rows are kept; resume the run to continue\."),
    ("kept_new_run", r"(?P<inner>.+?) Finished rows are kept; start a new run with other settings\."),
    ("row", r"Row (?P<row>[\d,]+): (?P<inner>.+)"),
    ("key_stopped", r"Key (?P<masked>\S+) stopped: (?P<inner>.+)"),
    # hosted mode's outbound policy refused a base URL (core/refusals.py): outbound_<reason>
    *(
        (f"outbound_{reason}", re.escape(sentence).replace(r"\{host\}", "(?P<host>.+?)").replace(r"\{address\}", "(?P<address>.+?)"))
        for reason, sentence in REFUSAL_SENTENCES.items()
    ),
    ("refused", r"Could not reach the provider: (?P<detail>.*(?:Connect call failed|Connection refused|ECONNREFUSED).*)"),
    (
        "dns",
        r"Could not reach the provider: (?P<detail>.*(?:Name or service not known|nodename nor servname|getaddrinfo failed|Temporary failure in name resolution|No address associated).*)",  # noqa: E501
    ),
    ("unreachable", r"Could not reach the provider: (?P<detail>.+)"),
    ("connection_failed", r"Could not reach the provider \(connection failed(?:: (?P<detail>.+))?\)"),
    ("timeout", r"The request timed out \(the provider may still bill it\)"),
    ("no_quota", r"Out of quota \(429\)(?:: (?P<detail>.*))?"),
    ("not_json", r"The provider sent an answer that is not valid JSON"),
    ("network", r"Network error: (?P<detail>.+)"),
    ("provider_error", r"Provider error: (?P<detail>.+)"),
    ("unexpected", r"Unexpected answer from the provider \((?P<detail>.+)"),
    ("content_filter", r"The provider's content filter blocked this answer\."),
    (
        "too_large_tpm",
        r"The prompt is too large for this key's tokens-per-(?P<per>\w+) limit \(429\)(?:: it needs (?P<needs>[\d,]+) tokens, the key allows (?P<allows>[\d,]+) per \w+)?\. Shorten the prompt or lower max tokens \(both count\), or use a key with a higher limit\.",  # noqa: E501
    ),
    ("moderation", r"The provider's moderation flagged this row \(403\): (?P<detail>.*)"),
    ("refused_max_tokens", r"This model does not accept max_tokens, only max_completion_tokens \(400\): (?P<detail>.*)"),
    ("refused_temperature", r"This model does not accept this temperature \(400\): (?P<detail>.*)"),
    ("refused_setting", r"This model does not accept the setting '(?P<setting>[^']+)' \(400\): (?P<detail>.*)"),
    ("unreadable_answer", r"The provider's answer could not be read \((?P<detail>.+)\)"),
    ("max_tokens_note", r"The model refused max_tokens; the run sends max_completion_tokens instead\."),
    ("row_put_back", r"Row (?P<row>[\d,]+) was left unfinished by an internal error; it was put back\."),
    ("internal_error", r"Internal error (?:in|while recording row) (?P<where>[^:]+): (?P<detail>.+)"),
    ("cut_off", r"The answer was cut off at the max tokens limit\.(?: (?P<inner>.+))?"),
    ("answer_not_json", r"The answer is not JSON; its raw text is kept in the output column\."),
    # an answer that does not fit the output columns (answers.invalid_message), its problems
    # (columns.validate), and a step down in the way of asking (structured.fallback_note)
    ("invalid_answer", r"The answer does not fit the output columns(?: after (?P<n>\d+) re-asks?)?: (?P<inners>.+)\."),
    ("col_missing", r'"(?P<name>.+)" is missing'),
    ("col_empty", r'"(?P<name>.+)" is empty'),
    ("col_number", r'"(?P<name>.+?)" should be a number, not (?P<value>.+)'),
    ("col_integer", r'"(?P<name>.+?)" should be a whole number, not (?P<value>.+)'),
    ("col_boolean", r'"(?P<name>.+?)" should be true or false \(yes or no\), not (?P<value>.+)'),
    ("col_ambiguous_date", r'"(?P<name>.+?)" could be (?P<options>.+): write the date as yyyy-mm-dd'),
    ("col_date", r'"(?P<name>.+?)" should be a date as yyyy-mm-dd, not (?P<value>.+)'),
    ("col_choice", r'"(?P<name>.+?)" should be one of (?P<choices>.+), not (?P<value>.+)'),
    ("col_not_object", r"the answer is not a JSON object"),
    ("ask_json_object", r"The provider refused response_format (?P<old>\w+); the run asks with json_object and the schema in the system message instead\."),
    ("ask_instructions", r"The provider refused response_format (?P<old>\w+); the run asks with the schema in the system message only instead\."),
    ("missing_fields", r"The answer's JSON has no field (?P<fields>.+)\."),
    # run messages (engine, runner)
    ("paused", r"Paused: requests already sent will finish\."),
    ("cancelled", r"Cancelled: finished rows are kept; resume to do the rest\."),
    ("all_keys_dead", r"Every key stopped working(?: \((?P<inners>.*)\))?\. Add a working key to continue; finished rows are kept\."),
    ("finished", r"Finished: (?P<parts>[^.]+)\.(?: (?P<inner>.+))?"),
    ("finishing", r"Finishing (?P<n>\d+) requests already sent \(up to (?P<s>\d+) s\); nothing new is sent\."),
    ("internal", r"The run stopped on an internal error \((?P<detail>.+)\); finished rows are kept, resume it to continue\."),
    ("save_failed", r"Could not save results \((?P<detail>.+)\); the run stopped\. Free disk space, then resume it\."),
    # batch mode (batch.py, batch_keys.py)
    ("batch_cancelled_waiting", r"Cancelled: finished rows are kept\. (?P<inner>Waiting for the keys? .+)"),
    (
        "batch_key_missing",
        r"Waiting for the keys? (?P<keys>.+?): (?:it|they) sent files? (?P<files>[\d, ]+) of this batch, and only (?:that key|those keys) can follow (?:it|them)\. Enter (?:it|them) again \(keys are never saved\)\.",  # noqa: E501
    ),
    # notes about a file (tables, encodings)
    ("read_as_csv", r"The file is named (?P<ext>\S*) but contains plain text, so it was read as CSV\."),
    ("read_as_xlsx", r"The file is named (?P<ext>\S*) but is an Excel workbook, so it was read as one\."),
    ("dropped_rows", r"Dropped (?P<n>[\d,]+) empty rows? (?P<where>above the column names|in the middle of the table|at the end)\."),
    ("dropped_columns", r"Dropped (?P<n>[\d,]+) empty columns? at the (?P<side>left|right)\."),
    ("filled_short_rows", r"Filled (?P<n>[\d,]+) short rows? with empty cells \(they had fewer cells than the header\)\."),
    ("trimmed_names", r"Removed spaces around (?P<n>[\d,]+) column names?: (?P<names>.+)\."),
    ("named_columns", r"Named (?P<n>[\d,]+) columns? that had no name: (?P<names>.+)\."),
    ("extra_cells", r"Some rows have more cells than there are column names; their extra cells are in (?P<n>[\d,]+) new columns?: (?P<names>.+)\."),
    ("renamed_duplicate", r"Renamed duplicate column '(?P<old>.+)' to '(?P<new>.+)'\."),
    ("renamed_more", r"Renamed (?P<n>[\d,]+) more duplicate columns? the same way\."),
    ("guessed_encoding", r"Read as (?P<name>.+), guessed from the file's bytes; if the text looks wrong, choose the encoding under Reading options\."),
    ("nul_bytes", r"Removed (?P<n>[\d,]+) NUL bytes? \(invisible characters a damaged save leaves behind\)\."),
    ("bad_bytes", r"(?P<n>[\d,]+) bytes? could not be read as (?P<encoding>\S+) and became '\ufffd'; if the text looks wrong, choose the encoding by hand\."),
    # a provider's answer by HTTP status (errors.classify): last, as it matches loosely
    ("http", r"(?P<words>.+?) \((?P<status>\d{3})\)(?:: (?P<detail>.*))?"),
]
_COMPILED = [(code, re.compile(pattern, re.DOTALL)) for code, pattern in _PATTERNS]
_HOST = re.compile(r"(?:Cannot connect to host|host|at) (?:https?://)?\[?(?P<host>[A-Za-z0-9.\-_:]+?)\]?(?::\d+)?(?:[\s/]|$)")
_FINISHED_PART = re.compile(r"(?P<n>\d+) (?P<what>ok|unparsed|failed|from cache)")


def host_of(text: str) -> str:
    """The host a network message names ("Cannot connect to host api.openai.com:443 ..."), or ""."""
    m = _HOST.search(text or "")
    return m.group("host") if m else ""


def explain(text: str | None) -> Explained:
    """The code and values of one of core's sentences; code "" if it is not one of them."""
    text = (text or "").strip()
    for code, pattern in _COMPILED:
        m = pattern.fullmatch(text)
        if m is None:
            continue
        params = {k: v for k, v in m.groupdict().items() if v is not None and k not in ("inner", "inners")}
        inner: tuple[Explained, ...] = ()
        if m.groupdict().get("inner"):
            inner = (explain(m.group("inner")),)
        elif m.groupdict().get("inners"):
            inner = tuple(explain(part) for part in m.group("inners").split("; ") if part)
        if code in ("refused", "dns", "unreachable"):
            params["host"] = host_of(params.get("detail", ""))
        if code == "finished":
            params.update({p["what"].replace(" ", "_"): p["n"] for p in _FINISHED_PART.finditer(params["parts"])})
        return Explained(code, text, params, inner)
    return Explained("", text)


def root_cause(explained: Explained) -> Explained:
    """The innermost cause: "Failed after 4 attempts: Row 3: X" is, at bottom, X."""
    while explained.code in ("failed_after", "row", "key_stopped") and explained.inner:
        explained = explained.inner[0]
    return explained
