"""The rules the pages and the command line share, each owned once by core: the form's settings
and a RunSpec, which keys a run uses, which keys a resume takes, and statuses that cannot be
misspelt."""

from __future__ import annotations

import json

import pytest

import core
from core import InputError, KeySource, RowResult, RowStatus, RunSpec, RunStatus
from core.cli import _parser, _spec
from core.columns import OutputColumn
from core.durations import clock
from core.errors import exception_chain
from core.keys import key_settings, pool_from_settings, server_pool

SPECS = [
    RunSpec(template="Compute {question}"),
    RunSpec(template="Say {x}", system="Be brief.", temperature=0.0, max_tokens=64, label_column="answer", concurrency=32, auto_concurrency=True),
    RunSpec(template="JSON for {x}", json_fields=("reason", "infer"), label_column="y", label_field="reason"),
    RunSpec(
        template="Rate {x}",
        max_reasks=0,
        label_field="stars",
        columns=(OutputColumn("sentiment", "choice", "how it sounds", choices=("positive", "negative")), OutputColumn("stars", "integer", required=False)),
    ),  # fmt: skip
    RunSpec(template="{x}", max_attempts=7, timeout_s=12.5, use_cache=False, price_in=0.5, price_out=1.5),
]


@pytest.mark.parametrize("spec", SPECS)
def test_a_run_spec_survives_the_round_trip_through_the_forms_settings(spec):
    assert RunSpec.from_settings(spec.to_settings()) == spec


def test_settings_hidden_by_the_form_do_not_reach_the_run():
    rows = [{"name": "a", "type": "number"}]
    settings = {"template": "{x}", "output_mode": "text", "output_columns": rows, "json_fields": "b", "set_temperature": False, "temperature": 1.2}
    spec = RunSpec.from_settings(settings)
    assert (spec.columns, spec.temperature) == ((), None)
    assert RunSpec.from_settings({**settings, "output_mode": "columns"}).columns == (OutputColumn("a", "number"),)


def test_settings_of_before_still_read_their_json_fields_as_text_columns():
    old = {"template": "{x}", "output_mode": "json", "json_fields": " a, ,b ,", "json_format": True}
    assert RunSpec.from_settings(old).columns == (OutputColumn("a"), OutputColumn("b"))


def test_a_spec_stored_before_output_columns_reads_back_with_text_columns():
    stored = '{"template": "{x}", "json_fields": ["reason", "infer"], "json_response_format": true, "label_field": "infer"}'
    spec = RunSpec.from_json(stored)
    assert spec.columns == (OutputColumn("reason"), OutputColumn("infer")) and spec.json_fields == ()
    assert spec.compared_field == "infer" and RunSpec.from_json(spec.to_json()) == spec


def test_columns_and_fields_together_or_twice_are_refused():
    with pytest.raises(InputError) as caught:
        RunSpec(template="{x}", json_fields=("a",), columns=(OutputColumn("b"),))
    assert caught.value.code == "columns_and_fields"
    with pytest.raises(InputError) as caught:
        RunSpec(template="{x}", columns=(OutputColumn("b"), OutputColumn("B")))
    assert caught.value.code == "column_duplicate"


def test_empty_boxes_of_the_form_mean_none():
    spec = RunSpec.from_settings({"template": "{x}", "system": "", "label_column": "", "max_tokens": 0, "price_in": None})
    assert (spec.system, spec.label_column, spec.max_tokens, spec.price_in) == (None, None, None, None)


def test_the_simulated_provider_is_free_whatever_price_was_typed():
    spec = RunSpec.from_settings({"template": "{x}", "price_in": 3.0, "price_out": 4.0}, free=True)
    assert (spec.price_in, spec.price_out) == (None, None)


def test_bad_settings_are_an_input_error_in_plain_words():
    with pytest.raises(InputError, match="Concurrency"):
        RunSpec.from_settings({"template": "{x}", "concurrency": 0})
    with pytest.raises(InputError, match="timeout"):
        RunSpec.from_settings({"template": "{x}", "timeout_s": 0})


