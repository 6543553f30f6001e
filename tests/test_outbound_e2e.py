"""Hosted mode end to end, through the real SDK and the real client of core/clients.py, against
loopback listeners that count connections: a refused base URL (in any spelling, behind a
redirect, behind DNS, behind DNS rebinding) reaches nothing, on every outbound path (key check,
run, batch mode, compare, command line); an allowed one works. Only DNS is stubbed (it cannot run
here): a stub that knows a few .test names and nothing else, so no test can reach the internet."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator

import pytest

from core.cli import main as cli_main
from core.compare import start_comparison
from core.errors import InputError
from core.keycheck import check_keys_async
from core.keys import KeyEntry
from core.outbound import OutboundPolicy, configure_outbound, policy_from_settings
from core.runner import Runner
from core.runs import start_run
from core.spec import RunSpec
from core.status import RunStatus
from core.variants import Variant
from tests.conftest import arithmetic_frame, wait_for
from tests.listeners import TOKEN, Listener, hostile, redirect_to

KEY = "sk-hosted-0123456789abcdefGHIJ"
PUBLIC = "93.184.216.34"  # handed out only to the test's own thread, where nothing connects (see stub_dns)


@pytest.fixture
def listeners() -> Iterator[callable]:
    made: list[Listener] = []

    def make(*args: object, **kwargs: object) -> Listener:
        made.append(Listener(*args, **kwargs))
        return made[-1]

    yield make
    for s in made:
        s.stop()


@pytest.fixture
def hosted(monkeypatch: pytest.MonkeyPatch) -> Iterator[callable]:
    """Hosted mode on for this test, with an allow list and DNS stubbed; off again after."""
    monkeypatch.delenv("LLM_BATCH_HOSTED", raising=False)
    monkeypatch.delenv("LLM_BATCH_ALLOW_HOSTS", raising=False)

    def configure(*allow: str, dns: dict[str, list[str]] | None = None) -> OutboundPolicy:
        names = {"localhost": ["127.0.0.1"], **(dns or {})}

        def stub_dns(host: str, port: int) -> list[str]:
            answer = names.get(host)
            if answer is None:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
            if answer == ["rebind"]:
                # The check before a run asks from the test's thread; a connection's resolver asks
                # from aiohttp's executor. Public for the first, loopback for the second: the
                # public address is never handed to anything that connects.
                return [PUBLIC] if threading.current_thread() is threading.main_thread() else ["127.0.0.1"]
            return answer

        policy = OutboundPolicy(check_urls=True, allow=policy_from_settings({"allow": list(allow)}, {}).allow, resolve=stub_dns)
        configure_outbound(policy)
        return policy

    yield configure
    configure_outbound(None)


@pytest.fixture
def runner() -> Iterator[Runner]:
    r = Runner()  # the default client factory: the one the app and the command line use
    yield r
    r.shutdown()


def key(base_url: str) -> KeyEntry:
    return KeyEntry("Custom", base_url, "m", KEY, 600)


async def check(base_url: str):  # type: ignore[no-untyped-def]
    [result] = await check_keys_async([key(base_url)], timeout=20)
    assert KEY not in result.message
    return result


# --- The key check ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "localhost",
        "127.1",
        "2130706433",
        "0x7f000001",
        "0x7f.1",
        "[::ffff:127.0.0.1]",
        "[::ffff:7f00:1]",
        "public.test",
        "mixed.test",
        "mapped.test",
    ],
)
async def test_a_refused_base_url_reaches_nothing_however_it_is_spelled(hosted, listeners, host):
    hosted(dns={"public.test": ["127.0.0.1"], "mixed.test": [PUBLIC, "127.0.0.1"], "mapped.test": ["::ffff:127.0.0.1"]})
    target = listeners()
    result = await check(f"http://{host}:{target.port}/v1")
    assert result.verdict == "blocked" and not result.ok
    assert "loopback address (this server itself)" in result.message
    assert target.connections == 0


@pytest.mark.parametrize("host", ["[::1]", "[0:0:0:0:0:0:0:1]", "v6.test"])
async def test_ipv6_loopback_is_refused_too(hosted, listeners, host):
    hosted(dns={"v6.test": ["::1"]})
    target = listeners(ipv6=True)
    result = await check(f"http://{host}:{target.port}/v1")
    assert result.verdict == "blocked" and target.connections == 0


@pytest.mark.parametrize("entry", ["127.0.0.1:{port}", "127.0.0.1", "127.0.0.0/8", "localhost:{port}", "http://localhost:{port}/v1"])
async def test_a_host_on_the_allow_list_is_called(hosted, listeners, entry):
    target = listeners()
    hosted(entry.format(port=target.port))
    host = "localhost" if "localhost" in entry else "127.0.0.1"
    result = await check(target.url(host))
    assert result.verdict == "ok", result.message
    assert target.connections >= 1


async def test_without_hosted_mode_a_local_server_is_called_as_before(listeners):
    configure_outbound(OutboundPolicy(check_urls=False))
    try:
        target = listeners()
        assert (await check(target.url())).verdict == "ok" and target.connections >= 1
    finally:
        configure_outbound(None)


async def test_a_redirect_from_an_allowed_host_to_another_port_reaches_nothing(hosted, listeners):
    inside = listeners()
    front = listeners(redirect_to(inside.url()))
    hosted(f"127.0.0.1:{front.port}")
    result = await check(front.url())
    assert result.verdict == "blocked"
    assert f"does not call 127.0.0.1:{inside.port}: 127.0.0.1 is a loopback address" in result.message
    assert front.connections == 1 and inside.connections == 0


@pytest.mark.parametrize("location", ["http://public.test:{port}/v1", "http://[::ffff:127.0.0.1]:{port}/v1", "http://0x7f.1:{port}/v1"])
async def test_a_redirect_to_a_name_or_spelling_of_loopback_reaches_nothing(hosted, listeners, location):
    inside = listeners()
    front = listeners(redirect_to(location.format(port=inside.port)))
    hosted(f"127.0.0.1:{front.port}", dns={"public.test": ["127.0.0.1"]})
    result = await check(front.url())
    assert result.verdict == "blocked" and inside.connections == 0


async def test_a_redirect_between_allowed_hosts_is_followed(hosted, listeners):
    inside = listeners()
    front = listeners(redirect_to(inside.url()))
    hosted(f"127.0.0.1:{front.port}", f"127.0.0.1:{inside.port}")
    assert (await check(front.url())).verdict == "ok"
    assert inside.connections >= 1


async def test_dns_rebinding_passes_the_check_but_not_the_connection(hosted, listeners):
    policy = hosted(dns={"rebind.test": ["rebind"]})
    target = listeners()
    url = f"http://rebind.test:{target.port}/v1"
    policy.check_url(url)  # what a check of the name alone would let through
    result = await asyncio.get_running_loop().run_in_executor(None, lambda: asyncio.run(check(url)))
    assert result.verdict == "blocked" and "127.0.0.1 is a loopback address" in result.message
    assert target.connections == 0


# --- A run, batch mode, compare ------------------------------------------------------------------


def test_a_run_on_a_refused_base_url_is_refused_before_anything_is_stored_or_sent(hosted, listeners, store, runner):
    hosted()
    target = listeners()
    with pytest.raises(InputError) as caught:
        start_run(store, arithmetic_frame(3), RunSpec(template="{question}"), [key(target.url())], runner=runner)
    assert caught.value.code == "outbound_loopback" and caught.value.params["host"] == f"127.0.0.1:{target.port}"
    assert store.list_runs() == [] and target.connections == 0


def test_a_batch_run_on_a_refused_base_url_is_refused_too(hosted, listeners, store, runner):
    hosted()
    target = listeners()
    with pytest.raises(InputError) as caught:
        start_run(store, arithmetic_frame(3), RunSpec(template="{question}", batch=True), [key(target.url())], runner=runner)
    assert caught.value.code == "outbound_loopback" and target.connections == 0


def test_a_comparison_on_a_refused_base_url_is_refused_too(hosted, listeners, store, runner):
    hosted()
    target = listeners()
    variants = [
        Variant("a", "{question}", provider="Custom", base_url=target.url(), model="m"),
        Variant("b", "{question}!", provider="Custom", base_url=target.url(), model="m"),
    ]
    with pytest.raises(InputError) as caught:
        start_comparison(store, arithmetic_frame(3), variants, [key(target.url())], base=RunSpec(template="{question}"), runner=runner)
    assert caught.value.code == "outbound_loopback" and target.connections == 0


def test_a_run_on_an_allowed_local_server_runs_to_the_end(hosted, sim_server, store, runner):
    sim = sim_server("--latency", "0", "--error-rate", "0", "--rpm", "0")
    hosted(f"127.0.0.1:{sim.port}")
    handle = start_run(
        store, arithmetic_frame(5), RunSpec(template="Compute {question}."), [KeyEntry("Local", sim.base_url, "simulated", KEY, 6000)], runner=runner
    )
    assert handle.wait(60)
    snap = handle.snapshot()
    assert snap.state == RunStatus.DONE and snap.ok == 5


def test_a_run_redirected_to_loopback_stops_its_key_and_fails_no_row(hosted, listeners, store, runner):
    inside = listeners()
    front = listeners(redirect_to(inside.url()))
    hosted(f"127.0.0.1:{front.port}")
    handle = start_run(store, arithmetic_frame(4), RunSpec(template="{question}"), [key(front.url())], runner=runner)
    assert wait_for(lambda: handle.snapshot().state == RunStatus.WAITING_FOR_KEYS, timeout=30)
    snap = handle.snapshot()
    assert snap.failed == 0 and snap.ok == 0
    assert f"does not call 127.0.0.1:{inside.port}" in snap.message and KEY not in snap.message
    assert inside.connections == 0
    handle.cancel()
    handle.wait(30)


def test_a_batch_redirected_to_loopback_stops_with_the_reason(hosted, listeners, store, runner):
    inside = listeners()
    front = listeners(redirect_to(inside.url()))
    hosted(f"127.0.0.1:{front.port}")
    handle = start_run(store, arithmetic_frame(4), RunSpec(template="{question}", batch=True), [key(front.url())], runner=runner)
    assert handle.wait(60)
    record = store.get_run(handle.run_id)
    assert record is not None and record.status == RunStatus.FAILED
    assert record.message.startswith(f"This server does not call 127.0.0.1:{inside.port}")
    assert inside.connections == 0 and front.connections >= 1


# --- The command line ------------------------------------------------------------------------------


def _cli(tmp_path, base_url: str, capsys) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    data = tmp_path / "in.csv"
    arithmetic_frame(3).to_csv(data, index=False)
    argv = ["run", str(data), "--template", "Compute {question}.", "--base-url", base_url, "--model", "simulated", "--keys-env", "HOSTED_KEYS",
            "--output", str(tmp_path / "out.csv"), "--data-dir", str(tmp_path / "data")]  # fmt: skip
    code = cli_main(argv)
    return code, capsys.readouterr().err


def test_the_command_line_honours_hosted_mode_from_the_environment(tmp_path, monkeypatch, listeners, capsys):
    configure_outbound(None)  # the command line reads the environment
    monkeypatch.setenv("LLM_BATCH_HOSTED", "1")
    monkeypatch.setenv("HOSTED_KEYS", KEY)
    target = listeners()
    code, err = _cli(tmp_path, target.url(), capsys)
    assert code == 2 and f"error: This server does not call 127.0.0.1:{target.port}: 127.0.0.1 is a loopback address" in err
    assert "Traceback" not in err and target.connections == 0


def test_the_command_line_calls_what_the_environment_allows(tmp_path, monkeypatch, sim_server, capsys):
    configure_outbound(None)
    sim = sim_server("--latency", "0", "--error-rate", "0", "--rpm", "0")
    monkeypatch.setenv("LLM_BATCH_HOSTED", "1")
    monkeypatch.setenv("LLM_BATCH_ALLOW_HOSTS", f"127.0.0.1:{sim.port}")
    monkeypatch.setenv("HOSTED_KEYS", KEY)
    code, err = _cli(tmp_path, sim.base_url, capsys)
    assert code == 0, err


def test_a_broken_allow_list_in_the_environment_stops_the_command_line_with_the_reason(tmp_path, monkeypatch, capsys):
    configure_outbound(None)
    monkeypatch.setenv("LLM_BATCH_HOSTED", "1")
    monkeypatch.setenv("LLM_BATCH_ALLOW_HOSTS", "vllm.lan:port")
    code, err = _cli(tmp_path, "https://api.openai.com/v1", capsys)
    assert code == 2 and "'vllm.lan:port' is not a host, host:port or network" in err


# --- Hostile error bodies ------------------------------------------------------------------------

LEAKS = (KEY, TOKEN, "Authorization", "authorization", "Bearer", "Set-Cookie", "s3cr3tcookie", "X-Internal-Token", "User-Agent", "x-stainless")


@pytest.mark.parametrize("is_hosted", [True, False])
@pytest.mark.parametrize("status, as_json", [(400, True), (400, False), (500, True), (500, False)])
def test_a_hostile_error_body_is_stored_and_shown_short_without_headers_or_secrets(hosted, listeners, store, runner, is_hosted, status, as_json):
    target = listeners(hostile(status, as_json))
    if is_hosted:
        hosted(f"127.0.0.1:{target.port}")
    else:
        configure_outbound(OutboundPolicy(check_urls=False))
    handle = start_run(store, arithmetic_frame(2), RunSpec(template="{question}", max_attempts=1), [key(target.url())], runner=runner)
    assert handle.wait(60)
    errors = list(store.results_table(handle.run_id)["error"])
    shown = [*errors, *handle.snapshot().recent_errors, handle.snapshot().message]
    assert len(errors) == 2 and all(errors)
    for text in shown:
        assert len(text) < 500, len(text)
        for leak in LEAKS:
            assert leak not in text, (leak, text)
    assert all("upstream said no" in e for e in errors)  # the provider's own words survive

    [result] = asyncio.run(check_keys_async([key(target.url())], timeout=20))
    assert len(result.message) < 500 and not any(leak in result.message for leak in LEAKS), result.message


# --- Each layer of the guarded client on its own ---------------------------------------------------


async def test_the_resolver_alone_refuses_a_name_that_resolves_inside(hosted):
    from core.outbound_http import ConnectGuard, GuardedResolver
    from core.refusals import OutboundRefused

    policy = hosted(dns={"public.test": [PUBLIC, "10.0.0.7"], "fine.test": [PUBLIC]})
    resolver = GuardedResolver(ConnectGuard(policy))
    with pytest.raises(OutboundRefused) as caught:
        await resolver.resolve("public.test", 443, socket.AF_UNSPEC)
    assert caught.value.reason == "private"
    # what it gives aiohttp is exactly what it checked (aiohttp connects to these and no others)
    assert [r["host"] for r in await resolver.resolve("fine.test", 443, socket.AF_UNSPEC)] == [PUBLIC]


async def test_the_socket_backstop_alone_refuses_an_internal_address(hosted, listeners):
    """aiohttp skips the resolver for an IP address: with the request check taken away, the socket
    factory still refuses to connect, and the listener sees nothing."""
    import aiohttp

    from core.outbound_http import ConnectGuard, GuardedResolver
    from core.refusals import BlockedConnect, refusal_in

    policy = hosted()
    target = listeners()
    guard = ConnectGuard(policy)
    connector = aiohttp.TCPConnector(resolver=GuardedResolver(guard), socket_factory=guard.socket)
    async with aiohttp.ClientSession(connector=connector) as session:
        with pytest.raises(aiohttp.ClientConnectorError) as caught:
            await session.get(target.url())
    refused = refusal_in(caught.value)
    assert isinstance(caught.value.os_error, BlockedConnect) and refused is not None and refused.reason == "loopback"
    assert target.connections == 0
    guard.approved.add(("127.0.0.1", target.port))  # what the resolver checked for an allowed name
    guard.socket((socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", target.port))).close()


async def test_error_and_redirect_bodies_are_read_16_kib_far_and_answers_in_full(hosted, listeners):
    import httpx2

    from core import constants as C
    from core.clients import tls_context
    from core.outbound_http import guarded_http_client

    big = listeners(lambda handler, body: (200, {"content-type": "text/plain"}, b"x" * 1_000_000))
    bad = listeners(hostile(500, as_json=False))
    client: httpx2.AsyncClient = guarded_http_client(hosted(f"127.0.0.1:{big.port}", f"127.0.0.1:{bad.port}"), tls_context())
    async with client:
        assert len((await client.get(big.url() + "/files/f/content")).content) == 1_000_000  # a batch's output file
        error = await client.post(bad.url() + "/chat/completions")
        assert error.status_code == 500 and len(error.content) == C.ERROR_BODY_MAX_BYTES
