"""Texts for several processes on one data folder: a run another process runs, limits shared
through Redis. English and Simplified Chinese, merged into i18n.STRINGS."""

from __future__ import annotations

REPLICAS_STRINGS: dict[str, tuple[str, str]] = {
    "replicas.where": ("process {pid} on {host}", "{host} 上的进程 {pid}"),
    "replicas.where_here": ("process {pid} on this machine", "本机的进程 {pid}"),
    "replicas.elsewhere": (
        "Running in another process ({where}): the progress here is read from the store. "
        "Pause or cancel it there; once that process stops, it can be resumed here.",
        "正在另一个进程中运行（{where}）：此处的进度读取自存储。请在那里暂停或取消；该进程停止后，可在此继续。",
    ),
    "replicas.compare_elsewhere": (
        "This comparison is running in another process ({where}): the progress here is read from the store. Once that process stops, it can be resumed here.",
        "该对比正在另一个进程中运行（{where}）：此处的进度读取自存储。该进程停止后，可在此继续。",
    ),
    "error.run_elsewhere": (
        "This run is running in another process (process {pid} on {host}): cancel it there first.",
        "该任务正在另一个进程中运行（{host} 上的进程 {pid}），请先在那里取消。",
    ),
    "replicas.redis_down": (
        "Shared limits are off: Redis cannot be reached, so this process paces its keys alone until it is back, "
        "and all processes together may go over a key's limit (429s slow them down).",
        "共享限额已关闭：无法连接 Redis，在恢复之前本进程单独控制密钥速率，所有进程合计可能超过密钥限额（429 会让它们放慢）。",
    ),
    "pace.shared": ("shared with every process through Redis", "通过 Redis 与所有进程共享"),
    "pace.shared_down": ("Redis unreachable: paced by this process alone", "无法连接 Redis：仅由本进程控制速率"),
    "error.running_elsewhere": (
        "This run is running in another process (process {pid} on {host}); its progress shows here. "
        "It can be resumed here once that process stops, or when it has not been heard from for {seconds} s.",
        "该任务正在另一个进程中运行（{host} 上的进程 {pid}），进度显示在此。该进程停止后，或超过 {seconds} 秒没有消息时，可在此继续。",
    ),
}