def test_the_command_line_and_the_app_make_the_same_run_from_the_same_choices(tmp_path):
    args = _parser().parse_args([
        "run", "in.csv", "--output", "o.csv", "--template", "JSON for {x}", "--json-fields", "reason, infer", "--json-response-format",
        "--label-column", "y", "--temperature", "0.3", "--max-tokens", "50", "--concurrency", "auto:40", "--max-attempts", "3", "--no-cache",
    ])  # fmt: skip
    page = {
        "template": "JSON for {x}", "system": "", "output_mode": "json", "json_fields": "reason, infer", "json_format": True, "label_column": "y",
        "set_temperature": True, "temperature": 0.3, "max_tokens": 50, "concurrency": 40, "auto_concurrency": True, "max_attempts": 3,
        "use_cache": False, "price_in": None, "price_out": None,
    }  # fmt: skip
    assert _spec(args) == RunSpec.from_settings(page)
    # --columns is the editor's content, as a file
    rows = [{"name": "sentiment", "type": "choice", "choices": ["positive", "negative"]}, {"name": "stars", "type": "integer", "required": False}]
    path = tmp_path / "columns.json"
    path.write_text(json.dumps(rows), encoding="utf-8")
    args = _parser().parse_args(["run", "in.csv", "--output", "o.csv", "--template", "Rate {x}", "--columns", str(path), "--max-reasks", "1"])
    editor = {"template": "Rate {x}", "output_mode": "columns", "output_columns": rows, "max_reasks": 1}
    assert _spec(args) == RunSpec.from_settings(editor) and _spec(args).columns[1] == OutputColumn("stars", "integer", required=False)


# --- which keys -----------------------------------------------------------------------------

FORM = {"provider": "DeepSeek", "base_url": "https://api.deepseek.com/v1", "model": "deepseek-chat", "rpm": None, "tpm": 0, "shared_limit": False}


def preset_keys() -> list[core.KeyEntry]:
    return core.make_pool(["sk-preset-0000aaaa"], provider="OpenAI", base_url="https://api.openai.com/v1", model="gpt-4o-mini")


def test_the_users_own_keys_win_and_the_presets_are_not_even_asked_for():
    def preset() -> list[core.KeyEntry]:
        raise AssertionError("the preset keys were asked for")

    entries, source = pool_from_settings({**FORM, "user_keys": ["sk-user-1111bbbb", "sk-user-2222cccc"], "rpm": 30, "tpm": 9000}, preset)
    assert source is KeySource.USER
    assert [e.api_key for e in entries] == ["sk-user-1111bbbb", "sk-user-2222cccc"]
    assert {(e.provider, e.model, e.rpm, e.tpm) for e in entries} == {("DeepSeek", "deepseek-chat", 30, 9000)}


def test_preset_keys_are_used_when_the_user_gave_none():
    entries, source = pool_from_settings({**FORM, "user_keys": []}, preset_keys)
    assert source is KeySource.PRESET and [e.api_key for e in entries] == ["sk-preset-0000aaaa"]


def test_a_local_server_needs_no_key():
    local = {**FORM, "provider": "Ollama (local)", "base_url": "http://localhost:11434/v1", "model": "llama3.2"}
    entries, source = pool_from_settings(local, preset_keys)
    assert source is KeySource.USER and len(entries) == 1 and entries[0].base_url == "http://localhost:11434/v1"


def test_the_simulated_provider_gets_the_demo_keys_with_the_forms_limits():
    sim = {**FORM, "provider": core.SIMULATED_PROVIDER, "rpm": 120}
    entries, source = pool_from_settings(sim)
    assert source is KeySource.SIMULATED
    assert len(entries) == core.constants.DEMO_KEYS and all(e.simulated and e.rpm == 120 for e in entries)


def test_a_provider_that_needs_a_key_never_falls_back_to_the_simulator():
    with pytest.raises(InputError) as caught:
        pool_from_settings({**FORM, "user_keys": []})
    assert caught.value.code == "needs_key" and caught.value.params == {"provider": "DeepSeek"}


def test_shared_limit_groups_the_users_keys():
    entries, _ = pool_from_settings({**FORM, "user_keys": ["sk-a-00000000", "sk-b-11111111"], "shared_limit": True})
    assert entries[0].group is not None and entries[0].group == entries[1].group


def test_server_keys_come_from_the_secrets_section_before_the_environment():
    section = {"name": "DeepSeek", "keys": ["sk-secret-0000aaaa"], "rpm": 60, "shared_limit": True}
    env = {"OPENAI_API_KEY": "sk-env-1111bbbb"}
    from_secrets = server_pool(section, env, rpm=None)
    assert [e.api_key for e in from_secrets] == ["sk-secret-0000aaaa"]
    assert (from_secrets[0].base_url, from_secrets[0].model, from_secrets[0].rpm) == ("https://api.deepseek.com/v1", "deepseek-chat", 60)
    from_env = server_pool(None, env, rpm=30)
    assert [(e.api_key, e.provider, e.rpm) for e in from_env] == [("sk-env-1111bbbb", "OpenAI", 30)]
    assert server_pool({"keys": []}, {}) == []


