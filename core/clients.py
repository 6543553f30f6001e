"""One `openai.AsyncOpenAI` client per key: how the engine, the key check and batch mode reach a
provider. In hosted mode (core/outbound.py) its HTTP client checks every request and connection."""

from __future__ import annotations

import functools
import ssl
from collections.abc import Callable

import httpx2
import openai

from .keys import KeyEntry
from .outbound import outbound_policy

__all__ = ["ClientFactory", "default_client_factory"]

ClientFactory = Callable[[KeyEntry, float], openai.AsyncOpenAI]


def default_client_factory(entry: KeyEntry, timeout: float) -> openai.AsyncOpenAI:
    """The SDK's own retries are off: the engine owns retries, since only the engine can move a
    row to another key. aiohttp was the fastest transport measured. The outbound policy is read
    for each client, so a server's [hosting] settings apply from the next key on."""
    if entry.simulated:
        from .simulator import demo_simulator

        return demo_simulator().client(entry.api_key, timeout=timeout, max_retries=0)
    policy = outbound_policy()
    if policy.check_urls:
        from .outbound_http import guarded_http_client

        http_client = guarded_http_client(policy, tls_context())
    else:
        http_client = openai.DefaultAioHttpClient(verify=tls_context())
    return openai.AsyncOpenAI(api_key=entry.api_key, base_url=entry.base_url, timeout=timeout, max_retries=0, http_client=http_client)


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One TLS context for every client of the process, built as the SDK's HTTP library builds its
    default (system CAs, SSL_CERT_FILE / SSL_CERT_DIR honoured). Each client building its own read
    the CA bundle again: 38 ms a key, which 8 keys paid before their first request."""
    return httpx2.create_ssl_context()
