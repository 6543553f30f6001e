"""The HTTP client of hosted mode: every request, redirect and connection checked by the
outbound policy, and error bodies read only as far as a message needs.

    http_client = guarded_http_client(policy, tls_context())   # for openai.AsyncOpenAI(http_client=...)

Three checks, each at the last moment it can be made:
- the request (`GuardedTransport`): the scheme, and a host that is an address however spelled.
  httpx2 follows redirects by sending each hop through the transport, so every hop is checked.
- the name (`GuardedResolver`, aiohttp's resolver): DNS, then every address it gave. aiohttp then
  connects to exactly these addresses (its happy-eyeballs list is built from them), so a name
  that resolves elsewhere a moment later (DNS rebinding) is never connected to.
- the socket (`ConnectGuard.socket`): the address it is about to connect to must be public, allowed
  by the admin, or one the resolver just checked. A backstop: the two checks above come first.

Environment proxies (HTTPS_PROXY) are not used in hosted mode: through a proxy, the check would
see the proxy's address, not the provider's.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator

import aiohttp
import httpx2
import openai
from aiohttp.abc import AbstractResolver, ResolveResult
from openai._vendor.httpx_aiohttp import AiohttpTransport  # what DefaultAioHttpClient is built on (since before 3.50)

from . import constants as C
from .addresses import shown_address
from .outbound import OutboundPolicy
from .refusals import BlockedConnect, OutboundRefused

__all__ = ["guarded_http_client", "GuardedTransport", "GuardedResolver", "ConnectGuard"]

_NUMERIC = socket.AI_NUMERICHOST | socket.AI_NUMERICSERV


class ConnectGuard:
    """The checks of one client's connections. `approved` holds the (address, port) pairs the
    resolver checked for a name, so the socket backstop lets exactly those through."""

    def __init__(self, policy: OutboundPolicy) -> None:
        self.policy = policy
        self.approved: set[tuple[str, int]] = set()

    def socket(self, addr_info: tuple) -> socket.socket:  # aiohappyeyeballs' socket_factory
        family, type_, proto, _, sockaddr = addr_info
        host, port = str(sockaddr[0]), int(sockaddr[1])
        if (host, port) not in self.approved:
            address = ipaddress.ip_address(host.split("%")[0])
            reason = self.policy.address_refusal(address, port)
            if reason is not None:
                raise BlockedConnect(OutboundRefused(reason, host, shown_address(address)))
        return socket.socket(family=family, type=type_, proto=proto)


class GuardedResolver(AbstractResolver):
    """DNS for aiohttp, checked: the addresses returned are the only ones it connects to."""

    def __init__(self, guard: ConnectGuard) -> None:
        self.guard = guard

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        policy = self.guard.policy
        target = policy.check_target("http", host, port)  # the scheme was checked with the request
        if not isinstance(target, bool):  # an address spelled oddly (0x7f.1): checked, used as it is
            addresses = [str(target)]
        else:
            addresses = list(await asyncio.get_running_loop().run_in_executor(None, policy.resolve, host, port))
            if target is False:
                policy.check_resolved(host, port, addresses)
        results: list[ResolveResult] = []
        for text in addresses:
            af = socket.AF_INET6 if ":" in text else socket.AF_INET
            if family not in (socket.AF_UNSPEC, af):
                continue
            self.guard.approved.add((text, port))
            results.append(ResolveResult(hostname=host, host=text, port=port, family=af, proto=0, flags=_NUMERIC))
        if not results:
            raise OSError(f"No address of {host} in the address family asked for")
        return results

    async def close(self) -> None:
        pass


class _CappedStream(httpx2.AsyncByteStream):
    """At most `limit` bytes of a body; the rest is never read."""

    def __init__(self, inner: httpx2.AsyncByteStream, limit: int) -> None:
        self.inner, self.limit = inner, limit

    async def __aiter__(self) -> AsyncIterator[bytes]:
        left = self.limit
        async for chunk in self.inner:
            yield chunk[:left]
            left -= len(chunk)
            if left <= 0:
                break

    async def aclose(self) -> None:
        await self.inner.aclose()


class GuardedTransport(httpx2.AsyncBaseTransport):
    """Checks each request's target before it is sent, redirects included, and cuts the body of
    an error or redirect answer at ERROR_BODY_MAX_BYTES."""

    def __init__(self, inner: httpx2.AsyncBaseTransport, policy: OutboundPolicy) -> None:
        self.inner, self.policy = inner, policy

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        url = request.url
        try:
            self.policy.check_target(url.scheme, url.raw_host.decode("ascii", "replace"), url.port)
        except OutboundRefused as refused:
            refused.request = request
            raise
        response = await self.inner.handle_async_request(request)
        if response.status_code >= 300 and isinstance(response.stream, httpx2.AsyncByteStream):
            response.stream = _CappedStream(response.stream, C.ERROR_BODY_MAX_BYTES)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def guarded_http_client(policy: OutboundPolicy, verify: ssl.SSLContext) -> httpx2.AsyncClient:
    """The SDK's aiohttp client (its defaults: timeouts, limits, redirects followed) on a transport
    whose every request and connection the policy checks."""
    guard = ConnectGuard(policy)

    def session() -> aiohttp.ClientSession:  # made on the event loop, at the first request
        connector = aiohttp.TCPConnector(
            ssl=verify, resolver=GuardedResolver(guard), socket_factory=guard.socket,
            limit=C.HTTP_MAX_CONNECTIONS, keepalive_timeout=C.HTTP_KEEPALIVE_S,
        )  # fmt: skip
        return aiohttp.ClientSession(connector=connector)

    transport = GuardedTransport(AiohttpTransport(verify=verify, client=session), policy)
    return openai.DefaultAioHttpClient(transport=transport)
