"""API keys and the providers they belong to. A key lives in memory only: it is never stored,
logged or exported; everything else refers to it by its fingerprint or shows it masked."""

from __future__ import annotations

import enum
import functools
import hashlib
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

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
    "shared_group",
    "start_rpm",
    "expected_rpm",
    "demo_pool",
    "pool_from_env",
    "server_pool",
    "KeySource",
    "pool_from_settings",
    "key_settings",
]

SIMULATED_PROVIDER = "Simulated (demo)"


@dataclass(frozen=True)
class ProviderPreset:
    label: str
    base_url: str
    model: str
    models: tuple[str, ...] = ()
    needs_key: bool = True
    # A typical requests/min for one key: where "Auto" starts pacing before the provider's
    # headers or 429s say more, and the time estimate's guess. Never a ceiling.
    start_rpm: int = C.AUTO_START_RPM
    # The provider serves the OpenAI Batch API (/v1/files + /v1/batches): batch mode is offered.
    batch: bool = False


PROVIDER_PRESETS: dict[str, ProviderPreset] = {
    p.label: p
    for p in (
        ProviderPreset(SIMULATED_PROVIDER, C.SIMULATED_BASE_URL, "simulated", ("simulated",), False, start_rpm=600, batch=True),
        ProviderPreset("OpenAI", "https://api.openai.com/v1", "gpt-4o-mini", ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "gpt-4.1"), start_rpm=500, batch=True),
        ProviderPreset("DeepSeek", "https://api.deepseek.com/v1", "deepseek-chat", ("deepseek-chat", "deepseek-reasoner"), start_rpm=60),
        ProviderPreset(
            "Qwen (DashScope)",
            "https://dashscope.aliyuncs.com/compatible-mode/v1",
            "qwen-plus",
            ("qwen-plus", "qwen-turbo", "qwen-max"),
            start_rpm=60,
            batch=True,
        ),
        ProviderPreset("Moonshot (Kimi)", "https://api.moonshot.cn/v1", "moonshot-v1-8k", ("moonshot-v1-8k", "moonshot-v1-32k"), start_rpm=20, batch=True),
        ProviderPreset("Zhipu (GLM)", "https://open.bigmodel.cn/api/paas/v4", "glm-4-flash", ("glm-4-flash", "glm-4-plus"), start_rpm=60),
        ProviderPreset("SiliconFlow", "https://api.siliconflow.cn/v1", "Qwen/Qwen2.5-7B-Instruct", ("Qwen/Qwen2.5-7B-Instruct",), start_rpm=60, batch=True),
        ProviderPreset("OpenRouter", "https://openrouter.ai/api/v1", "openai/gpt-4o-mini", ("openai/gpt-4o-mini",), start_rpm=60, batch=True),
        ProviderPreset("Ollama (local)", "http://localhost:11434/v1", "llama3.2", ("llama3.2", "qwen2.5"), needs_key=False, start_rpm=600),
        ProviderPreset("vLLM / llama.cpp (local)", "http://localhost:8000/v1", "default", (), needs_key=False, start_rpm=600),
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
    rpm: int | None  # a ceiling on requests/min; None: Auto, learnt from the provider
    tpm: int | None  # a ceiling on tokens/min; None: none set (Auto follows the provider's headers)
    fingerprint: str
    masked: str
    group: str | None = None  # keys of one group (and base URL) share one limit, so one gate

    @property
    def simulated(self) -> bool:
        return self.base_url == C.SIMULATED_BASE_URL

    @property
    def limit_id(self) -> str:
        """What one limit belongs to: the group at this base URL, else the key itself."""
        return f"{self.base_url.rstrip('/')}\0{self.group}" if self.group else self.fingerprint


@dataclass(frozen=True)
class KeyEntry:
    provider: str
    base_url: str
    model: str
    api_key: str = field(repr=False)
    rpm: int | None = None
    tpm: int | None = None
    group: str | None = None

    def __post_init__(self) -> None:
        if self.rpm is not None and self.rpm <= 0:
            raise InputError("Requests per minute must be at least 1, or left empty for Auto.")
        if self.tpm is not None and self.tpm <= 0:
            raise InputError("Tokens per minute must be at least 1, or left empty for no token limit.")
        if not self.model.strip():
            raise InputError("Choose a model name for the key.", "no_model")
        if not re.match(r"^https?://", self.base_url):
            raise InputError(f"The base URL must start with http:// or https:// (got {self.base_url!r}).", "bad_base_url", url=self.base_url)

    @functools.cached_property
    def fingerprint(self) -> str:  # cached: the engine asks for it on every request
        return fingerprint(self.base_url, self.api_key)

    @property
    def masked(self) -> str:
        return mask_key(self.api_key)

    @property
    def simulated(self) -> bool:
        return self.base_url == C.SIMULATED_BASE_URL

    def info(self) -> KeyInfo:
        return KeyInfo(self.provider, self.base_url, self.model, self.rpm, self.tpm, self.fingerprint, self.masked, self.group)


def shared_group(base_url: str, keys: Iterable[str]) -> str:
    """A group name for keys that share one account limit, made from the keys themselves: two
    users who each tick "share one limit" for their own keys never share a gate by accident."""
    fps = sorted({fingerprint(base_url, k) for k in keys})
    return "shared-" + hashlib.sha256("\0".join(fps).encode()).hexdigest()[:10]


def _preset_for(provider: str, base_url: str) -> ProviderPreset | None:
    preset = PROVIDER_PRESETS.get(provider)
    if preset is None:
        preset = next((p for p in PROVIDER_PRESETS.values() if p.base_url.rstrip("/") == base_url.rstrip("/")), None)
    return preset


def start_rpm(key: KeyInfo | KeyEntry) -> float:
    """Where a key's pace starts: its ceiling if set, else its provider's typical limit, else a
    modest AUTO_START_RPM. The gate corrects it from the first answer's headers or 429s."""
    if key.rpm is not None:
        return float(key.rpm)
    preset = _preset_for(key.provider, key.base_url)
    return float(preset.start_rpm if preset is not None else C.AUTO_START_RPM)


def expected_rpm(keys: Iterable[KeyInfo | KeyEntry]) -> float:
    """A guess at a pool's requests/min before anything is sent, for the time estimate. Keys that
    share a limit count once."""
    by_limit: dict[str, float] = {}
    for k in keys:
        ident = k.info().limit_id if isinstance(k, KeyEntry) else k.limit_id
        by_limit[ident] = max(by_limit.get(ident, 0.0), start_rpm(k))
    return sum(by_limit.values())


def parse_keys(text: str) -> list[str]:
    """Keys pasted one per line (commas and spaces also separate them); blanks and repeats dropped."""
    seen: dict[str, None] = {}
    for part in re.split(r"[\s,;]+", text or ""):
        part = part.strip().strip("'\"")
        if part:
            seen.setdefault(part, None)
    return list(seen)


def make_pool(
    keys: Iterable[str],
    *,
    provider: str,
    base_url: str,
    model: str,
    rpm: int | None = None,
    tpm: int | None = None,
    shared_limit: bool = False,
) -> list[KeyEntry]:
    """One entry per key, all with the same provider settings. A local server needs no key, so an
    empty list of keys gives one entry with a placeholder key. `rpm=None` is Auto; with
    `shared_limit` the keys share one account limit (one gate paces them together) and `rpm`,
    if set, is that shared limit."""
    keys = list(keys)
    base_url = base_url.strip().rstrip("/")
    if not keys:
        preset = PROVIDER_PRESETS.get(provider)
        if preset is not None and not preset.needs_key:
            keys = ["no-key-needed"]
        else:
            raise InputError("Paste at least one API key, or choose the simulated provider for a demo.", "no_keys")
    group = shared_group(base_url, keys) if shared_limit and len(keys) > 1 else None
    return [KeyEntry(provider, base_url, model.strip(), k, rpm, tpm, group) for k in keys]


def demo_pool(n: int = C.DEMO_KEYS, rpm: int | None = None, tpm: int | None = None) -> list[KeyEntry]:
    """Keys for the built-in simulated provider: no network, no real key."""
    return [KeyEntry(SIMULATED_PROVIDER, C.SIMULATED_BASE_URL, "simulated", f"sim-key-{i + 1}", rpm, tpm) for i in range(n)]


def pool_from_env(env: Mapping[str, str] | None = None, *, rpm: int | None = None, shared_limit: bool = False) -> list[KeyEntry]:
    """Keys preset by the environment: `OPENAI_API_KEY` (comma-separated for several),
    `OPENAI_BASE_URL` and optionally `OPENAI_MODEL`. Empty when no key is set."""
    env = os.environ if env is None else env
    keys = parse_keys(env.get("OPENAI_API_KEY", ""))
    if not keys:
        return []
    base_url = env.get("OPENAI_BASE_URL") or PROVIDER_PRESETS["OpenAI"].base_url
    preset = _preset_for("", base_url)
    model = env.get("OPENAI_MODEL") or (preset.model if preset else "gpt-4o-mini")
    return make_pool(keys, provider=preset.label if preset else "Custom", base_url=base_url, model=model, rpm=rpm, shared_limit=shared_limit)


def server_pool(
    section: Mapping[str, Any] | None, env: Mapping[str, str] | None = None, *, rpm: int | None = None, shared_limit: bool = False
) -> list[KeyEntry]:
    """Keys preset on the server, so a demo never shows one: the `[provider]` section of the app's
    secrets if it has keys (its `rpm` and `shared_limit`, when set, win over the form's), else
    the environment (`pool_from_env`). Empty when neither has a key."""
    if section and section.get("keys"):
        preset = PROVIDER_PRESETS.get(section.get("name", ""))
        return make_pool(
            list(section["keys"]),
            provider=section.get("name", "Custom"),
            base_url=section.get("base_url") or (preset.base_url if preset else ""),
            model=section.get("model") or (preset.model if preset else ""),
            rpm=int(section["rpm"]) if section.get("rpm") else rpm,
            tpm=section.get("tpm"),
            shared_limit=bool(section.get("shared_limit", shared_limit)),
        )
    return pool_from_env(env, rpm=rpm, shared_limit=shared_limit)


class KeySource(enum.StrEnum):
    """Where the keys of a run come from (`pool_from_settings`)."""

    USER = "user"  # typed or pasted by the user (or none needed: a local server)
    PRESET = "preset"  # preset on the server (`server_pool`), once the app's password was given
    SIMULATED = "simulated"  # the built-in simulated provider's demo keys


def pool_from_settings(settings: Mapping[str, Any], preset: Callable[[], Sequence[KeyEntry]] = list) -> tuple[list[KeyEntry], KeySource]:
    """The keys a run will use, and where they come from. `settings` are the form's: `user_keys`,
    `provider`, `base_url`, `model`, `rpm` (empty: Auto), `tpm` (0 or empty: none),
    `shared_limit`; `preset()` gives the server's keys the user may use (asked only when needed).

    The user's own keys win; then a provider that needs no key (a local server); then the
    server's preset keys; then, on the simulated provider, the demo keys. A provider that needs a
    key, with none given, is an InputError ("needs_key"): never the simulator behind the user's back."""
    rpm = int(settings["rpm"]) if settings.get("rpm") else None
    tpm = int(settings.get("tpm") or 0) or None
    shared = bool(settings.get("shared_limit"))
    provider, base_url, model = settings["provider"], settings["base_url"], settings["model"]
    user_keys = list(settings.get("user_keys") or ())
    if user_keys:
        return make_pool(user_keys, provider=provider, base_url=base_url, model=model, rpm=rpm, tpm=tpm, shared_limit=shared), KeySource.USER
    if provider != SIMULATED_PROVIDER and not PROVIDER_PRESETS.get(provider, PROVIDER_PRESETS["OpenAI"]).needs_key:
        return make_pool([], provider=provider, base_url=base_url, model=model, rpm=rpm, tpm=tpm), KeySource.USER
    preset_keys = list(preset())
    if preset_keys:
        return preset_keys, KeySource.PRESET
    if provider == SIMULATED_PROVIDER:
        return demo_pool(C.DEMO_KEYS, rpm=rpm, tpm=tpm), KeySource.SIMULATED
    raise InputError(
        f"{provider} needs an API key: paste one on the Keys & limits page, or use the simulated provider for a demo.", "needs_key", provider=provider
    )


def key_settings(key: KeyInfo) -> dict[str, Any]:
    """The form's provider settings for a stored key, the inverse of `pool_from_settings` for what
    a run keeps (never the key): `provider` is the preset the key belongs to, by name, else by
    base URL, else OpenAI's (whose base URL and model boxes then hold the run's own)."""
    if key.simulated:
        provider = SIMULATED_PROVIDER
    elif key.provider in PROVIDER_PRESETS:
        provider = key.provider
    else:
        same_url = [p.label for p in PROVIDER_PRESETS.values() if p.base_url.rstrip("/") == key.base_url.rstrip("/")]
        provider = same_url[0] if same_url else "OpenAI"
    return {"provider": provider, "base_url": key.base_url, "model": key.model, "rpm": key.rpm, "tpm": key.tpm or 0}
