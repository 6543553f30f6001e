"""The Run page's batch-mode texts, in English and Simplified Chinese (merged into i18n.STRINGS)."""

from __future__ import annotations

BATCH_STRINGS: dict[str, tuple[str, str]] = {
    "run.mode": ("How to send", "发送方式"),
    "run.mode.now": ("Now", "立即"),
    "run.mode.batch": ("Batch (cheaper, slower)", "批量（更便宜，更慢）"),
    "run.mode_help": (
        "Batch sends every row through the provider's Batch API: half the price, done within {window}. It goes on at the provider if you close this page.",
        "批量模式通过服务商的 Batch API 发送所有行：价格减半，在 {window} 内完成。关闭本页后服务商仍会继续处理。",
    ),
    "run.mode_custom": (
        "This provider may not offer a Batch API: if it does not, the run stops with its answer.",
        "该服务商可能不提供 Batch API：如不支持，任务会停止并显示其回复。",
    ),
    "run.batch_costs": ("Cost now: {now} · as a batch: {batch}, done within {window}", "立即发送费用：{now} · 批量费用：{batch}，{window} 内完成"),
    "run.window.24h": ("24 hours", "24 小时"),
    "batch.title": ("Batch at the provider", "服务商处的批量任务"),
    "batch.line": (
        "File {part}: {state} · {done:,} of {total:,} done, {failed:,} failed · batch `{batch}`",
        "文件 {part}：{state} · 已完成 {done:,}/{total:,}，失败 {failed:,} · 批次 `{batch}`",
    ),
    "batch.line_intent": ("File {part}: being uploaded ({total:,} rows)", "文件 {part}：正在上传（{total:,} 行）"),
    "batch.polled": (
        "Last asked the provider: {at} (UTC). Polling slows from seconds to minutes; the results come when the batch is done.",
        "上次查询服务商：{at}（UTC）。查询间隔从几秒逐渐延长到几分钟；批次完成后才有结果。",
    ),
    "batch.polled_idle": (
        "Last asked the provider: {at} (UTC). Nobody is following this batch now: Resume asks the provider again, and never sends the batch twice.",
        "上次查询服务商：{at}（UTC）。目前没有在跟踪该批次：点击“继续”会再次查询服务商，批次不会重复提交。",
    ),
    "batch.state.intent": ("not created yet", "尚未创建"),
    "batch.state.validating": ("validating", "校验中"),
    "batch.state.in_progress": ("in progress", "处理中"),
    "batch.state.finalizing": ("finalizing", "收尾中"),
    "batch.state.completed": ("completed", "已完成"),
    "batch.state.cancelling": ("cancelling", "取消中"),
    "batch.state.cancelled": ("cancelled", "已取消"),
    "batch.state.expired": ("expired", "已过期"),
    "batch.state.failed": ("refused by the provider", "被服务商拒绝"),
    "error.batch_open": (
        "A batch of this run is still at the provider: wait for it to finish, or cancel it, then retry now.",
        "该任务仍有批次在服务商处：请等待其完成或取消后，再立即重试。",
    ),
    "msg.batch_key_missing": (
        "Waiting for the key {keys}: only the key that sent file {files} of this batch can follow it. Enter it again (keys are never saved).",
        "正在等待密钥 {keys}：本批次的文件 {files} 是用它发送的，只有它能继续跟踪。请重新输入该密钥（密钥从不保存）。",
    ),
    "msg.batch_cancelled_waiting": ("Cancelled: finished rows are kept. {inner}", "已取消：已完成的行会保留。{inner}"),
    "batch.resume": ("Follow the batch again", "继续跟踪批次"),
    "batch.retry_now": ("Retry failed rows now", "立即重试失败的行"),
    "batch.retry_batch": ("Retry failed rows as a new batch", "以新批次重试失败的行"),
}
