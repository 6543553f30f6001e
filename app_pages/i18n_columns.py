"""The output columns' texts, in English and Simplified Chinese (merged into i18n.STRINGS): the
Prompt page's editor and preview, the Run page's counts, core's errors about a definition, and the
row errors and notes about answers that do not fit."""

from __future__ import annotations

COLUMNS_STRINGS: dict[str, tuple[str, str]] = {
    # the Prompt page
    "prompt.mode.columns": ("Columns", "多列"),
    "prompt.columns_intro": (
        "Each row becomes a column of the results. The model is asked for one JSON object with these columns; every answer is checked against "
        "their types and allowed values, and an answer that does not fit is asked again.",
        "每一行定义结果中的一列。模型会被要求返回包含这些列的一个 JSON 对象；每个回答都会按类型和允许的取值检查，不符合的回答会被重新询问。",
    ),
    "prompt.columns_editor": ("Output columns", "输出列"),
    "prompt.demo_columns": ("Use this demo's columns", "使用此演示的输出列"),
    "prompt.columns_below": ("Define the columns in the table below the prompt.", "请在提示词下方的表格中定义输出列。"),
    "columns.col.name": ("name", "列名"),
    "columns.col.name_help": ("The column's name in the results (and the JSON key the model fills in).", "结果中的列名（也是模型要填写的 JSON 键）。"),
    "columns.col.type": ("type", "类型"),
    "columns.col.type_help": (
        "What the answer must be: the value is checked and kept as this type in Excel and JSONL.",
        "回答必须符合的类型：取值会被检查，并在 Excel 和 JSONL 中保留此类型。",
    ),
    "columns.col.description": ("description", "说明"),
    "columns.col.description_help": ("Tells the model what to put here (sent with the schema).", "告诉模型这一列填什么（随 schema 一起发送）。"),
    "columns.col.required": ("required", "必填"),
    "columns.col.required_help": ("Unticked: the model may leave it empty (null).", "不勾选：模型可以留空（null）。"),
    "columns.col.choices": ("allowed values", "允许的取值"),
    "columns.col.choices_help": (
        'For "one of a list": the values, separated by commas (e.g. positive, negative, neutral).',
        "用于“列表中的一项”：用逗号分隔的取值（例如 positive, negative, neutral）。",
    ),
    "columns.type.text": ("text", "文本"),
    "columns.type.number": ("number", "数字"),
    "columns.type.integer": ("whole number", "整数"),
    "columns.type.boolean": ("yes/no", "是/否"),
    "columns.type.date": ("date (yyyy-mm-dd)", "日期（yyyy-mm-dd）"),
    "columns.type.choice": ("one of a list", "列表中的一项"),
    "columns.yes": ("yes", "是"),
    "columns.no": ("no", "否"),
    "columns.none_yet": ("Add at least one column: a name and its type.", "请至少添加一列：填写列名和类型。"),
    "prompt.max_reasks": ("Ask again when an answer does not fit (times)", "回答不符合时重新询问（次数）"),
    "prompt.max_reasks_help": (
        "The model's answer and what is wrong with it are sent back, and it answers again. Each re-ask is a paid request. "
        "An answer cut off at the max tokens limit is asked once more with a larger limit.",
        "把模型的回答及其问题发回给模型，让它重新回答。每次重问都是一次计费请求。因达到最大 tokens 而被截断的回答，会用更大的上限再问一次。",
    ),
    "prompt.label_field": ("Column compared with the expected answer", "与标准答案比较的列"),
    "prompt.sent": ("Exactly what is sent for row 1", "第 1 行实际发送的内容"),
    "prompt.sent_mode.json_schema": (
        "Asked with response_format json_schema (strict): the provider holds the model to the schema. A provider that refuses it gets json_object "
        "with the schema in the system message, then the schema in the system message only; the run remembers what worked.",
        "使用 response_format json_schema（strict）请求：由服务商保证模型按 schema 回答。不支持的服务商会改用 json_object 并把 schema 写入系统提示，"
        "再不行则只在系统提示中给出 schema；任务会记住哪种方式可用。",
    ),
    "prompt.sent_mode.json_object": (
        "This provider and model refused json_schema in an earlier run: asked with response_format json_object and the schema in the system message.",
        "此服务商和模型在之前的任务中不支持 json_schema：改用 response_format json_object，并把 schema 写入系统提示。",
    ),
    "prompt.sent_mode.instructions": (
        "This provider and model refused response_format in an earlier run: the schema is in the system message only.",
        "此服务商和模型在之前的任务中不支持 response_format：只在系统提示中给出 schema。",
    ),
    # the Compare page
    "compare.columns_from_prompt": (
        "Output columns (from the Prompt page; the last one is scored): {names}",
        "输出列（来自“提示词”页，以最后一列评分）：{names}",
    ),
    # the Run page
    "run.valid": ("Valid", "符合"),
    "run.invalid": ("Invalid", "不符合"),
    "run.reasked": ("Re-asked", "重问过"),
    "run.reasked_help": (
        "Rows whose answer did not fit the columns at first and were asked again ({n} re-asks sent in this session).",
        "最初的回答不符合输出列、因而被重新询问的行（本次共发送 {n} 次重问）。",
    ),  # fmt: skip
    # core's errors about a definition (core/columns.py, core/spec.py)
    "error.column_no_name": ("Every output column needs a name.", "每个输出列都需要一个名称。"),
    "error.column_long_name": ("The column name {name}… is too long: at most {n} characters.", "列名 {name}… 太长：最多 {n} 个字符。"),
    "error.column_bad_type": ("Column '{name}' has the type '{type}': choose one of {known}.", "列“{name}”的类型“{type}”无效：请从 {known} 中选择。"),
    "error.column_few_choices": (
        "Column '{name}' is one of a list: give at least two allowed values, separated by commas.",
        "列“{name}”是“列表中的一项”：请至少填写两个允许的取值，用逗号分隔。",
    ),
    "error.column_duplicate": ("There are two output columns called '{name}': give each its own name.", "有两个输出列都叫“{name}”：请给每列取不同的名字。"),
    "error.column_too_many": ("At most {n} output columns can be asked for at once.", "一次最多只能要求 {n} 个输出列。"),
    "error.column_not_object": ("Output column {n} is not an object with a name and a type.", "第 {n} 个输出列不是包含名称和类型的对象。"),
    "error.column_unknown_key": ("Output column {n} has an unknown setting '{key}': use {known}.", "第 {n} 个输出列有未知设置“{key}”：可用的设置为 {known}。"),
    "error.columns_not_json": ("The output columns are not valid JSON{where}.", "输出列不是有效的 JSON{where}。"),
    "error.columns_not_list": ("The output columns must be a JSON list of objects, one per column.", "输出列必须是 JSON 对象列表，每列一个对象。"),
    "error.columns_unreadable": ("Cannot read the columns file {path}.", "无法读取列定义文件 {path}。"),
    "error.columns_and_fields": ("Give the output columns or JSON fields, not both.", "请只提供输出列或 JSON 字段之一，不要同时提供。"),
    "error.bad_reasks": ("Re-asks must be between 0 and {n}.", "重问次数必须在 0 到 {n} 之间。"),
    # causes of invalid rows, in a few words (core/report.py groups them by the first problem's column)
    "cause.invalid_answer": ('the answer does not fit column "{name}"', "回答不符合输出列“{name}”"),
    "cause.invalid_not_json": ("the answer is not a JSON object", "回答不是一个 JSON 对象"),
    # a row's answer that does not fit (core/answers.py, core/columns.py) and the way of asking (core/structured.py)
    "msg.invalid_answer": ("The answer does not fit the output columns after {n} re-asks: {inner}.", "重问 {n} 次后，回答仍不符合输出列：{inner}。"),
    "msg.invalid_answer.now": ("The answer does not fit the output columns: {inner}.", "回答不符合输出列：{inner}。"),
    "msg.col_missing": ('"{name}" is missing', "缺少“{name}”"),
    "msg.col_empty": ('"{name}" is empty', "“{name}”为空"),
    "msg.col_number": ('"{name}" should be a number, not {value}', "“{name}”应为数字，而不是 {value}"),
    "msg.col_integer": ('"{name}" should be a whole number, not {value}', "“{name}”应为整数，而不是 {value}"),
    "msg.col_boolean": ('"{name}" should be true or false (yes or no), not {value}', "“{name}”应为是或否（true 或 false），而不是 {value}"),
    "msg.col_ambiguous_date": ('"{name}" could be {options}: write the date as yyyy-mm-dd', "“{name}”可能是 {options}：请按 yyyy-mm-dd 写日期"),
    "msg.col_date": ('"{name}" should be a date as yyyy-mm-dd, not {value}', "“{name}”应为 yyyy-mm-dd 格式的日期，而不是 {value}"),
    "msg.col_choice": ('"{name}" should be one of {choices}, not {value}', "“{name}”应为 {choices} 之一，而不是 {value}"),
    "msg.col_not_object": ("the answer is not a JSON object", "回答不是一个 JSON 对象"),
    "msg.ask_json_object": (
        "The provider refused response_format {old}; the run asks with json_object and the schema in the system message instead.",
        "服务商不接受 response_format {old}；本任务改用 json_object，并把 schema 写入系统提示。",
    ),
    "msg.ask_instructions": (
        "The provider refused response_format {old}; the run asks with the schema in the system message only instead.",
        "服务商不接受 response_format {old}；本任务改为只在系统提示中给出 schema。",
    ),
}