def test_a_stored_key_gives_the_form_back_its_provider_model_and_limits():
    entry = pool_from_settings({**FORM, "user_keys": ["sk-user-1111bbbb"], "rpm": 45, "tpm": 5000})[0][0]
    assert key_settings(entry.info()) == {**{k: FORM[k] for k in ("provider", "base_url", "model")}, "rpm": 45, "tpm": 5000}
    custom = core.make_pool(["sk-x-00000000"], provider="Custom", base_url="https://api.moonshot.cn/v1", model="m")[0]
    assert key_settings(custom.info())["provider"] == "Moonshot (Kimi)"  # by base URL
    assert key_settings(core.demo_pool(1)[0].info())["provider"] == core.SIMULATED_PROVIDER


# --- which keys a resume takes ----------------------------------------------------------------


def test_a_simulated_run_resumes_on_the_simulator_whatever_keys_the_page_holds(store):
    frame = core.load_table(b"x\n1\n2\n", "t.csv").frame
    spec = RunSpec(template="{x}")
    demo_run = store.get_run(store.create_run(spec, frame, [k.info() for k in core.demo_pool(2)]))
    real_keys = preset_keys()
    real_run = store.get_run(store.create_run(spec, frame, [k.info() for k in real_keys]))
    assert core.resume_keys(demo_run, real_keys) is None
    assert core.resume_keys(real_run, real_keys) == real_keys
    assert core.resume_keys(real_run, None) is None


# --- statuses -------------------------------------------------------------------------------


def test_a_misspelt_status_fails_at_once():
    with pytest.raises(AttributeError):
        RunStatus.DNOE  # noqa: B018 - the typo is the test
    with pytest.raises(AttributeError):
        RowStatus.FAILLED  # noqa: B018
    with pytest.raises(ValueError):
        RowResult(row=0, status="sucess")  # type: ignore[arg-type]


def test_statuses_keep_the_values_stored_runs_and_exports_have():
    assert [s.value for s in RowStatus] == ["ok", "unparsed", "failed", "pending"]
    stored = {"running", "paused", "waiting_for_keys", "done", "cancelled", "failed", "interrupted", "creating", "deleting"}
    assert stored <= {s.value for s in RunStatus}
    assert RunStatus.DONE == "done" and f"{RowStatus.OK}" == "ok"
    assert RowResult(row=0, status="ok").status is RowStatus.OK


def test_a_stored_status_reads_back_as_the_enum(store):
    run_id = store.create_run(RunSpec(template="{x}"), core.load_table(b"x\n1\n", "t.csv").frame, [k.info() for k in core.demo_pool(1)])
    store.set_status(run_id, RunStatus.DONE, "Finished")
    assert store.get_run(run_id).status is RunStatus.DONE
    with pytest.raises(ValueError):
        store.set_status(run_id, "dnoe")


# --- small shared helpers -------------------------------------------------------------------


@pytest.mark.parametrize(("seconds", "text"), [(None, "–"), (float("inf"), "–"), (0, "0:00"), (7.4, "0:07"), (65, "1:05"), (3723.6, "1:02:04")])
def test_one_clock_for_times_left_and_taken(seconds, text):
    assert clock(seconds) == text


def test_the_exception_chain_ends_even_when_it_loops():
    inner = OSError("Name or service not known")
    outer = RuntimeError("Connection error")
    outer.__cause__ = inner
    inner.__context__ = outer  # a loop
    assert list(exception_chain(outer)) == [outer, inner]


def test_the_label_is_compared_with_the_column_named_like_it_unless_another_is_chosen():
    columns = (OutputColumn("sentiment", "choice", choices=("a", "b")), OutputColumn("rating", "integer"))
    assert RunSpec(template="{x}", columns=columns, label_column="sentiment").compared_field == "sentiment"
    assert RunSpec(template="{x}", columns=columns, label_column="label").compared_field == "rating"  # no such name: the last
    assert RunSpec(template="{x}", columns=columns, label_column="sentiment", label_field="rating").compared_field == "rating"
