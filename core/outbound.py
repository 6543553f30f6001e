"""Where a hosted server may send requests: the outbound policy, read from the server's settings.

    policy = policy_from_settings({"check_urls": True, "allow": ["localhost:11434"]}, os.environ)
    configure_outbound(policy)               # the app, from [hosting] in secrets.toml; once per script run
    outbound_policy().check_url(base_url)    # raises OutboundRefused, before any connection
    check_base_urls([k.base_url for k in keys])   # the same as an InputError, for a page or the CLI

Off by default (a local app calls whatever the user types, their own Ollama included). On with
`[hosting] check_urls = true` or LLM_BATCH_HOSTED=1: then only http(s) URLs whose host is public
are called, the host checked as spelled, after DNS (every address it resolves to), on every
redirect and again at connect time (core/outbound_http.py connects to the address it checked, so
a name that resolves to a public address for the check and to 127.0.0.1 for the connection gets
nowhere). The admin's allow list lets chosen hosts, host:port pairs and networks through.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import httpx2

from . import constants as C
from .addresses import LOCAL_NAMES, IPAddress, OddSpelling, forbidden_reason, literal_address, shown_address
from .errors import InputError
from .refusals import OutboundRefused

__all__ = ["OutboundPolicy", "AllowEntry", "policy_from_settings", "configure_outbound", "outbound_policy", "check_base_urls", "system_resolve"]

Resolve = Callable[[str, int], Sequence[str]]

# --- The admin's allow list ---------------------------------------------------------------------


@dataclass(frozen=True)
class AllowEntry:
    """One entry of the allow list: a host (a name, `*.suffix`, or an IP address), optionally
    with a port, or a network in CIDR notation (any port)."""

    text: str
    host: str | None = None
    port: int | None = None
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None

    def allows_host(self, host: str, port: int) -> bool:
        if self.host is None or (self.port is not None and self.port != port):
            return False
        host = _norm(host)
        if self.host.startswith("*."):
            return host.endswith(self.host[1:])
        return host == self.host

    def allows_address(self, address: IPAddress, port: int) -> bool:
        if self.network is not None:
            return address.version == self.network.version and address in self.network
        return self.host is not None and (self.port is None or self.port == port) and self.host == str(address)


def _norm(host: str) -> str:
    """A host as the allow list compares it: lower case, no brackets, no trailing dot, and an IP
    address in its one canonical spelling."""
    host = host.strip().strip("[]").rstrip(".").lower()
    try:
        address = literal_address(host)
    except OddSpelling:
        return host
    return str(address) if address is not None else host


def _entry(text: str) -> AllowEntry:
    raw = text.strip()
    bad = InputError(
        f"The outbound allow list entry {raw!r} is not a host, host:port or network (CIDR): check [hosting] allow.", "outbound_allow_entry", entry=raw
    )
    spec = raw
    if "://" in spec:  # a whole base URL pasted in: its host and port
        parts = urllib.parse.urlsplit(spec)
        spec = parts.netloc.rsplit("@", 1)[-1]
    if "/" in spec:
        try:
            return AllowEntry(raw, network=ipaddress.ip_network(spec.strip("[]").replace("]/", "/"), strict=False))
        except ValueError:
            raise bad from None
    host, port = spec, None
    if spec.startswith("["):
        host, _, rest = spec[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                raise bad
            port = rest[1:]
    elif spec.count(":") == 1:
        host, port = spec.split(":")
    if port is not None and not (port.isdigit() and 0 < int(port) < 65536):
        raise bad
    host = host.strip()
    if not host or (host.startswith("*.") and not host[2:]) or ("*" in host and not host.startswith("*.")):
        raise bad
    try:
        literal_address(host[2:] if host.startswith("*.") else host)
    except OddSpelling:
        raise bad from None
    return AllowEntry(raw, host=_norm(host) if not host.startswith("*.") else host.lower().rstrip("."), port=int(port) if port else None)


def _entries(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [p for p in value.replace(",", " ").split() if p]
    if isinstance(value, Iterable):
        return [str(v).strip() for v in value if str(v).strip()]
    return [str(value)]


# --- The policy -----------------------------------------------------------------------------------


def system_resolve(host: str, port: int) -> list[str]:
    """Every address DNS gives for `host`, in its order, each once."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


def _shown(host: str, port: int | None) -> str:
    """The host as a message names it: with its port unless that is the usual one, so that a
    redirect to another port of an allowed host says which."""
    name = f"[{host}]" if ":" in host else host
    return name if port in (None, 80, 443) else f"{name}:{port}"


