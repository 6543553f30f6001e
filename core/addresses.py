"""Which IP addresses a hosted server must not call, and every way a host name can spell one.

    forbidden_reason(ipaddress.ip_address("169.254.169.254"))   # "metadata"
    forbidden_reason(ipaddress.ip_address("8.8.8.8"))           # None: public
    literal_address("0x7f.1")                                   # IPv4Address('127.0.0.1')
    literal_address("api.openai.com")                           # None: a name, DNS decides

An address is forbidden unless it is a public unicast address: loopback, private networks,
link-local, carrier-grade NAT, multicast, unspecified, reserved and documentation ranges, and
the clouds' metadata services are all refused. IPv6 addresses that carry an IPv4 address
(IPv4-mapped, IPv4-compatible, NAT64, 6to4) are judged by the IPv4 address inside. The tables
are explicit rather than `ipaddress.is_global`, whose answer differs between Python versions
(multicast and 6to4 are "global" on 3.11).
"""

from __future__ import annotations

import ipaddress
import re

__all__ = ["IPAddress", "REASONS", "forbidden_reason", "shown_address", "literal_address", "OddSpelling", "LOCAL_NAMES"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Every reason a base URL can be refused for, in the order the checks meet them; a page words each.
REASONS = (
    "scheme", "no_host", "spelling", "metadata", "unspecified", "loopback", "link_local", "shared", "private", "multicast", "reserved",
)  # fmt: skip


def _nets(*cidrs: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(c) for c in cidrs)


# First match wins: the metadata services sit inside link-local, CGNAT and ULA ranges, and are
# named for what they are (the one address an attacker on a cloud host is after).
_TABLE: tuple[tuple[str, tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]], ...] = (
    ("metadata", _nets(
        "169.254.169.254/32",  # AWS, GCP, Azure, OpenStack, DigitalOcean ...
        "169.254.170.2/32",  # AWS ECS task credentials
        "169.254.169.253/32",  # AWS VPC DNS
        "100.100.100.200/32",  # Alibaba Cloud
        "192.0.0.192/32",  # Oracle Cloud
        "fd00:ec2::254/128",  # AWS over IPv6
        "fd00:ec2::23/128",
    )),
    ("unspecified", _nets("0.0.0.0/8", "::/128")),  # 0.0.0.0 reaches this host on Linux
    ("loopback", _nets("127.0.0.0/8", "::1/128")),
    ("link_local", _nets("169.254.0.0/16", "fe80::/10")),
    ("shared", _nets("100.64.0.0/10")),  # carrier-grade NAT (RFC 6598): other customers of the ISP or cloud
    ("private", _nets("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7", "fec0::/10", "64:ff9b:1::/48")),
    ("multicast", _nets("224.0.0.0/4", "ff00::/8")),
    ("reserved", _nets(
        "192.0.0.0/24", "192.0.2.0/24", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4",
        "100::/64", "2001::/23", "2001:db8::/32", "::ffff:0:0:0/96", "::/96", "3fff::/20", "5f00::/16",
    )),
)  # fmt: skip

_MAPPED = ipaddress.ip_network("::ffff:0:0/96")
_COMPAT = ipaddress.ip_network("::/96")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address reaches, for the forms that carry one."""
    if address in _MAPPED:
        return address.ipv4_mapped
    if address in _COMPAT and int(address) > 1:  # ::a.b.c.d, deprecated but still routed by some stacks
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour  # 2002:AABB:CCDD::/48 -> A.B.C.D, else None


def forbidden_reason(address: IPAddress) -> str | None:
    """Why a hosted server must not connect to `address` (one of REASONS), or None if it is public."""
    if isinstance(address, ipaddress.IPv6Address):
        address = ipaddress.IPv6Address(address.packed)  # drop a %scope: it does not change the range
        inner = _embedded_ipv4(address)
        if inner is not None:
            said = forbidden_reason(inner)
            if said is not None:
                return said
            if address in _COMPAT:
                return "reserved"
    for reason, networks in _TABLE:
        if any(address in net for net in networks):
            return reason
    if not address.is_global:  # whatever a newer registry adds that the table above does not name
        return "reserved"
    return None


def shown_address(address: IPAddress) -> str:
    """An address as a message names it: an IPv6 form of an IPv4 address with that address."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ipaddress.IPv6Address(address.packed))
        if inner is not None:
            return f"{address} ({inner})"
    return str(address)


# --- Spellings of an address in a host ---------------------------------------------------------


class OddSpelling(ValueError):
    """A host that looks like an IP address but is not one any parser agrees on ("1.2.3.4.5",
    "0x1g.1", "%31%32%37.0.0.1"): refused rather than guessed at."""


# localhost and *.localhost are loopback whatever DNS says (RFC 6761).
LOCAL_NAMES = re.compile(r"(?:.+\.)?localhost")
_HEX_OR_DIGITS = re.compile(r"(?:0[xX][0-9A-Fa-f]*|[0-9]+)")
_HOST_NAME = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_\-]*[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_\-]*[A-Za-z0-9_])?)*")


def _ipv4_part(part: str) -> int:
    """One part of a legacy IPv4 spelling, as inet_aton and the WHATWG URL standard read it:
    0x.. hexadecimal, 0.. octal, else decimal."""
    if part[:2].lower() == "0x":
        digits, base = part[2:], 16
    elif len(part) > 1 and part.startswith("0"):
        digits, base = part[1:], 8
    else:
        digits, base = part, 10
    if digits == "":
        return 0  # "0x" alone is 0 to both readers
    try:
        return int(digits, base)
    except ValueError:
        raise OddSpelling(part) from None


def _legacy_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """127.0.0.1 written any way a resolver accepts: 2130706433, 0x7f000001, 0177.0.0.1, 127.1,
    0x7f.1. None when the host does not end in a number (a name: DNS decides)."""
    parts = host.split(".")
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()  # "127.0.0.1." is the same address
    if not _HEX_OR_DIGITS.fullmatch(parts[-1]):
        return None
    if len(parts) > 4 or any(p == "" for p in parts):
        raise OddSpelling(host)
    numbers = [_ipv4_part(p) for p in parts]
    if any(n > 255 for n in numbers[:-1]) or numbers[-1] >= 256 ** (5 - len(numbers)):
        raise OddSpelling(host)
    value = numbers[-1]
    for i, n in enumerate(numbers[:-1]):
        value += n << (8 * (3 - i))
    return ipaddress.IPv4Address(value)


def literal_address(host: str) -> IPAddress | None:
    """The address a URL's host names without DNS, or None for a host name. Raises OddSpelling
    for a host that is neither a clean name nor an address."""
    host = host.strip("[]").rstrip(".") if ":" in host else host.rstrip(".")
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host.replace("%25", "%"))
        except ValueError:
            raise OddSpelling(host) from None
    address = _legacy_ipv4(host)
    if address is not None:
        return address
    if not _HOST_NAME.fullmatch(host):
        raise OddSpelling(host)  # percent-encoding, spaces, other characters DNS would not see
    return None
