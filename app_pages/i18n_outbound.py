"""Hosted mode's outbound check in English and Simplified Chinese (merged into i18n.STRINGS): why a
base URL is not called, as an error of the Run page (error.outbound_<reason>), a row's or a key's
message (msg.outbound_<reason>), and a key check's verdict (keys.*.blocked_<reason>)."""

from __future__ import annotations

_ADMIN = (
    " An admin can allow it in the outbound allow list ([hosting] allow).",
    "管理员可以把它加入出站允许列表（[hosting] allow）。",
)

# Why, per reason of core.addresses.REASONS: the sentence core says in English, and its Chinese.
_WHY: dict[str, tuple[str, str]] = {
    "scheme": ("This server only calls http:// and https:// addresses, not {host}.", "本服务器只调用 http:// 和 https:// 地址，不调用 {host}。"),
    "no_host": ("The base URL has no host: check it.", "接口地址中没有主机名，请检查。"),
    "spelling": (
        "This server does not call {host}: the address is written in an unusual way; write it as a plain host name or IP address.",
        "本服务器不调用 {host}：这个地址的写法不常见，请写成普通的主机名或 IP 地址。",
    ),
    "metadata": ("This server does not call {host}: {address} is the cloud's metadata service.", "本服务器不调用 {host}：{address} 是云平台的元数据服务。"),
    "unspecified": (
        "This server does not call {host}: {address} is an unspecified address (this server itself).",
        "本服务器不调用 {host}：{address} 是未指定地址（即本服务器自身）。",
    ),
    "loopback": (
        "This server does not call {host}: {address} is a loopback address (this server itself).",
        "本服务器不调用 {host}：{address} 是回环地址（即本服务器自身）。",
    ),
    "link_local": ("This server does not call {host}: {address} is a link-local address.", "本服务器不调用 {host}：{address} 是链路本地地址。"),
    "shared": (
        "This server does not call {host}: {address} is a carrier-grade NAT address, not a public one.",
        "本服务器不调用 {host}：{address} 是运营商级 NAT 地址，不是公网地址。",
    ),
    "private": ("This server does not call {host}: {address} is a private network address.", "本服务器不调用 {host}：{address} 是内网（私有网络）地址。"),
    "multicast": ("This server does not call {host}: {address} is a multicast address.", "本服务器不调用 {host}：{address} 是组播地址。"),
    "reserved": (
        "This server does not call {host}: {address} is a reserved address, not a public one.",
        "本服务器不调用 {host}：{address} 是保留地址，不是公网地址。",
    ),
}
_NO_ADMIN = ("scheme", "no_host", "spelling")  # nothing an admin could allow: the URL itself is wrong


def _sentence(reason: str) -> tuple[str, str]:
    en, zh = _WHY[reason]
    return (en, zh) if reason in _NO_ADMIN else (en + _ADMIN[0], zh + _ADMIN[1])


_TODO = {
    "scheme": ("Write the base URL with http:// or https://.", "请以 http:// 或 https:// 开头填写接口地址。"),
    "no_host": ("Check the base URL.", "请检查接口地址。"),
    "spelling": ("Write the host as a plain name (api.example.com) or IP address.", "请把主机写成普通的域名（如 api.example.com）或 IP 地址。"),
}
_TODO_ADMIN = (
    "Use the provider's public address. For a server of your own on this network (Ollama, vLLM…), ask the admin of this app to add it to [hosting] allow in .streamlit/secrets.toml.",
    "请使用服务商的公网地址。如果是这个网络里你们自己的服务（Ollama、vLLM 等），请让本应用的管理员把它加入 .streamlit/secrets.toml 的 [hosting] allow。",
)

OUTBOUND_STRINGS: dict[str, tuple[str, str]] = {
    **{f"error.outbound_{r}": _sentence(r) for r in _WHY},
    **{f"msg.outbound_{r}": _sentence(r) for r in _WHY},
    **{f"keys.short.blocked_{r}": ("✗ not allowed here", "✗ 本服务器不允许") for r in _WHY},
    **{f"keys.why.blocked_{r}": _WHY[r] for r in _WHY},
    **{f"keys.todo.blocked_{r}": _TODO.get(r, _TODO_ADMIN) for r in _WHY},
    "error.outbound_allow_entry": (
        "The outbound allow list entry {entry} is not a host, host:port or network (CIDR): check [hosting] allow.",
        "出站允许列表中的条目 {entry} 不是主机、主机:端口或网段（CIDR）：请检查 [hosting] allow。",
    ),
}
