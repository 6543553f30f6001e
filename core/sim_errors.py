"""What the simulated provider says to requests it refuses on purpose: the SIMULATE_* trigger words
and the parameter checks of reasoning models, in the words real providers use. The simulator renders
each `Refusal` in its error style; the triggers are listed in its docstring."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["Refusal", "refuse_params", "refuse_format", "triggered", "STRUCTURED_OUTPUTS", "TOO_LARGE_TPM", "LONG_RETRY_AFTER_S"]

# The TPM that SIMULATE_TPM_TOO_LARGE names when the simulator has no tokens/min limit of its own.
TOO_LARGE_TPM = 30_000
LONG_RETRY_AFTER_S = 3600
# What `SimulatorConfig.structured_outputs` may say the provider supports, strongest first.
STRUCTURED_OUTPUTS = ("json_schema", "json_object", "none")


@dataclass(frozen=True)
class Refusal:
    status: int
    message: str
    type: str
    code: str | None
    param: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    counter: str | None = None  # the KeyStats counter it feeds, if any
    body: Mapping[str, object] | None = None  # sent as is, whatever the error style


def refuse_params(model: str, request: Mapping[str, object], reasoning_models: frozenset[str]) -> Refusal | None:
    """What OpenAI's reasoning models say to parameters they do not take, word for word."""
    if model not in reasoning_models:
        return None
    if request.get("max_tokens") is not None:
        return Refusal(
            400,
            "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
            "invalid_request_error",
            "unsupported_parameter",
            param="max_tokens",
        )
    temperature = request.get("temperature")
    if temperature is not None and temperature != 1:
        return Refusal(
            400,
            f"Unsupported value: 'temperature' does not support {temperature} with this model. Only the default (1) value is supported.",
            "invalid_request_error",
            "unsupported_value",
            param="temperature",
        )
    return None


def refuse_format(request: Mapping[str, object], supports: str) -> Refusal | None:
    """A `response_format` the provider lacks, refused as real ones refuse it: "json_object" is
    DeepSeek's answer to json_schema (it has JSON mode only), "none" an older model's answer to any
    response_format (OpenAI's words). The message names response_format, as theirs do."""
    fmt = request.get("response_format")
    kind = fmt.get("type") if isinstance(fmt, Mapping) else None
    if fmt is None or kind == "text" or supports == "json_schema":
        return None
    if supports == "json_object" and kind == "json_object":
        return None
    if supports == "json_object":
        return Refusal(400, "This response_format type is unavailable now", "invalid_request_error", "invalid_request_error")
    return Refusal(
        400, f"Invalid parameter: 'response_format' of type '{kind}' is not supported with this model.", "invalid_request_error", None, param="response_format"
    )


def triggered(everything: str, *, model: str, request: Mapping[str, object], prompt: str, prompt_tokens: int, tpm: int) -> Refusal | None:
    """The error shape a trigger word in the messages asks for; the first in this order wins."""
    if "SIMULATE_TPM_TOO_LARGE" in everything:
        limit = tpm or TOO_LARGE_TPM
        output = request.get("max_completion_tokens") or request.get("max_tokens")
        needed = prompt_tokens + (output if isinstance(output, int) else 0)  # OpenAI counts the output it may write
        requested = max(needed, limit * 3 // 2)
        headers = {"x-ratelimit-limit-tokens": str(limit), "x-ratelimit-remaining-tokens": str(limit), "x-ratelimit-reset-tokens": "0s"}
        return Refusal(
            429,
            f"Request too large for {model} in organization org-simulated on tokens per min (TPM): "
            f"Limit {limit}, Requested {requested}. The input or output tokens must be reduced in order "
            "to run successfully.",
            "tokens",
            "rate_limit_exceeded",
            headers=headers,
            counter="rate_limited",
        )
    if "SIMULATE_MODERATION" in everything:
        # OpenRouter's shape whatever the error style: that shape is what this trigger is for.
        message = f'{model} requires moderation on OpenRouter. Your input was flagged for "harassment". No credits were charged.'
        error = {
            "code": 403,
            "message": message,
            "metadata": {"reasons": ["harassment"], "flagged_input": prompt[:100], "provider_name": "simulator", "model_slug": model},
        }
        return Refusal(403, message, "moderation", None, body={"error": error, "user_id": "user_simulated"})
    if "SIMULATE_LONG_RETRY_AFTER" in everything:
        wait = f"{LONG_RETRY_AFTER_S // 60}m0s"  # OpenAI's x-ratelimit-reset-* format
        headers = {
            "retry-after": str(LONG_RETRY_AFTER_S),
            "x-ratelimit-limit-requests": "10000",
            "x-ratelimit-remaining-requests": "0",
            "x-ratelimit-reset-requests": wait,
        }
        return Refusal(
            429,
            f"Rate limit reached for {model} in organization org-simulated on requests per day (RPD): "
            f"Limit 10000, Used 10000, Requested 1. Please try again in {wait}.",
            "requests",
            "rate_limit_exceeded",
            headers=headers,
            counter="rate_limited",
        )
    if "SIMULATE_NO_RETRY" in everything:
        return Refusal(
            503,
            "The engine is currently overloaded, please try again later.",
            "server_error",
            "overloaded",
            headers={"x-should-retry": "false"},
            counter="server_errors",
        )
    if "SIMULATE_SHOULD_RETRY" in everything:
        return Refusal(400, "The request could not be processed right now; send it again.", "invalid_request_error", None, headers={"x-should-retry": "true"})
    return None
