"""Sign-in, owners and sharing, in English and Simplified Chinese (merged into i18n.STRINGS)."""

from __future__ import annotations

ACCESS_STRINGS: dict[str, tuple[str, str]] = {
    # the door
    "access.password_prompt": (
        "This server is shared by a team. Give your name and the team's password: your runs are kept under your name.",
        "此服务器由团队共用。请输入你的名字和团队密码：你的任务将保存在你的名下。",
    ),
    "access.oidc_prompt": ("This server is shared by a team. Sign in to use it.", "此服务器由团队共用。请登录后使用。"),
    "access.name": ("Your name", "你的名字"),
    "access.sign_in": ("Sign in", "登录"),
    "access.sign_in_with": ("Sign in with {provider}", "使用 {provider} 登录"),
    "access.sign_out": ("Sign out", "退出登录"),
    "access.signed_in": ("Signed in as {name}", "已登录：{name}"),
    "access.admin": ("admin", "管理员"),
    "access.wait": ("Too many wrong attempts: try again in {s} s.", "尝试错误次数过多：请在 {s} 秒后再试。"),
    "access.config_error": (
        "This server's access settings cannot be used, so it stays closed. Whoever runs it can see why below (README: Hosting for a team).",
        "此服务器的访问设置无法使用，因此暂不开放。服务器管理员可在下方查看原因（见 README：Hosting for a team）。",
    ),
    "access.preset_needs_access": (
        "Keys are preset on this server but anyone could reach them: they are not used until an access mode is set "
        "([access] password or OIDC sign-in in .streamlit/secrets.toml, or LLM_BATCH_PASSWORD).",
        "服务器预设了密钥，但任何人都能访问本页：在设置访问方式之前不会使用这些密钥"
        "（在 .streamlit/secrets.toml 中设置 [access] password 或 OIDC 登录，或设置环境变量 LLM_BATCH_PASSWORD）。",
    ),
    # links and owners
    "access.run_not_visible": (
        "There is no run {id} that you can see: it may have been deleted, or its owner has not shared it with the team.",
        "没有你可以查看的任务 {id}：它可能已被删除，或其所有者未与团队共享。",
    ),
    "access.comparison_not_visible": (
        "There is no comparison {id} that you can see: it may have been deleted, or its owner has not shared it with the team.",
        "没有你可以查看的对比 {id}：它可能已被删除，或其所有者未与团队共享。",
    ),
    "access.read_only": (
        "{owner} shared this with the team: you can look at it and download it; only its owner can change it.",
        "{owner} 与团队共享了此内容：你可以查看和下载；只有其所有者可以修改。",
    ),
    "access.share": ("Share with the team", "与团队共享"),
    "access.share_help": (
        "Everyone signed in to this server then sees it in History and through its link, read-only. Only you (and an admin) can change or delete it.",
        "共享后，登录此服务器的所有人都能在“历史”中或通过链接查看（只读）。只有你（和管理员）可以修改或删除。",
    ),
    "access.owner_local": ("local user", "本地用户"),
    "history.col.owner": ("Owner", "所有者"),
    "history.col.shared": ("Shared", "已共享"),
    # the response cache
    "access.cache_line": (
        "{n:,} answers in your response cache: a prompt asked again is answered from it, free.",
        "你的响应缓存中有 {n:,} 条回答：再次发送相同的提示词时将直接从缓存免费返回。",
    ),
    "access.clear_cache": ("Clear cache", "清空缓存"),
    "access.clear_cache_confirm": (
        "Forget your {n:,} cached answers? Runs keep their results; a repeated prompt is then sent (and paid for) again.",
        "清除你的 {n:,} 条缓存回答？任务的结果会保留；之后重复的提示词将重新发送（并计费）。",
    ),
    "access.clear_cache_yes": ("Clear", "清空"),
    "access.cache_cleared": ("Cleared {n:,} cached answers.", "已清除 {n:,} 条缓存回答。"),
    # core's errors, by code
    "error.not_visible": (
        "There is nothing with the id {id} that you can see: it may not exist, or its owner has not shared it.",
        "没有你可以查看的 {id}：它可能不存在，或其所有者未共享。",
    ),
    "error.not_owner": (
        "This belongs to someone else: it is shared with you to look at, not to change.",
        "这属于其他人：与你共享的内容只能查看，不能修改。",
    ),
    "error.access_config": (
        "The [access] settings in .streamlit/secrets.toml cannot be used: see the README, Hosting for a team.",
        ".streamlit/secrets.toml 中的 [access] 设置无法使用：请参阅 README 的 Hosting for a team 一节。",
    ),
    "error.run_live": ("This run is still going: cancel it first.", "该任务仍在运行，请先取消。"),
    "error.bad_name": (
        "Give your name (at most {n} characters): your runs are kept under it.",
        "请输入你的名字（最多 {n} 个字符）：你的任务将保存在此名下。",
    ),
    "error.not_on_list": ("{who} may not use this server: ask its admin to add you.", "{who} 无权使用此服务器：请联系管理员将你加入。"),
    "error.no_identity": (
        "The sign-in gave no e-mail address nor user id: ask the admin to check the provider's scopes.",
        "登录未提供电子邮件地址或用户 ID：请联系管理员检查身份提供方的授权范围（scope）。",
    ),
}
