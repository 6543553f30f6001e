"""The client factory: one SDK client per key, SDK retries off, one TLS context for them all."""

from __future__ import annotations

import ssl

from core.clients import default_client_factory, tls_context
from core.keys import KeyEntry


async def test_every_key_gets_its_own_client_sharing_one_verifying_tls_context():
    entries = [KeyEntry("OpenAI", "https://api.openai.com/v1", "gpt-4o-mini", f"sk-test-{i}") for i in range(3)]
    clients = [default_client_factory(e, 30.0) for e in entries]
    try:
        assert len({id(c) for c in clients}) == 3
        assert [c.api_key for c in clients] == [e.api_key for e in entries]
        assert all(c.max_retries == 0 for c in clients)  # the engine owns retries
        contexts = {id(c._client._transport.ssl_context) for c in clients}  # the SDK's aiohttp transport
        assert contexts == {id(tls_context())}
        assert tls_context().verify_mode is ssl.CERT_REQUIRED and tls_context().check_hostname
    finally:
        for c in clients:
            await c.close()
