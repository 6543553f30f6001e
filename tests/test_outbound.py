"""Hosted mode's outbound check, table-tested: which addresses are refused and why, every spelling
of an internal address, IPv6 forms that carry an IPv4 address, the allow list, the settings, and
the scrubbing of provider error text. DNS is a stub here (nothing else is faked); the end-to-end
tests against loopback listeners are in test_outbound_e2e.py."""

from __future__ import annotations

import ipaddress
import socket

import pytest

from core.addresses import REASONS, OddSpelling, forbidden_reason, literal_address
from core.errors import InputError, scrub
from core.messages import explain
from core.outbound import OutboundPolicy, check_base_urls, policy_from_settings
from core.refusals import REFUSAL_SENTENCES, OutboundRefused, refusal_sentence

ON = OutboundPolicy(check_urls=True)


@pytest.mark.parametrize(
    "address, reason",
    [
        ("8.8.8.8", None),
        ("1.1.1.1", None),
        ("104.18.0.1", None),
        ("2606:4700::1111", None),
        ("127.0.0.1", "loopback"),
        ("127.255.255.254", "loopback"),
        ("::1", "loopback"),
        ("0.0.0.0", "unspecified"),
        ("0.1.2.3", "unspecified"),
        ("::", "unspecified"),
        ("10.0.0.1", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.255", "private"),
        ("192.168.1.1", "private"),
        ("fd12:3456::1", "private"),
        ("fc00::1", "private"),
        ("fec0::1", "private"),
        ("169.254.169.254", "metadata"),
        ("169.254.170.2", "metadata"),
        ("100.100.100.200", "metadata"),
        ("192.0.0.192", "metadata"),
        ("fd00:ec2::254", "metadata"),
        ("169.254.1.1", "link_local"),
        ("fe80::1", "link_local"),
        ("100.64.0.1", "shared"),
        ("100.127.255.255", "shared"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("ff02::1", "multicast"),
        ("255.255.255.255", "reserved"),
        ("240.0.0.1", "reserved"),
        ("192.0.2.10", "reserved"),
        ("198.18.0.1", "reserved"),
        ("2001:db8::1", "reserved"),
        ("2001::1", "reserved"),  # Teredo
        # IPv6 forms of IPv4 addresses are judged by the IPv4 address they reach
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:7f00:1", "loopback"),
        ("::ffff:169.254.169.254", "metadata"),
        ("::ffff:10.0.0.1", "private"),
        ("::ffff:8.8.8.8", None),
        ("::127.0.0.1", "loopback"),  # IPv4-compatible (deprecated)
        ("::8.8.8.8", "reserved"),
        ("64:ff9b::7f00:1", "loopback"),  # NAT64
        ("64:ff9b::a9fe:a9fe", "metadata"),
        ("64:ff9b::808:808", None),
        ("64:ff9b:1::1", "private"),
        ("2002:7f00:1::1", "loopback"),  # 6to4
        ("2002:a9fe:a9fe::1", "metadata"),
        ("2002:0808:0808::1", None),
        ("::ffff:0:7f00:1", "reserved"),  # IPv4-translated
    ],
)
def test_addresses_are_refused_for_what_they_are(address: str, reason: str | None):
    assert forbidden_reason(ipaddress.ip_address(address)) == reason


def test_a_scoped_link_local_address_is_still_link_local():
    assert forbidden_reason(ipaddress.IPv6Address("fe80::1%eth0")) == "link_local"


@pytest.mark.parametrize(
    "host, address",
    [
        ("127.0.0.1", "127.0.0.1"),
        ("127.0.0.1.", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),  # decimal
        ("0x7f000001", "127.0.0.1"),  # hex
        ("0X7F000001", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),  # octal
        ("0177.0.0.1", "127.0.0.1"),
        ("0x7f.0.0.1", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("127.0.1", "127.0.0.1"),
        ("0", "0.0.0.0"),
        ("0x0", "0.0.0.0"),
        ("3232235777", "192.168.1.1"),
        ("0xa9fea9fe", "169.254.169.254"),
        ("0251.0376.0251.0376", "169.254.169.254"),
        ("169.254.43518", "169.254.169.254"),
        ("::1", "::1"),
        ("[::1]", "::1"),
        ("::ffff:127.0.0.1", "::ffff:7f00:1"),
        ("fe80::1%25eth0", "fe80::1"),
        ("api.openai.com", None),
        ("localhost", None),  # a name: the policy names it loopback itself
        ("1e100.net", None),
        ("my-vllm_01.internal", None),
        ("xn--fiqs8s.cn", None),
    ],
)
def test_every_spelling_of_an_address_is_read_as_that_address(host: str, address: str | None):
    found = literal_address(host)
    assert (found if found is None else str(ipaddress.ip_address(str(found).split("%")[0]))) == address


@pytest.mark.parametrize("host", ["1.2.3.4.5", "256.1.1.1", "0x1g.1", "1..1", "4294967296", "%31%32%37.0.0.1", "exa mple.com", "a/b", "::g", "127.0.0.1:80"])
def test_odd_spellings_are_refused_rather_than_guessed(host: str):
    with pytest.raises(OddSpelling):
        literal_address(host)


# --- The policy, DNS stubbed -----------------------------------------------------------------------

DNS = {
    "api.public.test": ["93.184.216.34"],
    "internal.public.test": ["10.1.2.3"],
    "mixed.public.test": ["93.184.216.34", "127.0.0.1"],
    "v6only.public.test": ["2606:4700::1111"],
    "mapped.public.test": ["::ffff:127.0.0.1"],
    "metadata.google.internal": ["169.254.169.254"],
    "127.0.0.1.nip.io": ["127.0.0.1"],
    "ollama.lan": ["192.168.1.20"],
}


def stub_dns(host: str, port: int) -> list[str]:
    if host in DNS:
        return DNS[host]
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


def policy(*allow: str) -> OutboundPolicy:
    base = policy_from_settings({"check_urls": True, "allow": list(allow)}, {})
    return OutboundPolicy(check_urls=True, allow=base.allow, resolve=stub_dns)


def refusal(p: OutboundPolicy, url: str) -> str | None:
    try:
        p.check_url(url)
    except OutboundRefused as refused:
        return refused.reason
    return None


@pytest.mark.parametrize(
    "url, reason",
    [
        ("https://api.openai.com/v1", None),  # no such name in the stub: DNS failure passes, the connection fails on it
        ("https://api.public.test/v1", None),
        ("http://api.public.test:8080/v1", None),
        ("https://v6only.public.test/v1", None),
        ("http://93.184.216.34/v1", None),
        ("http://[2606:4700::1111]/v1", None),
        ("ftp://api.public.test/v1", "scheme"),
        ("file:///etc/passwd", "scheme"),
        ("gopher://127.0.0.1:6379/_INFO", "scheme"),
        ("http:///v1", "no_host"),
        ("http://127.0.0.1:11434/v1", "loopback"),
        ("http://localhost:8000/v1", "loopback"),
        ("http://LOCALHOST./v1", "loopback"),
        ("http://vllm.localhost/v1", "loopback"),
        ("http://2130706433/v1", "loopback"),
        ("http://0x7f000001/v1", "loopback"),
        ("http://0x7f.1/v1", "loopback"),
        ("http://127.1/v1", "loopback"),
        ("http://0177.0.0.1/v1", "spelling"),  # httpx2 itself refuses to send it
        ("http://[::1]:8000/v1", "loopback"),
        ("http://[::ffff:127.0.0.1]/v1", "loopback"),
        ("http://[::ffff:7f00:1]/v1", "loopback"),
        ("http://[0:0:0:0:0:ffff:7f00:1]/v1", "loopback"),
        ("http://[::]/v1", "unspecified"),
        ("http://0.0.0.0:8000/v1", "unspecified"),
        ("http://0/v1", "unspecified"),
        ("http://169.254.169.254/latest/meta-data/", "metadata"),
        ("http://0xa9fea9fe/latest/meta-data/", "metadata"),
        ("http://169.254.43518/latest/", "metadata"),
        ("http://[fd00:ec2::254]/latest/", "metadata"),
        ("http://[::ffff:a9fe:a9fe]/latest/", "metadata"),
        ("http://metadata.google.internal/computeMetadata/v1/", "metadata"),
        ("http://10.0.0.5:8000/v1", "private"),
        ("http://192.168.1.1/v1", "private"),
        ("http://[fd12::1]/v1", "private"),
        ("http://100.64.1.1/v1", "shared"),
        ("http://224.0.0.1/v1", "multicast"),
        ("http://[fe80::1%25eth0]/v1", "link_local"),
        ("http://internal.public.test/v1", "private"),  # a public-looking name that resolves inside
        ("http://127.0.0.1.nip.io/v1", "loopback"),
        ("http://mixed.public.test/v1", "loopback"),  # one internal address among public ones is enough
        ("http://mapped.public.test/v1", "loopback"),
        ("http://%31%32%37.0.0.1/v1", "spelling"),
        ("http://user:pass@127.0.0.1/v1", "loopback"),
    ],
)
def test_base_urls_are_checked_as_spelled_and_after_dns(url: str, reason: str | None):
    assert refusal(policy(), url) == reason


@pytest.mark.parametrize(
    "allow, url, reason",
    [
        (["localhost:11434"], "http://localhost:11434/v1", None),
        (["localhost:11434"], "http://localhost:8000/v1", "loopback"),  # the port is part of the entry
        (["localhost:11434"], "http://127.0.0.1:11434/v1", "loopback"),  # a name allows that name, not its address
        (["localhost"], "http://localhost:8000/v1", None),
        (["127.0.0.1:8000"], "http://127.0.0.1:8000/v1", None),
        (["127.0.0.1:8000"], "http://127.1:8000/v1", None),  # an address allows its every spelling
        (["127.0.0.1:8000"], "http://0x7f000001:8000/v1", None),
        (["127.0.0.1:8000"], "http://127.0.0.1:8001/v1", "loopback"),
        (["127.0.0.1"], "http://127.0.0.1:9999/v1", None),
        (["[::1]:8000"], "http://[::1]:8000/v1", None),
        (["[::1]:8000"], "http://[::1]:8001/v1", "loopback"),
        (["::1"], "http://[::1]:1234/v1", None),
        (["10.0.0.0/8"], "http://10.20.30.40:8000/v1", None),
        (["10.0.0.0/8"], "http://192.168.1.1/v1", "private"),
        (["10.0.0.0/8"], "http://internal.public.test/v1", None),  # a network allows what names resolve into it
        (["192.168.1.0/24"], "http://ollama.lan:11434/v1", None),
        (["ollama.lan"], "http://ollama.lan:11434/v1", None),
        (["OLLAMA.LAN."], "http://ollama.lan:11434/v1", None),
        (["*.public.test"], "http://internal.public.test/v1", None),
        (["*.public.test"], "http://public.test.evil.test/v1", None),  # no such name: DNS fails, nothing is called
        (["*.public.test"], "http://127.0.0.1.nip.io/v1", "loopback"),
        (["fd00::/8"], "http://[fd12::1]/v1", None),
        (["fd00::/8"], "http://[fe80::1]/v1", "link_local"),
        (["http://localhost:11434/v1"], "http://localhost:11434/v1", None),  # a pasted base URL is its host and port
        (["127.0.0.0/8"], "http://[::ffff:127.0.0.1]/v1", "loopback"),  # an IPv4 network does not allow an IPv6 address
        (["169.254.169.254"], "http://169.254.169.254/latest/", None),  # the admin's choice, however unwise
        ([], "ftp://localhost:11434/v1", "scheme"),
        (["localhost:11434"], "ftp://localhost:11434/v1", "scheme"),  # never another scheme
    ],
)
def test_the_allow_list_lets_the_admins_hosts_ports_and_networks_through(allow: list[str], url: str, reason: str | None):
    assert refusal(policy(*allow), url) == reason


@pytest.mark.parametrize("entry", ["", "*", "a*b.com", "10.0.0.0/33", "host:0", "host:99999", "host:port", "[::1]x", "1.2.3.4.5", "exa mple.com"])
def test_a_broken_allow_entry_is_an_input_error_naming_it(entry: str):
    if not entry:  # empty entries are skipped, not errors
        assert policy_from_settings({"check_urls": True, "allow": [entry]}, {}).allow == ()
        return
    with pytest.raises(InputError) as caught:
        policy_from_settings({"check_urls": True, "allow": [entry]}, {})
    assert caught.value.code == "outbound_allow_entry" and repr(entry) in str(caught.value)


def test_the_resolved_check_sees_every_address_a_name_gives():
    p = policy()
    p.check_resolved("api.public.test", 443, ["93.184.216.34", "2606:4700::1111"])
    with pytest.raises(OutboundRefused) as caught:
        p.check_resolved("api.public.test", 443, ["93.184.216.34", "fe80::1%eth0"])
    assert caught.value.reason == "link_local"


# --- Settings --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "hosting, environ, on",
    [
        (None, {}, False),
        ({}, {}, False),
        ({"check_urls": False}, {}, False),
        ({"check_urls": True}, {}, True),
        ({"check_urls": "true"}, {}, True),
        (None, {"LLM_BATCH_HOSTED": "1"}, True),
        (None, {"LLM_BATCH_HOSTED": "yes"}, True),
        (None, {"LLM_BATCH_HOSTED": "0"}, False),
        (None, {"LLM_BATCH_HOSTED": ""}, False),
        ({"check_urls": False}, {"LLM_BATCH_HOSTED": "1"}, True),  # either turns it on
    ],
)
def test_hosted_mode_is_on_from_secrets_or_the_environment(hosting, environ, on):
    assert policy_from_settings(hosting, environ).check_urls is on


def test_allow_lists_from_secrets_and_environment_add_up():
    p = policy_from_settings(
        {"check_urls": True, "allow": ["localhost:11434", "10.0.0.0/8"]}, {"LLM_BATCH_ALLOW_HOSTS": "vllm.lan:8000, [::1]:8000 10.0.0.0/8"}
    )
    assert [e.text for e in p.allow] == ["localhost:11434", "10.0.0.0/8", "vllm.lan:8000", "[::1]:8000"]
    assert policy_from_settings({"allow": "a.lan, b.lan"}, {}).allow[1].host == "b.lan"


def test_off_means_nothing_is_checked():
    OutboundPolicy(check_urls=False).check_url("http://127.0.0.1:1/v1")
    check_base_urls(["http://169.254.169.254/"], OutboundPolicy(check_urls=False))


def test_a_refused_base_url_is_an_input_error_with_a_code_per_reason():
    with pytest.raises(InputError) as caught:
        check_base_urls(["https://api.public.test/v1", "http://127.0.0.1:11434/v1"], policy())
    assert caught.value.code == "outbound_loopback"
    assert caught.value.params == {"host": "127.0.0.1:11434", "address": "127.0.0.1"}
    assert str(caught.value).startswith("This server does not call 127.0.0.1:11434: 127.0.0.1 is a loopback address")


@pytest.mark.parametrize("reason", REASONS)
def test_every_refusal_sentence_reads_back_as_its_code(reason: str):
    said = explain(refusal_sentence(reason, "[::1]:8000", "::1"))
    assert said.code == f"outbound_{reason}"
    if "{host}" in REFUSAL_SENTENCES[reason]:
        assert said.params["host"] == "[::1]:8000"
    if "{address}" in REFUSAL_SENTENCES[reason]:
        assert said.params["address"] == "::1"


def test_a_refusal_inside_a_stopped_key_reads_back_too():
    said = explain("Key sk-...abcd stopped: " + refusal_sentence("private", "ollama.lan:11434", "192.168.1.20"))
    assert said.code == "key_stopped" and said.inner[0].code == "outbound_private"
    assert said.inner[0].params == {"host": "ollama.lan:11434", "address": "192.168.1.20"}


# --- Error text from a provider ----------------------------------------------------------------

KEY = "sk-live-Zq3xY7wV5uT1sR9pO2nM4lK6"


@pytest.mark.parametrize(
    "text, kept, gone",
    [
        ("model 'gpt-9' not found", ["model 'gpt-9' not found"], []),
        ("Invalid date: 2024-13-01", ["Invalid date: 2024-13-01"], []),
        ("model meta-llama/Meta-Llama-3.1-405B-Instruct-Turbo is overloaded", ["meta-llama/Meta-Llama-3.1-405B-Instruct-Turbo"], []),
        (f"Incorrect API key provided: {KEY}", ["Incorrect API key provided"], [KEY, "Zq3xY7"]),
        (
            f"bad request\nAuthorization: Bearer {KEY}\nHost: internal.corp\nX-Internal-Token: abc\nrest",
            ["bad request", "rest"],
            ["Authorization", "Bearer", KEY, "internal.corp", "X-Internal-Token", "abc"],
        ),
        (
            "HTTP/1.1 500 Internal Server Error\nServer: nginx/1.25\nSet-Cookie: session=deadbeef; HttpOnly\n\nupstream failed",
            ["upstream failed"],
            ["HTTP/1.1", "nginx", "Set-Cookie", "session=deadbeef"],
        ),
        (
            '{"message": "oops", "headers": {"authorization": "Bearer abc.def", "cookie": "a=b"}}',
            ["oops"],
            ["authorization", "Bearer", "abc.def", "cookie", "a=b"],
        ),
        ("POST /v1/chat/completions HTTP/1.1\nContent-Type: application/json\nbody was bad", ["body was bad"], ["POST /v1", "Content-Type"]),
        ("token ghp_16C7e42F292c6912E7710c838347Ae178B4a expired", ["token", "expired"], ["ghp_16C7e42F292c6912E7710c838347Ae178B4a", "16C7e42F"]),
        (
            "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U in header",
            ["jwt", "in header"],
            ["eyJhbGci", "dozjgNry"],
        ),
        ("request id 7f3a9c2e1b4d6f8a0c2e4b6d8f0a2c4e", ["request id"], ["7f3a9c2e1b4d6f8a0c2e4b6d8f0a2c4e"]),
    ],
)
def test_provider_text_loses_headers_and_anything_like_a_credential(text: str, kept: list[str], gone: list[str]):
    said = scrub(text, [KEY])
    for part in kept:
        assert part in said, (part, said)
    for part in gone:
        assert part not in said, (part, said)


def test_provider_text_is_cut_short_and_collapsed():
    said = scrub("word  \n\t " * 100_000)
    assert len(said) <= 300 and said.endswith("…") and "\n" not in said and "  " not in said
    assert scrub("x" * 299) == "x" * 299
