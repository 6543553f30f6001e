"""Every label and message of the app in English and Simplified Chinese. `t(key, **values)`
looks a text up in the language chosen in the sidebar (the `lang` widget, kept in the URL)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

if TYPE_CHECKING:
    from core import GateView
from app_pages.i18n_core import CORE_STRINGS

LANGUAGES = {"en": "English", "zh": "简体中文"}

STRINGS: dict[str, tuple[str, str]] = {
    # navigation and sidebar
    "nav.data": ("Data", "数据"),
    "nav.prompt": ("Prompt", "提示词"),
    "nav.keys": ("Keys & limits", "密钥与限速"),
    "nav.run": ("Run", "运行"),
    "nav.history": ("History", "历史"),
    "sidebar.language": ("Language", "语言"),
    "sidebar.current_run": ("Current run", "当前任务"),
    "sidebar.open_run": ("Open the run", "查看任务"),
    "common.simulated_badge": ("Simulated provider", "模拟模型"),
    "common.simulated_note": (
        "No API key is set, so this runs on the built-in simulated provider: answers are computed locally, not by a real model.",
        "尚未设置 API 密钥，将使用内置的模拟模型：答案在本地生成，并非真实大模型的回答。",
    ),
    # run states
    "state.starting": ("starting", "启动中"),
    "state.running": ("running", "运行中"),
    "state.paused": ("paused", "已暂停"),
    "state.waiting_for_keys": ("waiting for keys", "等待可用密钥"),
    "state.finishing": ("finishing the requests already sent", "正在完成已发出的请求"),
    "state.done": ("done", "已完成"),
    "state.cancelled": ("cancelled", "已取消"),
    "state.failed": ("stopped on an error", "因错误停止"),
    "state.interrupted": ("interrupted", "已中断"),
    "state.done_with_failures": ("done, {n:,} failed", "已完成，{n:,} 行失败"),
    # password gate
    "auth.prompt": (
        "This server has API keys preset for the team. Enter the password to use it.",
        "此服务器预设了团队的 API 密钥。请输入密码后使用。",
    ),
    "auth.password": ("Password", "密码"),
    "auth.enter": ("Enter", "进入"),
    "auth.wrong": ("That password is not right.", "密码不正确。"),
    "keys.preset_needs_password": (
        "Keys are preset on this server but no password is set, so they are not used. Set [auth] password in .streamlit/secrets.toml (or LLM_BATCH_PASSWORD).",
        "服务器预设了密钥但未设置密码，因此不会使用这些密钥。请在 .streamlit/secrets.toml 中设置 [auth] password（或环境变量 LLM_BATCH_PASSWORD）。",
    ),
    # errors from core, by code (core's English sentence is used for the rest)
    "error.empty": ("The file is empty; choose a file with a header row and at least one row of data.", "文件是空的：请选择一个包含表头和至少一行数据的文件。"),
    "error.header_only": ("The table has column names but no rows of data; add at least one row under the header.", "表格只有列名，没有数据：请在表头下至少添加一行数据。"),
    "error.not_text": ("This file does not look like a table; upload a CSV or .xlsx file.", "这个文件看起来不是表格：请上传 CSV 或 .xlsx 文件。"),
    "error.bad_xlsx": (
        "This Excel file could not be opened; open it in your spreadsheet program and save it as .xlsx or CSV.",
        "无法打开这个 Excel 文件：请用表格软件打开，另存为 .xlsx 或 CSV 后再上传。",
    ),
    "error.old_xls": (
        "This is an old .xls file or a password-protected workbook; open it in Excel and save it as .xlsx or CSV.",
        "这是旧版 .xls 文件或受密码保护的工作簿：请用 Excel 打开，另存为 .xlsx 或 CSV。",
    ),
    "error.web_page": ("This file is a web page or XML document, not a table; save it as .xlsx or CSV.", "这是网页或 XML 文件，不是表格：请另存为 .xlsx 或 CSV。"),
    "error.bad_encoding": ("The file does not read as text in {encoding}; choose another encoding or let it be detected.", "无法按 {encoding} 编码读取此文件：请换一种编码，或选择自动识别。"),
    "error.cell_too_long": (
        "The cell in row {row}, column '{column}' has {chars:,} characters, more than the limit of {limit:,}; shorten it and upload again.",
        "第 {row} 行“{column}”列的单元格有 {chars:,} 个字符，超过上限 {limit:,}：请缩短后重新上传。",
    ),
    "error.too_many_rows": ("The table has {rows:,} rows, more than the limit of {limit:,}; split it into smaller files.", "表格有 {rows:,} 行，超过上限 {limit:,} 行：请拆分成较小的文件。"),
    "error.no_keys": ("Add at least one API key, or use the simulated provider for a demo.", "请至少添加一个 API 密钥，或使用模拟模型进行演示。"),
    "error.other_model": (
        "This run was made with {was}; these keys are for {now}. Use keys for the same model, or choose to continue with the other model.",
        "此任务使用的是 {was}；这些密钥对应 {now}。请使用同一模型的密钥，或明确选择改用另一个模型继续。",
    ),
    "error.needs_key": (
        "{provider} needs an API key: paste one on the Keys & limits page, or use the simulated provider for a demo.",
        "{provider} 需要 API 密钥：请在“密钥与限速”页粘贴密钥，或改用模拟模型进行演示。",
    ),
    "error.keys_again": ("Enter the API keys again to resume this run: keys are never saved.", "请重新输入 API 密钥以继续此任务：密钥从不保存。"),
    # data page
    "data.title": ("Data", "数据"),
    "data.intro": (
        "Upload the table to process: each row becomes one request to the model.",
        "上传要处理的表格：每一行会向模型发送一次请求。",
    ),
    "data.upload": ("CSV or Excel file", "CSV 或 Excel 文件"),
    "data.upload_help": (
        "CSV, TSV or XLSX, up to {mb} MB and {rows:,} rows. Encodings from Excel (UTF-8, GBK, UTF-16) are detected.",
        "支持 CSV、TSV、XLSX，最大 {mb} MB、{rows:,} 行。Excel 导出的编码（UTF-8、GBK、UTF-16）会自动识别。",
    ),
    "data.use_demo": ("Use the demo dataset", "使用示例数据"),
    "data.reading_options": ("Reading options", "读取选项"),
    "data.encoding": ("Encoding", "编码"),
    "data.separator": ("Separator", "分隔符"),
    "data.sheet": ("Sheet", "工作表"),
    "data.format": ("Format", "格式"),
    "data.auto": ("detect", "自动识别"),
    "data.still_using": ("The table below is still {name}: {upload} was not loaded.", "下方仍是 {name} 的表格：{upload} 没有载入。"),
    "data.sep.comma": ("Comma", "逗号"),
    "data.sep.semicolon": ("Semicolon", "分号"),
    "data.sep.tab": ("Tab", "制表符"),
    "data.sep.pipe": ("Pipe", "竖线"),
    "data.rows": ("Rows", "行数"),
    "data.columns": ("Columns", "列数"),
    "data.empty": ("Upload a file, or use the demo dataset to try the app.", "请上传文件，或使用示例数据体验。"),
    "data.demo_label": ("demo: arithmetic questions with their answers", "示例：四则运算题及其答案"),
    "data.preview_note": ("Showing the first {n} of {total:,} rows.", "仅显示前 {n} 行，共 {total:,} 行。"),
    "data.template_csv": ("Download a CSV template", "下载 CSV 模板"),
    "data.template_csv_help": (
        "An empty CSV with the columns your prompt uses, to fill in and upload.",
        "包含提示词所用列的空白 CSV，填写后即可上传。",
    ),
    # prompt page
    "prompt.title": ("Prompt", "提示词"),
    "prompt.intro": (
        "Write what the model should do with each row. {column} is replaced by that row's value.",
        "写下模型对每一行要做什么。{列名} 会被替换为该行对应的值。",
    ),
    "prompt.columns": ("Columns: click to insert", "列名：点击插入"),
    "prompt.columns_help": ("Adds {column} at the end of the prompt.", "在提示词末尾插入 {列名}。"),
    "prompt.template": ("Prompt template", "提示词模板"),
    "prompt.template_help": ("Type {{ and }} for literal braces.", "如需输入花括号本身，请写 {{ 和 }}。"),
    "prompt.system": ("System prompt (optional)", "系统提示词（可选）"),
    "prompt.system_placeholder": ("e.g. You are a careful assistant.", "例如：你是一名严谨的助手。"),
    "prompt.output": ("Output", "输出"),
    "prompt.output_mode": ("Answer format", "回答格式"),
    "prompt.json_fields": ("Fields (comma-separated)", "字段（用逗号分隔）"),
    "prompt.json_fields_help": (
        "Each field becomes a column. JSON is also found inside prose or a code block.",
        "每个字段会成为一列。回答中夹在文字或代码块里的 JSON 也能识别。",
    ),
    "prompt.json_format": ("Ask the provider for JSON", "要求模型返回 JSON"),
    "prompt.json_format_help": ("Sends response_format = json_object with every request. Not every provider supports it.", "每个请求都带上 response_format = json_object。并非所有服务商都支持此选项。"),
    "prompt.mode.text": ("Text", "文本"),
    "prompt.mode.json": ("JSON", "JSON"),
    "prompt.label_column": ("Expected answer column (for accuracy)", "标准答案列（用于计算准确率）"),
    "prompt.label_help": (
        "Compared with the answer (or the last JSON field): trimmed text, numbers as numbers.",
        "与回答（或最后一个 JSON 字段）比较：去掉首尾空格，数字按数值比较。",
    ),
    "prompt.parameters": ("Model parameters", "模型参数"),
    "prompt.temperature": ("Temperature", "温度"),
    "prompt.set_temperature": ("Set a temperature (otherwise the provider's default)", "设置温度（否则使用服务商的默认值）"),
    "prompt.set_temperature_help": (
        "Reasoning models (OpenAI o-series, gpt-5) accept only their default; leave this off for them.",
        "推理模型（OpenAI o 系列、gpt-5）只接受默认温度；使用这些模型时请不要勾选。",
    ),
    "prompt.max_tokens": ("Max tokens (0 = provider default)", "最大输出 tokens（0 表示使用默认值）"),
    "prompt.max_tokens_help": ("Answers longer than this are cut off.", "超过此长度的回答会被截断。"),
    "prompt.problem.empty": ("The prompt is empty: write what to ask the model for each row.", "提示词为空：请写下要让模型对每一行做什么。"),
    "prompt.problem.literal": (
        "{name} is not a column: to write literal braces (as in a JSON example), type {{{{ and }}}}.",
        "{name} 不是列名：如需输入花括号本身（例如 JSON 示例），请写 {{{{ 和 }}}}。",
    ),
    "prompt.problem.suggest": ("Unknown column {name}: did you mean {suggestion}?", "未知列 {name}：是不是 {suggestion}？"),
    "prompt.problem.unknown": (
        "Unknown column {name}: click a column above to insert it (to write literal braces, type {{{{ and }}}}).",
        "未知列 {name}：请点击上方的列名插入（如需输入花括号本身，请写 {{{{ 和 }}}}）。",
    ),
    "prompt.preview": ("Preview of the first prompts", "前几条提示词预览"),
    "prompt.row": ("Row {n}", "第 {n} 行"),
    "prompt.no_data": ("Load a table on the Data page to see the preview.", "请先在“数据”页加载表格以查看预览。"),
    "prompt.empty": ("The prompt is empty.", "提示词为空。"),
    # keys page
    "keys.title": ("Keys & limits", "密钥与限速"),
    "keys.intro": (
        "Any OpenAI-compatible provider works. Each key is paced on its own, at the limit learnt from the provider: more keys, faster runs.",
        "支持任何兼容 OpenAI 接口的服务商。每个密钥单独限速，速度从服务商处自动学习：密钥越多，运行越快。",
    ),
    "keys.provider": ("Provider", "服务商"),
    "keys.base_url": ("Base URL", "接口地址（Base URL）"),
    "keys.model": ("Model", "模型"),
    "keys.paste": ("API keys, one per line", "API 密钥，每行一个"),
    "keys.paste_help": (
        "Keys stay in this server's memory only: never saved, logged or exported.",
        "密钥只保存在服务器内存中：不会写入磁盘、日志或导出文件。",
    ),
    "keys.add": ("Add keys", "添加密钥"),
    "keys.rpm": ("Requests per minute, per key", "每个密钥每分钟请求数"),
    "keys.rpm_auto": ("Auto", "自动"),
    "keys.rpm_help": (
        "Empty (Auto): each key's pace is learnt from the provider, from its rate-limit headers or, where it sends none, "
        "from its 429 answers. A number is a ceiling the run never goes above.",
        "留空（自动）：根据服务商返回的限流信息自动学习每个密钥的速度；服务商不返回限流信息时，根据 429 应答学习。"
        "填写数字则为上限，运行时绝不超过。",
    ),
    "keys.shared": ("All these keys share one account limit", "这些密钥共用一个账户的限额"),
    "keys.shared_help": (
        "Tick this when the keys belong to one OpenAI organisation, or one DashScope or DeepSeek account: they are then "
        "paced together, and a number above is the whole account's limit.",
        "当这些密钥属于同一个 OpenAI 组织、同一个阿里云百炼（DashScope）或 DeepSeek 账户时勾选：它们将被统一限速，"
        "上方填写的数字即为整个账户的限额。",
    ),
    "keys.tpm": ("Tokens per minute, per key (0 = no limit)", "每个密钥每分钟 tokens（0 表示不限）"),
    "keys.tpm_help": ("Estimated before sending, without network.", "发送前在本地估算，无需联网。"),
    "keys.pool": ("Key pool", "密钥池"),
    "keys.simulated_note": (
        "No key entered: runs use {n} simulated keys (no network, no cost). Paste a key above to use a real model.",
        "尚未输入密钥：将使用 {n} 个模拟密钥（无需联网、不产生费用）。在上方粘贴密钥即可使用真实模型。",
    ),
    "keys.preset_note": (
        "{n} key(s) for {provider} are preset on this server; they are never shown.",
        "服务器已预设 {n} 个 {provider} 密钥，密钥内容不会显示。",
    ),
    "keys.preset_available": (
        "Keys preset on the server are not used while you have keys of your own here.",
        "当你在此添加了自己的密钥时，不会使用服务器预设的密钥。",
    ),
    "keys.col.key": ("Key", "密钥"),
    "keys.col.provider": ("Provider", "服务商"),
    "keys.col.model": ("Model", "模型"),
    "keys.col.rpm": ("Requests/min", "每分钟请求"),
    "keys.col.pace": ("Pace", "当前速度"),
    "keys.col.test": ("Test result", "测试结果"),
    "keys.test": ("Test keys", "测试密钥"),
    "keys.testing": ("Sending one tiny request per key…", "正在为每个密钥发送一次测试请求…"),
    "keys.remove": ("Remove", "移除"),
    # a key's pace (core.GateView.describe(): the English texts are core's own)
    "pace.set": ("limit {limit}/min, as set", "上限 {limit}/分钟（手动设定）"),
    "pace.provider": ("limit {limit}/min from the provider", "服务商限额 {limit}/分钟"),
    "pace.provider_busy": (
        "{pace}/min of the provider's {limit}/min: the key is busy elsewhere",
        "{pace}/分钟（服务商限额 {limit}/分钟，该密钥另有他用）",
    ),
    "pace.learnt": ("about {pace}/min, learnt", "约 {pace}/分钟（自动学习）"),
    "pace.starting": ("starting at {pace}/min, learning", "起步 {pace}/分钟，正在学习"),
    "pace.cooling": ("cooling down for {seconds} s", "冷却中，还需 {seconds} 秒"),
    # run page
    "run.title": ("Run", "运行"),
    "run.rpm": ("Requests per minute, per key", "每个密钥每分钟请求数"),
    "run.concurrency": ("Concurrency (at most)", "并发数（上限）"),
    "run.auto_concurrency": ("Auto: only as many as the keys' pace needs", "自动：按密钥速度所需的数量"),
    "run.auto_concurrency_help": (
        "Keeps enough requests in flight to reach the keys' pace at the latency seen, never more than the slider.",
        "根据观测到的延迟，保持刚好能达到密钥速度的在途请求数，不超过滑块设定的上限。",
    ),
    "run.new_run": ("New run", "新建任务"),
    "run.line.rows": ("{n:,} rows", "{n:,} 行"),
    "run.line.model": ("model {model}", "模型 {model}"),
    "run.line.keys": ("{n} key(s) × {rpm:,} requests/min", "{n} 个密钥 × 每分钟 {rpm:,} 次请求"),
    "run.line.no_keys": ("no key yet × {rpm:,} requests/min", "尚无密钥 × 每分钟 {rpm:,} 次请求"),
    "run.line.keys_auto": ("{n} key(s), requests/min learnt automatically", "{n} 个密钥，每分钟请求数自动学习"),
    "run.line.no_keys_auto": ("no key yet, requests/min learnt automatically", "尚无密钥，每分钟请求数自动学习"),
    "run.line.cache_on": ("cache on", "使用缓存"),
    "run.line.cache_off": ("cache off", "不使用缓存"),
    "run.made_with": ("Made with: {line} · prompt “{prompt}”", "任务设置：{line} · 提示词“{prompt}”"),
    "run.concurrency_help": ("How many requests may be waiting for an answer at once, over all keys.", "所有密钥合计，同时等待回答的最大请求数。"),
    "run.max_attempts": ("Max attempts per row", "每行最多尝试次数"),
    "run.max_attempts_help": (
        "Server errors and timeouts are retried up to this many times. Rate limits (429) do not count.",
        "服务器错误和超时最多重试这么多次。限流（429）不计入次数。",
    ),
    "run.no_data": ("Load a table on the Data page first.", "请先在“数据”页加载表格。"),
    "run.est_requests": ("Requests", "请求数"),
    "run.est_tokens": ("Tokens (estimate)", "Tokens（估算）"),
    "run.est_tokens_help": ("{tin:,} in, {tout:,} out.", "输入 {tin:,}，输出 {tout:,}。"),
    "run.est_basis.measured": (
        "Output tokens measured: {per:.1f} per answer over {n:,} answers of an earlier run of this prompt and model. Close.",
        "输出 tokens 为实测值：此提示词和模型之前运行的 {n:,} 条回答，平均每条 {per:.1f}。较准确。",
    ),
    "run.est_basis.label": (
        "Output tokens from the length of the expected answers: about {per:.1f} per answer. Rough: run a test of a few rows to measure.",
        "输出 tokens 按标准答案的长度估算：每条约 {per:.1f}。较粗略：先测试几行即可得到实测值。",
    ),
    "run.est_basis.fields": (
        "Output tokens from the JSON fields asked for: about {per:.0f} per answer. Rough: run a test of a few rows to measure.",
        "输出 tokens 按要求的 JSON 字段估算：每条约 {per:.0f}。较粗略：先测试几行即可得到实测值。",
    ),
    "run.est_basis.guess": (
        "Output tokens guessed at {per:.0f} per answer. A guess: run a test of a few rows to measure.",
        "输出 tokens 按每条 {per:.0f} 猜测。仅为猜测：先测试几行即可得到实测值。",
    ),
    "run.est_basis_help": ("Input tokens are counted from the prompts themselves; output tokens can only be known from answers.", "输入 tokens 按提示词本身计算；输出 tokens 只能从回答中得知。"),
    "run.price_free": ("The simulated provider costs nothing: its price is $0.", "模拟模型不产生费用：价格为 0 美元。"),
    "run.est_cost": ("Cost (estimate)", "费用（估算）"),
    "run.est_cost_help": ("From the model's list price; the real bill may differ.", "按模型公开价格估算，实际费用可能不同。"),
    "run.est_time": ("Time (estimate)", "耗时（估算）"),
    "run.limited_by.rate": ("Limited by the requests/min of {keys} key(s).", "受 {keys} 个密钥的每分钟请求数限制。"),
    "run.limited_by.concurrency": ("Limited by concurrency: raise it to go faster.", "受并发数限制：调高并发可以更快。"),
    "run.first_n": ("Rows for a test", "测试行数"),
    "run.more_settings": ("Price and cache", "价格与缓存"),
    "run.price_in": ("Input price, USD per million tokens", "输入价格（美元 / 百万 tokens）"),
    "run.price_out": ("Output price, USD per million tokens", "输出价格（美元 / 百万 tokens）"),
    "run.price_help": ("Leave empty to use the model's list price, shown greyed out.", "留空则使用模型的公开价格（灰色显示）。"),
    "run.use_cache": ("Answer repeated prompts from the cache", "重复的提示词直接使用缓存答案"),
    "run.use_cache_help": (
        "A prompt sent before with the same model and settings is answered from the saved answer, for free. Turn off to ask again.",
        "相同模型和设置下发送过的提示词，直接使用已保存的答案，不产生费用。关闭后会重新请求。",
    ),
    "run.fix_prompt": ("Fix the prompt", "修改提示词"),
    "run.busy": ("A run is going: pause or cancel it below, or wait for it to finish, to start another.", "当前任务正在运行：请在下方暂停或取消，或等待完成后再开始新任务。"),
    "run.busy_paused": ("A run is paused: resume or cancel it below to start another.", "当前任务已暂停：请在下方继续或取消后再开始新任务。"),
    "run.speed_help": ("Rows answered per second over the last 20 seconds; answers from the cache are not counted.", "最近 20 秒内每秒完成的行数；来自缓存的答案不计入。"),
    "run.test_first": ("Test {n} rows", "测试前 {n} 行"),
    "run.run_all": ("Run all {n:,} rows", "运行全部 {n:,} 行"),
    "run.current": ("Run: {name}", "任务：{name}"),
    "run.run_id": ("Run id", "任务编号"),
    "run.ok": ("Succeeded", "成功"),
    "run.failed": ("Failed", "失败"),
    "run.pending": ("Pending", "待处理"),
    "run.speed": ("Speed", "速度"),
    "run.eta": ("Time left", "剩余时间"),
    "run.cost": ("Cost so far", "已花费"),
    "run.projected": ("Projected for the whole run: {cost}", "预计全部完成：{cost}"),
    "run.in_flight": ("In flight", "进行中"),
    "run.tokens": ("Tokens", "Tokens"),
    "run.cached": ("From cache", "来自缓存"),
    "run.timeouts": ("Timeouts", "超时"),
    "run.retries": ("Retries", "重试"),
    "run.accuracy": ("Accuracy", "准确率"),
    "run.pause": ("Pause", "暂停"),
    "run.resume": ("Resume", "继续"),
    "run.cancel": ("Cancel", "取消"),
    "run.retry_failed": ("Retry failed rows", "重试失败的行"),
    "run.use_demo": ("Use the simulated provider (demo, no key, no cost)", "改用模拟模型（演示用，无需密钥、不产生费用）"),
    "run.go_to_keys": ("Enter keys on the Keys & limits page", "到“密钥与限速”页输入密钥"),
    "run.key_state": ("State", "状态"),
    "run.key_state.active": ("active", "正常"),
    "run.key_state.idle": ("not running", "未运行"),
    "run.key_state.cooling": ("cooling down", "冷却中"),
    "run.key_state.dead": ("stopped", "已停用"),
    "run.key_cooling": ("cooling down ({s:.0f} s)", "冷却中（{s:.0f} 秒）"),
    "run.requests": ("Requests", "请求"),
    "run.errors": ("Errors", "错误"),
    "run.reason": ("Reason", "原因"),
    "run.recent_errors": ("Latest {n} error messages (retries included)", "最近 {n} 条错误信息（含重试）"),
    "run.failures_by_cause": ("{n:,} rows failed. Causes:", "{n:,} 行失败，原因："),
    "run.other_causes": ("{n:,} × other causes", "{n:,} × 其他原因"),
    "run.results": ("Results", "结果"),
    "run.table_note": ("Showing the first {n:,} of {total:,} rows; downloads have every row.", "仅显示前 {n:,} 行，共 {total:,} 行；下载文件包含全部行。"),
    "results.col.output": ("output", "输出"),
    "results.col.status": ("status", "状态"),
    "results.col.error": ("error", "错误"),
    "results.col.correct": ("correct", "是否正确"),
    "row_status.ok": ("ok", "成功"),
    "row_status.unparsed": ("unparsed", "无法解析"),
    "row_status.failed": ("failed", "失败"),
    "row_status.pending": ("pending", "待处理"),
    "run.download_csv": ("CSV for Excel", "CSV（Excel 适用）"),
    "run.download_xlsx": ("Excel (.xlsx)", "Excel（.xlsx）"),
    "run.download_jsonl": ("JSONL", "JSONL"),
    "run.download_csv_plain": ("CSV (plain UTF-8)", "CSV（UTF-8 无 BOM）"),
    # history page
    "history.title": ("History", "历史记录"),
    "history.empty": ("No runs yet.", "还没有运行记录。"),
    "history.col.date": ("Started", "开始时间"),
    "history.col.file": ("File", "文件"),
    "history.col.rows": ("Rows done", "已完成行数"),
    "history.col.failed": ("Failed", "失败"),
    "history.col.status": ("Status", "状态"),
    "history.col.tokens": ("Tokens", "Tokens"),
    "history.col.cost": ("Cost", "费用"),
    "history.col.id": ("Run id", "任务编号"),
    "history.pick": ("Select a run to open, download or delete it.", "选择一条记录以查看、下载或删除。"),
    "history.open": ("Open", "查看"),
    "history.delete": ("Delete", "删除"),
    "history.delete_confirm": ("Delete run {id} ({file}) and its results? This cannot be undone.", "确定删除任务 {id}（{file}）及其结果吗？此操作无法撤销。"),
    "history.col.prompt": ("Prompt", "提示词"),
    "history.col.model": ("Model", "模型"),
    "history.col.kind": ("Kind", "类型"),
    "history.col.succeeded": ("Succeeded", "成功率"),
    "history.succeeded_help": ("Share of the run's rows that succeeded.", "该任务中成功的行所占比例。"),
    "history.kind.test": ("test, {n:,} of {total:,}", "测试，{n:,}/{total:,} 行"),
    "history.kind.full": ("all {n:,} rows", "全部 {n:,} 行"),
    "history.delete_yes": ("Delete", "删除"),
    "history.delete_live": ("This run is still going: cancel it first.", "该任务仍在运行，请先取消。"),
    **CORE_STRINGS,
}


def language() -> str:
    lang = st.session_state.get("lang") or st.query_params.get("lang") or "en"
    return lang if lang in LANGUAGES else "en"


def pace_text(view: GateView) -> str:
    """A key's pace in the chosen language, e.g. "limit 500/min from the provider"."""
    return "; ".join(t(f"pace.{code}", **values) for code, values in view.describe())


def t(key: str, **values: object) -> str:
    texts = STRINGS.get(key)
    if texts is None:
        return key  # a missing text shows its key rather than breaking the page; a test lists them
    text = texts[1] if language() == "zh" else texts[0]
    return text.format(**values) if values else text
