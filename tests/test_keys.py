from __future__ import annotations

import pytest

from core import constants as C
from core.errors import InputError
from core.keys import PROVIDER_PRESETS, KeyEntry, demo_pool, fingerprint, make_pool, mask_key, parse_keys, pool_from_env

KEY = "sk-proj-0123456789abcdefghijklmnopqrstuvwxyzA1B2"


def test_a_key_is_shown_masked_with_only_its_last_four_characters():
    assert mask_key(KEY) == "sk-...A1B2"
    assert mask_key("short") == "•••••"
    assert mask_key("") == "(none)"


def test_fingerprints_are_stable_per_provider_and_do_not_contain_the_key():
    assert fingerprint("https://api.openai.com/v1", KEY) == fingerprint("https://api.openai.com/v1/", KEY)
    assert fingerprint("https://api.openai.com/v1", KEY) != fingerprint("https://api.deepseek.com/v1", KEY)
    assert len(fingerprint("u", KEY)) == 12 and KEY[-4:] not in fingerprint("u", KEY)


def test_the_key_never_appears_in_a_repr_or_in_the_public_info():
    entry = KeyEntry("OpenAI", "https://api.openai.com/v1", "gpt-4o-mini", KEY, 500)
    assert KEY not in repr(entry)
    assert KEY not in repr(entry.info()) and entry.info().masked == "sk-...A1B2"


@pytest.mark.parametrize(
    "text, keys",
    [
        ("sk-a\nsk-b\n\nsk-a\n", ["sk-a", "sk-b"]),
        ("sk-a, sk-b;sk-c", ["sk-a", "sk-b", "sk-c"]),
        ("  'sk-a'  \r\n\"sk-b\"", ["sk-a", "sk-b"]),
        ("", []),
    ],
)
def test_pasted_keys_one_per_line_are_split_trimmed_and_deduplicated(text, keys):
    assert parse_keys(text) == keys


def test_presets_cover_the_common_openai_compatible_providers():
    urls = {p.base_url for p in PROVIDER_PRESETS.values()}
    for url in (
        "https://api.openai.com/v1",
        "https://api.deepseek.com/v1",
        "https://dashscope.aliyuncs.com/compatible-mode/v1",
        "https://api.moonshot.cn/v1",
        "https://open.bigmodel.cn/api/paas/v4",
        "https://api.siliconflow.cn/v1",
        "https://openrouter.ai/api/v1",
        "http://localhost:11434/v1",
    ):
        assert url in urls


def test_a_local_server_needs_no_key_but_a_hosted_one_does():
    pool = make_pool([], provider="Ollama (local)", base_url="http://localhost:11434/v1", model="llama3.2", rpm=60)
    assert len(pool) == 1
    with pytest.raises(InputError, match="API key"):
        make_pool([], provider="OpenAI", base_url="https://api.openai.com/v1", model="gpt-4o-mini", rpm=60)


@pytest.mark.parametrize(
    "kwargs, message", [({"rpm": 0}, "per minute"), ({"tpm": 0}, "Tokens"), ({"model": " "}, "model"), ({"base_url": "api.openai.com"}, "http")]
)
def test_bad_key_settings_say_what_to_fix(kwargs, message):
    args = {"provider": "OpenAI", "base_url": "https://api.openai.com/v1", "model": "m", "api_key": KEY, "rpm": 60} | kwargs
    with pytest.raises(InputError, match=message):
        KeyEntry(**args)


def test_keys_can_be_preset_by_environment_variables():
    pool = pool_from_env({"OPENAI_API_KEY": "sk-one,sk-two", "OPENAI_BASE_URL": "https://api.deepseek.com/v1"})
    assert [k.api_key for k in pool] == ["sk-one", "sk-two"]
    assert pool[0].provider == "DeepSeek" and pool[0].model == "deepseek-chat"
    assert pool_from_env({}) == []


def test_the_demo_pool_uses_the_simulated_provider():
    pool = demo_pool(3)
    assert len(pool) == 3 and all(k.simulated for k in pool)
    assert len({k.fingerprint for k in pool}) == 3


def test_requests_per_minute_are_auto_unless_set_and_keys_sharing_a_limit_count_once():
    from core.keys import expected_rpm, start_rpm

    auto = make_pool(["sk-a", "sk-b"], provider="DeepSeek", base_url="https://api.deepseek.com/v1", model="deepseek-chat")
    assert [k.rpm for k in auto] == [None, None] and start_rpm(auto[0]) == PROVIDER_PRESETS["DeepSeek"].start_rpm
    assert expected_rpm(auto) == 2 * PROVIDER_PRESETS["DeepSeek"].start_rpm
    shared = make_pool(["sk-a", "sk-b"], provider="Custom", base_url="https://api.deepseek.com/v1", model="m", rpm=500, shared_limit=True)
    assert start_rpm(shared[0]) == 500 and expected_rpm(shared) == 500  # one account, one limit
    assert shared[0].info().group == shared[0].group and shared[0].info().limit_id == shared[1].info().limit_id
    assert start_rpm(KeyEntry("Custom", "http://my.test/v1", "m", KEY)) == C.AUTO_START_RPM  # unknown: a modest start
