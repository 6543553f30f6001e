"""API keys and the providers they belong to. A key lives in memory only: it is never stored,
logged or exported; everything else refers to it by its fingerprint or shows it masked."""

from __future__ import annotations

import functools
import hashlib
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from . import constants as C
from .errors import InputError

__all__ = [
    "ProviderPreset",
    "PROVIDER_PRESETS",
    "SIMULATED_PROVIDER",
    "KeyEntry",
    "KeyInfo",
    "mask_key",
    "fingerprint",
    "parse_keys",
    "make_pool",
    "demo_pool",
    "pool_from_env",
]

SIMULATED_PROVIDER = "Simulated (demo)"
SIMULATED_BASE_URL = "http://simulated.invalid/v1"


@dataclass(frozen=True)
class ProviderPreset:
    label: str
    base_url: str
    model: str
    models: tuple[str, ...] = ()
    needs_key: bool = True
    rpm: int = C.DEFAULT_RPM


PROVIDER_PRESETS: dict[str, ProviderPreset] = {
    p.label: p
    for p in (
        ProviderPreset(SIMULATED_PROVIDER, SIMULATED_BASE_URL, "simulated", ("simulated",), False, 600),
        ProviderPreset("OpenAI", "https://api.openai.com/v1", "gpt-4o-mini", ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "gpt-4.1"), rpm=500),
        ProviderPreset("DeepSeek", "https://api.deepseek.com/v1", "deepseek-chat", ("deepseek-chat", "deepseek-reasoner"), rpm=60),
        ProviderPreset(
            "Qwen (DashScope)", "https://dashscope.aliyuncs.com/compatible-mode/v1", "qwen-plus", ("qwen-plus", "qwen-turbo", "qwen-max"), rpm=60
        ),
        ProviderPreset("Moonshot (Kimi)", "https://api.moonshot.cn/v1", "moonshot-v1-8k", ("moonshot-v1-8k", "moonshot-v1-32k"), rpm=20),
        ProviderPreset("Zhipu (GLM)", "https://open.bigmodel.cn/api/paas/v4", "glm-4-flash", ("glm-4-flash", "glm-4-plus"), rpm=60),
        ProviderPreset("SiliconFlow", "https://api.siliconflow.cn/v1", "Qwen/Qwen2.5-7B-Instruct", ("Qwen/Qwen2.5-7B-Instruct",), rpm=60),
        ProviderPreset("OpenRouter", "https://openrouter.ai/api/v1", "openai/gpt-4o-mini", ("openai/gpt-4o-mini",), rpm=60),
        ProviderPreset("Ollama (local)", "http://localhost:11434/v1", "llama3.2", ("llama3.2", "qwen2.5"), needs_key=False, rpm=600),
        ProviderPreset("vLLM / llama.cpp (local)", "http://localhost:8000/v1", "default", (), needs_key=False, rpm=600),
    )
}


def mask_key(key: str) -> str:
    """`sk-...a1b2`: enough to tell keys apart on screen, too little to use."""
    key = key.strip()
    if len(key) <= 8:
        return "•" * len(key) if key else "(none)"
    prefix = key[:3] if key[:3].isascii() else ""
    return f"{prefix}...{key[-4:]}"


def fingerprint(base_url: str, key: str) -> str:
    """A stable id for a (provider, key) pair that cannot be turned back into the key.
    Keys are long random strings, so a truncated SHA-256 leaks nothing usable."""
    digest = hashlib.sha256(f"llm-batch-studio\0{base_url.rstrip('/')}\0{key}".encode()).hexdigest()
    return digest[:12]


@dataclass(frozen=True)
class KeyInfo:
    """Everything about a key that may be shown, stored or exported."""

    provider: str
    base_url: str
    model: str
    rpm: int
    tpm: int | None
    fingerprint: str
    masked: str

    @property
    def simulated(self) -> bool:
        return self.base_url == SIMULATED_BASE_URL


@dataclass(frozen=True)
class KeyEntry:
    provider: str
    base_url: str
    model: str
    api_key: str = field(repr=False)
    rpm: int = C.DEFAULT_RPM
    tpm: int | None = None

    def __post_init__(self) -> None:
        if self.rpm <= 0:
            raise InputError("Requests per minute must be at least 1.")
        if self.tpm is not None and self.tpm <= 0:
            raise InputError("Tokens per minute must be at least 1, or left empty for no token limit.")
        if not self.model.strip():
            raise InputError("Choose a model name for the key.")
        if not re.match(r"^https?://", self.base_url):
            raise InputError(f"The base URL must start with http:// or https:// (got {self.base_url!r}).")

    @functools.cached_property
    def fingerprint(self) -> str:  # cached: the engine asks for it on every request
        return fingerprint(self.base_url, self.api_key)

    @property
    def masked(self) -> str:
        return mask_key(self.api_key)

    @property
    def simulated(self) -> bool:
        return self.base_url == SIMULATED_BASE_URL

    def info(self) -> KeyInfo:
        return KeyInfo(self.provider, self.base_url, self.model, self.rpm, self.tpm, self.fingerprint, self.masked)


def parse_keys(text: str) -> list[str]:
    """Keys pasted one per line (commas and spaces also separate them); blanks and repeats dropped."""
    seen: dict[str, None] = {}
    for part in re.split(r"[\s,;]+", text or ""):
        part = part.strip().strip("'\"")
        if part:
            seen.setdefault(part, None)
    return list(seen)


def make_pool(
    keys: Iterable[str], *, provider: str, base_url: str, model: str, rpm: int, tpm: int | None = None
) -> list[KeyEntry]:
    """One entry per key, all with the same provider settings. A local server needs no key, so an
    empty list of keys gives one entry with a placeholder key."""
    keys = list(keys)
    base_url = base_url.strip().rstrip("/")
    if not keys:
        preset = PROVIDER_PRESETS.get(provider)
        if preset is not None and not preset.needs_key:
            keys = ["no-key-needed"]
        else:
            raise InputError("Paste at least one API key, or choose the simulated provider for a demo.", "no_keys")
    return [KeyEntry(provider, base_url, model.strip(), k, rpm, tpm) for k in keys]


def demo_pool(n: int = 4, rpm: int = 600, tpm: int | None = None) -> list[KeyEntry]:
    """Keys for the built-in simulated provider: no network, no real key."""
    return [KeyEntry(SIMULATED_PROVIDER, SIMULATED_BASE_URL, "simulated", f"sim-key-{i + 1}", rpm, tpm) for i in range(n)]


def pool_from_env(env: Mapping[str, str] | None = None, *, rpm: int = C.DEFAULT_RPM) -> list[KeyEntry]:
    """Keys preset by the environment: `OPENAI_API_KEY` (comma-separated for several),
    `OPENAI_BASE_URL` and optionally `OPENAI_MODEL`. Empty when no key is set."""
    env = os.environ if env is None else env
    keys = parse_keys(env.get("OPENAI_API_KEY", ""))
    if not keys:
        return []
    base_url = env.get("OPENAI_BASE_URL") or PROVIDER_PRESETS["OpenAI"].base_url
    preset = next((p for p in PROVIDER_PRESETS.values() if p.base_url.rstrip("/") == base_url.rstrip("/")), None)
    model = env.get("OPENAI_MODEL") or (preset.model if preset else "gpt-4o-mini")
    return make_pool(keys, provider=preset.label if preset else "Custom", base_url=base_url, model=model, rpm=rpm)