@dataclass(frozen=True)
class OutboundPolicy:
    """Whether base URLs are checked, and what the admin allows. `resolve` is DNS (a test gives
    a stub; nothing else should)."""

    check_urls: bool = False
    allow: tuple[AllowEntry, ...] = ()
    resolve: Resolve = field(default=system_resolve, compare=False, repr=False)

    def host_allowed(self, host: str, port: int) -> bool:
        """The admin named this host (and port): whatever it resolves to is theirs to vouch for."""
        return any(e.allows_host(host, port) for e in self.allow)

    def address_refusal(self, address: IPAddress, port: int) -> str | None:
        """Why `address` must not be called on `port` (a reason), or None."""
        reason = forbidden_reason(address)
        if reason is None or any(e.allows_address(address, port) for e in self.allow):
            return None
        return reason

    def check_target(self, scheme: str, host: str, port: int | None) -> IPAddress | bool:
        """What can be said of a request's target without DNS. Raises OutboundRefused; returns the
        address when the host is one (checked), True when the admin allowed the host, False when
        DNS must decide."""
        scheme = (scheme or "").lower()
        if scheme not in ("http", "https"):
            raise OutboundRefused("scheme", f"{scheme}://{host}" if scheme else host or "?")
        if not host:
            raise OutboundRefused("no_host", "")
        shown = _shown(host, port)
        port = port or _default_port(scheme)
        if self.host_allowed(host, port):
            return True
        try:
            address = literal_address(host)
        except OddSpelling:
            raise OutboundRefused("spelling", shown) from None
        if address is None:
            if LOCAL_NAMES.fullmatch(host.rstrip(".").lower()):
                raise OutboundRefused("loopback", shown, "localhost")
            return False
        reason = self.address_refusal(address, port)
        if reason is not None:
            raise OutboundRefused(reason, shown, shown_address(address))
        return address

    def check_resolved(self, host: str, port: int, addresses: Iterable[str]) -> None:
        """Every address a name resolved to must be callable: one internal address among public
        ones is enough to refuse (the connection may take any of them)."""
        for text in addresses:
            address = ipaddress.ip_address(text.split("%")[0])
            reason = self.address_refusal(address, port)
            if reason is not None:
                raise OutboundRefused(reason, _shown(host, port), shown_address(address))

    def check_url(self, url: str) -> None:
        """The whole check of a base URL, DNS included, as a page or the CLI does it before a run.
        A name DNS cannot resolve passes: the connection will fail on it anyway, with that reason,
        and the connect-time check stands behind this one."""
        if not self.check_urls:
            return
        try:
            parsed = httpx2.URL(url)
        except (httpx2.InvalidURL, TypeError, ValueError):
            try:
                host = urllib.parse.urlsplit(str(url)).hostname or str(url)
            except ValueError:
                host = str(url)
            raise OutboundRefused("spelling", host[:100]) from None
        host = parsed.raw_host.decode("ascii", "replace")
        port = parsed.port or _default_port(parsed.scheme)
        target = self.check_target(parsed.scheme, host, parsed.port)
        if target is not False:
            return
        try:
            addresses = self.resolve(host, port)
        except (OSError, UnicodeError):
            return
        self.check_resolved(host, port, addresses)


_TRUE = ("1", "true", "yes", "on")


def policy_from_settings(hosting: Mapping[str, object] | None, environ: Mapping[str, str] = os.environ) -> OutboundPolicy:
    """The policy from `[hosting]` in secrets.toml (check_urls, allow) and the environment
    (LLM_BATCH_HOSTED=1, LLM_BATCH_ALLOW_HOSTS="localhost:11434, 10.0.0.0/8"): either turns the
    check on, and the allow lists add up. InputError for an entry that is none of host, host:port,
    network."""
    hosting = hosting or {}
    flag = hosting.get("check_urls", False)
    on = flag is True or str(flag).strip().lower() in _TRUE or environ.get(C.HOSTED_ENV, "").strip().lower() in _TRUE
    texts = _entries(hosting.get("allow")) + _entries(environ.get(C.ALLOW_HOSTS_ENV))
    return OutboundPolicy(check_urls=on, allow=tuple(_entry(t) for t in dict.fromkeys(texts)))


_configured: OutboundPolicy | None = None


def configure_outbound(policy: OutboundPolicy | None) -> None:
    """Set the process's policy (None: back to the environment's). The app calls this with its
    secrets on every script run; the command line needs nothing (the environment is read)."""
    global _configured
    _configured = policy


def outbound_policy() -> OutboundPolicy:
    """The process's policy: what the app configured, else what the environment says."""
    return _configured if _configured is not None else policy_from_settings(None, os.environ)


# The Run page checks its settings on every redraw: the same base URL is looked up in DNS once in
# a while, not on every click. The connections are checked afresh whatever this says.
_recent: dict[tuple[OutboundPolicy, Resolve, str], tuple[float, OutboundRefused | None]] = {}


def check_base_urls(urls: Iterable[str], policy: OutboundPolicy | None = None) -> None:
    """InputError, in plain words, for the first base URL the policy refuses."""
    policy = policy or outbound_policy()
    if not policy.check_urls:
        return
    now = time.monotonic()
    for url in dict.fromkeys(urls):
        seen = _recent.get((policy, policy.resolve, url))
        if seen is not None and now - seen[0] < C.OUTBOUND_CHECK_TTL_S:
            refused = seen[1]
        else:
            try:
                policy.check_url(url)
                refused = None
            except OutboundRefused as exc:
                refused = exc
            if len(_recent) > 1000:
                _recent.clear()
            _recent[(policy, policy.resolve, url)] = (now, refused)
        if refused is not None:
            raise InputError(str(refused), f"outbound_{refused.reason}", host=refused.host, address=refused.address or refused.host)
