"""A request the outbound policy (core/outbound.py) refused, as an exception and as a sentence.

    refused = refusal_in(exc)      # the policy's refusal behind whatever a request raised, or None
    str(refused)                   # "This server does not call 10.0.0.5: 10.0.0.5 is a private network address. ..."

Its own module so that errors.py can recognise a refusal without importing the policy.
"""

from __future__ import annotations

import httpx2

from .addresses import REASONS

__all__ = ["REFUSAL_SENTENCES", "refusal_sentence", "OutboundRefused", "BlockedConnect", "refusal_in"]

_ADMIN = " An admin can allow it in the outbound allow list ([hosting] allow)."
# One sentence per reason; core/messages.py reads them back, a page says them in its language.
REFUSAL_SENTENCES: dict[str, str] = {
    "scheme": "This server only calls http:// and https:// addresses, not {host}.",
    "no_host": "The base URL has no host: check it.",
    "spelling": "This server does not call {host}: the address is written in an unusual way; write it as a plain host name or IP address.",
    "metadata": "This server does not call {host}: {address} is the cloud's metadata service." + _ADMIN,
    "unspecified": "This server does not call {host}: {address} is an unspecified address (this server itself)." + _ADMIN,
    "loopback": "This server does not call {host}: {address} is a loopback address (this server itself)." + _ADMIN,
    "link_local": "This server does not call {host}: {address} is a link-local address." + _ADMIN,
    "shared": "This server does not call {host}: {address} is a carrier-grade NAT address, not a public one." + _ADMIN,
    "private": "This server does not call {host}: {address} is a private network address." + _ADMIN,
    "multicast": "This server does not call {host}: {address} is a multicast address." + _ADMIN,
    "reserved": "This server does not call {host}: {address} is a reserved address, not a public one." + _ADMIN,
}
assert set(REFUSAL_SENTENCES) == set(REASONS)


def refusal_sentence(reason: str, host: str, address: str = "") -> str:
    return REFUSAL_SENTENCES[reason].format(host=host or "?", address=address or host)


class OutboundRefused(httpx2.RequestError):
    """A request the outbound policy refused, before anything was sent. An httpx2 RequestError,
    so the SDK wraps it as it wraps a failed connection (APIConnectionError) and the engine's
    error handling sees it in the exception chain (`refusal_in`)."""

    def __init__(self, reason: str, host: str, address: str = "") -> None:
        super().__init__(refusal_sentence(reason, host, address))
        self.reason, self.host, self.address = reason, host, address


class BlockedConnect(PermissionError):
    """The last line: a socket about to connect to an address the policy refuses. Never expected
    (the resolver and the request check come first); an OSError, as a socket failure must be for
    the connection machinery to handle it."""

    def __init__(self, refused: OutboundRefused) -> None:
        super().__init__(str(refused))
        self.refused = refused


def refusal_in(exc: BaseException) -> OutboundRefused | None:
    """The policy's refusal behind an exception, if that is what it was."""
    seen: set[int] = set()
    node: BaseException | None = exc
    while node is not None and id(node) not in seen:
        seen.add(id(node))
        if isinstance(node, OutboundRefused):
            return node
        if isinstance(node, BlockedConnect):
            return node.refused
        node = node.__cause__ or node.__context__
    return None
