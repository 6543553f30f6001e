"""What the pages say about the simulated provider and the demo sheets, in English and Simplified
Chinese (merged into i18n.STRINGS)."""

from __future__ import annotations

SIM_STRINGS: dict[str, tuple[str, str]] = {
    # the Data page's demo sheets
    "demo.sheet": ("Demo sheet", "示例数据表"),
    "demo.sheet.arithmetic": ("Arithmetic questions", "四则运算题"),
    "demo.sheet.reviews": ("Product reviews", "商品评论"),
    "demo.sheet_help": (
        "Arithmetic: 300 questions with their answers (the classic prompt experiment). "
        "Product reviews: 200 short reviews in English and Chinese, labelled positive, negative or neutral, with the rating, date and "
        "recommendation they mention. Both come with a prompt that fits.",
        "四则运算：300 道题及答案（经典的提示词实验）。商品评论：200 条中英文短评，标注了正面、负面或中性，"
        "以及评论中提到的评分、日期和是否推荐。两者都带有合适的提示词。",
    ),
    "demo.label.arithmetic": ("demo: arithmetic questions with their answers", "示例：四则运算题及其答案"),
    "demo.label.reviews": ("demo: product reviews with a labelled sentiment", "示例：标注了情感的商品评论"),
    # what the simulated provider is and is not
    "sim.what_title": ("What the simulated provider does", "模拟模型能做什么"),
    "sim.what": (
        "It is not a language model: it answers by fixed, documented rules, the same way every time, in English and Chinese. "
        "Arithmetic is computed exactly (a few answers are wrong on purpose, fewer when the prompt asks for care). "
        "Classes such as positive / negative / neutral come from keyword rules and a small word list, so sarcasm fools it. "
        "Numbers, ratings, dates and yes/no are read out of the row's text; other prompts get a short extract marked as simulated. "
        "Use it to try the app with no key and no cost; paste a key for real answers.",
        "它不是语言模型：按固定且有文档说明的规则作答，每次结果相同，支持中文和英文。"
        "四则运算精确计算（少数答案故意算错，提示词要求仔细时错得更少）。"
        "正面/负面/中性等类别来自关键词规则和一个小词表，所以反讽会让它出错。"
        "数字、评分、日期和是/否从该行文字中提取；其他提示词得到一段标明“模拟”的简短摘录。"
        "用它可以不用密钥、不花钱地试用本应用；要得到真实回答，请粘贴密钥。",
    ),
    "sim.cost_value": ("$0", "$0"),
    "sim.cost_note": ("simulated, not a price", "模拟，并非价格"),
    "sim.cost_help": (
        "The simulated provider charges nothing. A real model's cost for the same rows shows here once you choose it on the Keys & limits page.",
        "模拟模型不收费。在“密钥与限速”页面选择真实模型后，这里会显示同样这些行的费用。",
    ),
    "sim.results_badge": ("Simulated answers, not a real model", "模拟回答，并非真实模型"),
    "sim.results_note": (
        "These answers come from the simulated provider's rules (keywords, a word list, extraction), not from a model: "
        "they show how the app works, not how good a model is.",
        "这些回答来自模拟模型的规则（关键词、词表、提取），不是来自大模型：它们展示的是应用如何工作，而不是模型有多好。",
    ),
}
