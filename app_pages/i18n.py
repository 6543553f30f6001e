"""Every label and message of the app in English and Simplified Chinese. `t(key, **values)`
looks a text up in the language chosen in the sidebar (the `lang` widget, kept in the URL)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

if TYPE_CHECKING:
    from core import GateView
from app_pages.i18n_access import ACCESS_STRINGS
from app_pages.i18n_batch import BATCH_STRINGS
from app_pages.i18n_columns import COLUMNS_STRINGS
from app_pages.i18n_compare import COMPARE_STRINGS
from app_pages.i18n_core import CORE_STRINGS
from app_pages.i18n_outbound import OUTBOUND_STRINGS
from app_pages.i18n_replicas import REPLICAS_STRINGS
from app_pages.i18n_sim import SIM_STRINGS

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
    "common.simulated_provider": ("Simulated (demo)", "模拟模型（演示）"),
    "common.local": (" (local)", "（本地）"),
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
    "auth.password": ("Password", "密码"),
    "auth.enter": ("Enter", "进入"),
    "auth.wrong": ("That password is not right.", "密码不正确。"),
    # errors from core, by code (core's English sentence is used for the rest)
    "error.empty": ("The file is empty; choose a file with a header row and at least one row of data.", "文件是空的：请选择一个包含表头和至少一行数据的文件。"),
    "error.header_only": (
        "The table has column names but no rows of data; add at least one row under the header.",
        "表格只有列名，没有数据：请在表头下至少添加一行数据。",
    ),
    "error.not_text": ("This file does not look like a table; upload a CSV or .xlsx file.", "这个文件看起来不是表格：请上传 CSV 或 .xlsx 文件。"),
    "error.bad_xlsx": (
        "This Excel file could not be opened; open it in your spreadsheet program and save it as .xlsx or CSV.",
        "无法打开这个 Excel 文件：请用表格软件打开，另存为 .xlsx 或 CSV 后再上传。",
    ),
    "error.old_xls": (
        "This is an old .xls file or a password-protected workbook; open it in Excel and save it as .xlsx or CSV.",
        "这是旧版 .xls 文件或受密码保护的工作簿：请用 Excel 打开，另存为 .xlsx 或 CSV。",
    ),
    "error.web_page": (
        "This file is a web page or XML document, not a table; save it as .xlsx or CSV.",
        "这是网页或 XML 文件，不是表格：请另存为 .xlsx 或 CSV。",
    ),
    "error.bad_encoding": (
        "The file does not read as text in {encoding}; choose another encoding or let it be detected.",
        "无法按 {encoding} 编码读取此文件：请换一种编码，或选择自动识别。",
    ),
    "error.cell_too_long": (
        "The cell in row {row}, column '{column}' has {chars:,} characters, more than the limit of {limit:,}; shorten it and upload again.",
        "第 {row} 行“{column}”列的单元格有 {chars:,} 个字符，超过上限 {limit:,}：请缩短后重新上传。",
    ),
    "error.too_many_rows": (
        "The table has {rows:,} rows, more than the limit of {limit:,}; split it into smaller files.",
        "表格有 {rows:,} 行，超过上限 {limit:,} 行：请拆分成较小的文件。",
    ),
    "error.unreadable_csv": (
        "The file could not be read as a table near row {row}; save it again from your spreadsheet program.",
        "文件在第 {row} 行附近无法按表格读取：请用表格软件重新保存。",
    ),
    "error.open_quote": (
        'A quote mark (") in row {row} is never closed, so the rest of the file was read as one cell; fix that quote or save the file again.',
        '第 {row} 行有一个引号（"）没有闭合，导致文件其余部分被读成了一个单元格：请修正该引号，或用表格软件重新保存。',
    ),
    "error.no_sheets": (
        "The workbook has no sheets with cells; add a sheet with a header row and data.",
        "工作簿中没有包含内容的工作表：请添加一个有表头和数据的工作表。",
    ),
    "error.bad_sheet": ("Sheet '{sheet}' cannot be used; choose one of: {names}.", "无法使用工作表“{sheet}”：请从以下工作表中选择：{names}。"),
    "error.no_label_column": ("The label column '{column}' is not in the table.", "表格中没有标准答案列“{column}”。"),
    "error.no_model": ("Choose a model name for the key.", "请为密钥填写模型名。"),
    "error.bad_base_url": ("The base URL must start with http:// or https:// (got {url}).", "接口地址必须以 http:// 或 https:// 开头（当前为 {url}）。"),
    "error.no_keys": ("Add at least one API key, or use the simulated provider for a demo.", "请至少添加一个 API 密钥，或使用模拟模型进行演示。"),
    "error.other_model": (
        "This run was made with {was}; these keys are for {now}. Use keys for the same model, or choose to continue with the other model.",
        "此任务使用的是 {was}；这些密钥对应 {now}。请使用同一模型的密钥，或明确选择改用另一个模型继续。",
    ),
    "error.needs_key": (
        "{provider} needs an API key: paste one on the Keys & limits page, or use the simulated provider for a demo.",
        "{provider} 需要 API 密钥：请在“密钥与限速”页粘贴密钥，或改用模拟模型进行演示。",
    ),
    "error.sheet_too_far": (
        "Sheet '{sheet}' reaches down to cell {cell} and across to column {column}: {rows:,} rows x {columns:,} columns, more than can be opened. If your table is smaller, a stray value far away is the cause: delete the rows below your table and the columns to its right, then save again.",
        "工作表“{sheet}”一直延伸到单元格 {cell}、横向到 {column} 列：共 {rows:,} 行 × {columns:,} 列，太大无法打开。如果你的表格其实没这么大，原因是远处有一个零散的值：请删除表格下方的行和右侧的列，然后重新保存。",
    ),
    "error.sheet_too_big": (
        "Sheet '{sheet}' unpacks to {mb:,} MB, more than the limit of {limit:,} MB; save it as CSV, or split it into smaller files.",
        "工作表“{sheet}”解压后有 {mb:,} MB，超过上限 {limit:,} MB：请另存为 CSV，或拆分成较小的文件。",
    ),
    "error.empty_prompt": ("The prompt is empty: write what the model should do with each row.", "提示词为空：请写明模型要对每一行做什么。"),
    "error.duplicate_field": ("Each JSON field may be listed once.", "每个 JSON 字段只能列出一次。"),
    "error.xlsx_too_many": ("Excel holds at most {limit:,} rows; download CSV or JSONL instead.", "Excel 最多容纳 {limit:,} 行：请改为下载 CSV 或 JSONL。"),
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
    "data.uploader_button": ("Upload", "上传"),
    "data.uploader_limit": ("{mb}MB per file • CSV, TSV, TXT, TAB, XLSX", "每个文件最大 {mb}MB • CSV、TSV、TXT、TAB、XLSX"),
    "data.still_using": ("The table below is still {name}: {upload} was not loaded.", "下方仍是 {name} 的表格：{upload} 没有载入。"),
    "data.sep.comma": ("Comma", "逗号"),
    "data.sep.semicolon": ("Semicolon", "分号"),
    "data.sep.tab": ("Tab", "制表符"),
    "data.sep.pipe": ("Pipe", "竖线"),
    "data.rows": ("Rows", "行数"),
    "data.columns": ("Columns", "列数"),
    "data.empty": ("Upload a file, or use the demo dataset to try the app.", "请上传文件，或使用示例数据体验。"),
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
    "prompt.mode.text": ("Text", "文本"),
    "prompt.label_column": ("Expected answer column (for accuracy)", "标准答案列（用于计算准确率）"),
    "prompt.label_help": (
        "Compared with the answer (or the last JSON field): trimmed text, numbers as numbers.",
        "与回答（或最后一个 JSON 字段）比较：去掉首尾空格，数字按数值比较。",
    ),
    "prompt.parameters": ("Model parameters", "模型参数"),
    "prompt.temperature": ("Temperature", "温度"),
    "prompt.set_temperature": ("Set a temperature", "设置温度"),
    "prompt.set_temperature_help": (
        "Off: the provider's default temperature is used. Reasoning models (OpenAI o-series, gpt-5) accept only their default; leave this off for them.",
        "不勾选：使用服务商的默认温度。推理模型（OpenAI o 系列、gpt-5）只接受默认温度；使用这些模型时请不要勾选。",
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
        "留空（自动）：根据服务商返回的限流信息自动学习每个密钥的速度；服务商不返回限流信息时，根据 429 应答学习。填写数字则为上限，运行时绝不超过。",
    ),
    "keys.shared": ("All these keys share one account limit", "这些密钥共用一个账户的限额"),
    "keys.shared_help": (
        "Tick this when the keys belong to one OpenAI organisation, or one DashScope or DeepSeek account: they are then "
        "paced together, and a number above is the whole account's limit.",
        "当这些密钥属于同一个 OpenAI 组织、同一个阿里云百炼（DashScope）或 DeepSeek 账户时勾选：它们将被统一限速，上方填写的数字即为整个账户的限额。",
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
    "keys.test_help": ("Keys typed in the box are added first. One tiny request per key.", "输入框中的密钥会先被添加。每个密钥发送一次很小的请求。"),
    "keys.nothing_to_test": (
        "There are no keys of yours to test: the simulated provider needs none. Paste a key above and press Test keys.",
        "没有你自己的密钥可测试：模拟模型不需要密钥。请在上方粘贴密钥后再点“测试密钥”。",
    ),
    "keys.verdicts": ("Test results", "测试结果"),
    "keys.provider_said": ("The provider said: {detail}", "服务商的原话：{detail}"),
    "keys.network_said": ("Details: {detail}", "详细信息：{detail}"),
    "keys.todo": ("What to do: {todo}", "怎么办：{todo}"),
    "keys.short.ok": ("✓ works ({seconds} s)", "✓ 可用（{seconds} 秒）"),
    "keys.why.ok": ("The key works: {host} answered with model {model} in {seconds} s.", "密钥可用：{host} 用模型 {model} 在 {seconds} 秒内给出了回答。"),
    "keys.todo.ok": ("Nothing: run a test of a few rows next.", "无需处理：接下来可以先测试几行。"),
    "keys.short.dns": ("✗ cannot reach {host}", "✗ 无法连接 {host}"),
    "keys.why.dns": (
        "This machine cannot reach {host}: there is no network, or the name {host} cannot be looked up (DNS).",
        "这台机器无法连接到 {host}：没有网络，或无法解析域名 {host}（DNS）。",
    ),
    "keys.todo.dns": (
        "Check the internet connection of the machine running this app (a proxy or firewall may block it), and the spelling of the base URL.",
        "请检查运行本应用的机器能否上网（可能被代理或防火墙拦截），并检查接口地址是否拼写正确。",
    ),
    "keys.short.refused": ("✗ {host} refused", "✗ {host} 拒绝连接"),
    "keys.why.refused": ("Nothing is listening at {host} on that port: the connection was refused.", "{host} 的该端口上没有服务在运行：连接被拒绝。"),
    "keys.todo.refused": (
        "Start the local server (Ollama, vLLM…), or fix the port in the base URL.",
        "请启动本地服务（Ollama、vLLM 等），或改正接口地址中的端口。",
    ),
    "keys.short.unreachable": ("✗ cannot reach {host}", "✗ 无法连接 {host}"),
    "keys.why.unreachable": ("This machine cannot reach {host}.", "这台机器无法连接到 {host}。"),
    "keys.todo.unreachable": (
        "Check the base URL, the network, and any proxy or firewall between this machine and {host}.",
        "请检查接口地址、网络，以及这台机器与 {host} 之间的代理或防火墙。",
    ),
    "keys.short.timeout": ("✗ no answer", "✗ 无响应"),
    "keys.why.timeout": ("{host} did not answer in time.", "{host} 没有在规定时间内响应。"),
    "keys.todo.timeout": (
        "Check the base URL and the network; if the provider is just slow, test again.",
        "请检查接口地址和网络；如果只是服务商较慢，请再测试一次。",
    ),
    "keys.short.wrong_key": ("✗ wrong key", "✗ 密钥错误"),
    "keys.why.wrong_key": (
        "{host} does not accept this key (401): it is wrong, incomplete, revoked, or from another provider.",
        "{host} 不接受这个密钥（401）：密钥有误、不完整、已被撤销，或属于其他服务商。",
    ),
    "keys.todo.wrong_key": (
        "Copy the key again in full from the provider's website, and check the provider chosen above matches it.",
        "请从服务商网站重新完整复制密钥，并确认上方选择的服务商与之对应。",
    ),
    "keys.short.forbidden": ("✗ not allowed", "✗ 无权限"),
    "keys.why.forbidden": ("The key is valid but may not use model {model} here (403).", "密钥有效，但无权使用模型 {model}（403）。"),
    "keys.todo.forbidden": (
        "Choose a model this key may use, or enable the model for the key in the provider's console.",
        "请换一个该密钥可用的模型，或在服务商控制台为该密钥开通此模型。",
    ),
    "keys.short.no_quota": ("✗ no quota", "✗ 额度不足"),
    "keys.why.no_quota": ("The key is valid but its account has no quota or balance left.", "密钥有效，但账户没有剩余额度或余额。"),
    "keys.todo.no_quota": (
        "Add credit or raise the quota in the provider's billing page, or use another key.",
        "请在服务商的账单页面充值或提高额度，或换用其他密钥。",
    ),
    "keys.short.rate_limited": ("✓ valid, rate limited now", "✓ 有效，当前被限流"),
    "keys.why.rate_limited": ("The key works but {host} is rate limiting it right now (429).", "密钥可用，但 {host} 目前正在对它限流（429）。"),
    "keys.todo.rate_limited": (
        "Nothing to fix: runs wait when the provider asks. Leave requests/min on Auto, or lower it.",
        "无需修改：运行时会按服务商的要求等待。每分钟请求数保持“自动”，或调低一些。",
    ),
    "keys.short.wrong_url": ("✗ wrong URL (404)", "✗ 地址错误（404）"),
    "keys.why.wrong_url": ("Nothing answers like an API at this base URL (404).", "此接口地址上没有类似 API 的服务（404）。"),
    "keys.todo.wrong_url": (
        "Check the base URL: it usually ends in /v1 (for example https://api.openai.com/v1).",
        "请检查接口地址：通常以 /v1 结尾（例如 https://api.openai.com/v1）。",
    ),
    "keys.short.model_not_found": ("✗ model not found", "✗ 找不到模型"),
    "keys.why.model_not_found": ("{host} has no model called {model} (404).", "{host} 上没有名为 {model} 的模型（404）。"),
    "keys.todo.model_not_found": ("Fix the model name above: copy it from the provider's model list.", "请改正上方的模型名：从服务商的模型列表中复制。"),
    "keys.short.url_or_model": ("✗ not found (404)", "✗ 未找到（404）"),
    "keys.why.url_or_model": ("{host} answered 404: the base URL or the model {model} is wrong.", "{host} 返回 404：接口地址或模型 {model} 有误。"),
    "keys.todo.url_or_model": ("Check the base URL (it usually ends in /v1) and the model name.", "请检查接口地址（通常以 /v1 结尾）和模型名。"),
    "keys.short.not_api": ("✗ not an API", "✗ 不是 API"),
    "keys.why.not_api": (
        "Something answered at this base URL, but not an OpenAI-compatible API (a web page, a login page).",
        "该接口地址有响应，但不是兼容 OpenAI 的 API（可能是网页或登录页）。",
    ),
    "keys.todo.not_api": ("Check the base URL; on a company network, a proxy may need signing in first.", "请检查接口地址；在公司网络中，可能需要先登录代理。"),
    "keys.short.error": ("✗ failed", "✗ 失败"),
    "keys.why.error": ("The check failed.", "测试失败。"),
    "keys.todo.error": ("Read the provider's words below; test again, or try another key.", "请查看下方服务商的原话；再测试一次，或换一个密钥。"),
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
    "run.concurrency": ("Concurrency (at most)", "并发数（上限）"),
    "run.auto_concurrency": ("Auto: only as many as the keys' pace needs", "自动：按密钥速度所需的数量"),
    "run.auto_concurrency_help": (
        "Keeps enough requests in flight to reach the keys' pace at the latency seen, never more than the slider.",
        "根据观测到的延迟，保持刚好能达到密钥速度的在途请求数，不超过滑块设定的上限。",
    ),
    "run.new_run": ("New run", "新建任务"),
    "run.switch_model": ("Continue with the other model (recorded in the run)", "改用另一个模型继续（记录在任务中）"),
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
    "run.est_basis_help": (
        "Input tokens are counted from the prompts themselves; output tokens can only be known from answers.",
        "输入 tokens 按提示词本身计算；输出 tokens 只能从回答中得知。",
    ),
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
    "run.busy": (
        "A run is going: pause or cancel it below, or wait for it to finish, to start another.",
        "当前任务正在运行：请在下方暂停或取消，或等待完成后再开始新任务。",
    ),
    "run.busy_paused": ("A run is paused: resume or cancel it below to start another.", "当前任务已暂停：请在下方继续或取消后再开始新任务。"),
    "run.speed_help": (
        "Rows answered per second over the last 20 seconds; answers from the cache are not counted.",
        "最近 20 秒内每秒完成的行数；来自缓存的答案不计入。",
    ),
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
    "charts.title": ("At a glance", "一览"),
    "charts.throughput": ("Rows per second", "每秒完成行数"),
    "charts.latency": ("How long answers took", "回答耗时分布"),
    "charts.causes": ("Failures by cause", "失败原因"),
    "charts.accuracy": ("Accuracy", "准确率"),
    "charts.confusion": ("Expected vs answered", "标准答案与模型回答"),
    "charts.accuracy_line": ("{pct} right: {right:,} of {n:,} answers match the label column.", "正确率 {pct}：{n:,} 条回答中有 {right:,} 条与标准答案一致。"),
    "charts.other_answer": ("“…” is any answer that is none of the labels.", "“…”表示不属于任何标准答案的回答。"),
    "charts.elapsed_s": ("seconds since the first answer", "自第一条回答起的秒数"),
    "charts.rows_per_s": ("rows per second", "每秒行数"),
    "charts.limit": ("keys' limit: {n}/s", "密钥上限：每秒 {n}"),
    "charts.latency_s": ("seconds per answer", "每条回答的秒数"),
    "charts.from_s": ("from (s)", "从（秒）"),
    "charts.to_s": ("to (s)", "到（秒）"),
    "charts.rows": ("rows", "行数"),
    "charts.right": ("right", "正确"),
    "charts.wrong": ("wrong", "错误"),
    "charts.answered": ("answered", "模型回答"),
    "charts.expected": ("expected", "标准答案"),
    "results.col.output": ("output", "输出"),
    "results.col.status": ("status", "状态"),
    "results.col.error": ("error", "错误"),
    "results.col.correct": ("correct", "是否正确"),
    "row_status.ok": ("ok", "成功"),
    "row_status.unparsed": ("invalid", "不符合"),  # stored as 'unparsed': the answer does not fit the output columns
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
    **CORE_STRINGS,
    **BATCH_STRINGS,
    **COMPARE_STRINGS,
    **COLUMNS_STRINGS,
    **OUTBOUND_STRINGS,
    **SIM_STRINGS,
    **ACCESS_STRINGS,
    **REPLICAS_STRINGS,
}


def language() -> str:
    lang = st.session_state.get("lang") or st.query_params.get("lang") or "en"
    return lang if lang in LANGUAGES else "en"


def pace_text(view: GateView) -> str:
    """A key's pace in the chosen language, e.g. "limit 500/min from the provider"."""
    return "; ".join(t(f"pace.{code}", **values) for code, values in view.describe())


def t(key: str, **values: object) -> str:
    return t_in(language(), key, **values)


def t_in(lang: str, key: str, **values: object) -> str:
    """A text in a given language: for a widget's format_func, which must word its options in
    the language of the run that drew it whenever it is called."""
    texts = STRINGS.get(key)
    if texts is None:
        return key  # a missing text shows its key rather than breaking the page; a test lists them
    text = texts[1] if lang == "zh" else texts[0]
    return text.format(**values) if values else text


def language_picker() -> None:
    """The language switch (drawn in the sidebar), kept in the URL as its code (?lang=zh) so that
    a shared link opens in it."""
    st.segmented_control(t("sidebar.language"), options=list(LANGUAGES), format_func=LANGUAGES.get, key="lang", required=True, persist_state="session")
    if st.query_params.get("lang") != st.session_state["lang"]:
        st.query_params["lang"] = st.session_state["lang"]
