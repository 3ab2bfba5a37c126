//! Console strings in Simplified Chinese (the default) and English.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }
    /// The message in this language.
    pub fn pick<T>(self, zh: T, en: T) -> T {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }
    pub fn parse(s: &str) -> Lang {
        if s.eq_ignore_ascii_case("en") {
            Lang::En
        } else {
            Lang::Zh
        }
    }
}

/// key → (中文, English)
const MESSAGES: &[(&str, &str, &str)] = &[
    (
        "site",
        "数纽 · 城市公共数据枢纽",
        "Shuniu · City Public-Data Hub",
    ),
    ("catalog", "数据资源目录", "Data catalog"),
    ("search", "检索", "Search"),
    (
        "search_placeholder",
        "输入资源名称、信息项、部门或代码，如：户籍人口",
        "Name, data item, department or code, e.g. 户籍人口",
    ),
    ("register", "登记资源", "Register resource"),
    ("review_queue", "审核队列", "Review queue"),
    ("negative_list", "负面清单", "Negative list"),
    ("lists", "三张清单", "The three lists"),
    ("departments", "部门", "Departments"),
    ("import", "Excel 导入", "Excel import"),
    ("export", "导出 Excel", "Export to Excel"),
    ("login", "登录", "Sign in"),
    ("logout", "退出", "Sign out"),
    ("login_name", "登录名", "Login"),
    ("password", "密码", "Password"),
    ("bad_login", "用户名或密码错误", "Wrong login or password"),
    (
        "login_locked",
        "登录失败次数过多，该账号已暂时锁定，请 15 分钟后再试",
        "Too many failed logins: this login is locked for 15 minutes",
    ),
    ("results", "条结果", "results"),
    ("no_results", "没有找到匹配的资源", "No matching resources"),
    ("facet_provider", "提供部门", "Provider"),
    ("facet_category", "资源分类", "Category"),
    ("facet_share_type", "共享属性", "Share attribute"),
    ("facet_open_type", "开放属性", "Open attribute"),
    ("facet_level", "安全级别", "Security level"),
    ("facet_update_cycle", "更新周期", "Update cycle"),
    ("clear_filters", "清除筛选", "Clear filters"),
    ("code", "资源代码", "Code"),
    ("name", "资源名称", "Name"),
    ("provider", "提供部门", "Provider"),
    ("status", "状态", "Status"),
    ("version", "版本", "Version"),
    ("summary", "资源摘要", "Summary"),
    ("classification", "资源分类", "Classification"),
    ("category", "类", "Class"),
    ("item_code", "项编码", "Item (项) code"),
    ("item_name", "项名称", "Item (项) name"),
    ("subject_code", "目编码", "Subject (目) code"),
    ("subject_name", "目名称", "Subject (目) name"),
    ("detail_code", "细目编码", "Detail (细目) code"),
    ("detail_name", "细目名称", "Detail (细目) name"),
    ("format", "资源格式", "Format"),
    ("share_type", "共享属性", "Share attribute"),
    ("share_conditions", "共享条件", "Share conditions"),
    ("share_method", "共享方式", "Share method"),
    ("open_type", "开放属性", "Open attribute"),
    ("open_conditions", "开放条件", "Open conditions"),
    ("legal_basis", "不予共享依据", "Legal basis for not sharing"),
    ("update_cycle", "更新周期", "Update cycle"),
    ("level", "安全级别", "Security level"),
    ("publish_date", "发布日期", "Publish date"),
    ("related", "关联资源代码", "Related resources"),
    (
        "related_hint",
        "多个代码用逗号分隔",
        "Separate codes with commas",
    ),
    ("data_items", "信息项", "Data items"),
    ("item_name_en", "英文名", "Column name"),
    ("item_label", "中文名称", "Label"),
    ("data_type", "数据类型", "Type"),
    ("length", "长度", "Length"),
    ("description", "描述", "Description"),
    ("is_key", "主键", "Key"),
    ("required", "必填", "Required"),
    ("personal", "个人信息", "Personal"),
    ("sensitive", "敏感", "Sensitive"),
    ("masking", "脱敏规则", "Masking"),
    ("semantic_type", "语义类型", "Semantic type"),
    ("add_item", "增加信息项", "Add data item"),
    ("save_draft", "保存草稿", "Save draft"),
    ("save", "保存", "Save"),
    ("edit", "修改", "Edit"),
    ("submit", "提交审核", "Submit for review"),
    ("publish", "审核通过并发布", "Approve and publish"),
    ("return", "退回", "Return"),
    ("withdraw", "撤销", "Withdraw"),
    ("reason", "理由", "Reason"),
    ("history", "变更记录", "History"),
    ("action", "操作", "Action"),
    ("actor", "操作人", "By"),
    ("action_created", "登记", "Registered"),
    ("action_updated", "修改", "Edited"),
    ("action_submitted", "提交审核", "Submitted"),
    ("action_published", "发布", "Published"),
    ("action_returned", "退回", "Returned"),
    ("action_withdrawn", "撤销", "Withdrawn"),
    ("note", "说明", "Note"),
    (
        "form_errors",
        "表单有误，请按提示修改",
        "Please correct the fields marked below",
    ),
    (
        "nothing_to_review",
        "没有待审核的资源",
        "Nothing waiting for review",
    ),
    (
        "negative_intro",
        "以下资源依据法律法规或党中央、国务院政策不予共享。",
        "These resources are not shared, by law, regulation or central policy.",
    ),
    ("department_code", "部门代码", "Code"),
    ("department_name", "部门名称", "Name"),
    ("division", "行政区划", "Division"),
    ("credit_code", "统一社会信用代码", "Credit code"),
    (
        "import_intro",
        "上传部门填报的目录表（.xlsx 或 .xls），每行一个信息项，资源列填写在该资源的第一行。任何一行有误则全部不导入。",
        "Upload the department's catalog sheet (.xlsx or .xls), one row per data item, the resource's columns on its first row. If any row is bad, nothing is imported.",
    ),
    ("dry_run", "仅校验，不导入", "Check only, do not import"),
    ("upload", "上传", "Upload"),
    (
        "import_ok",
        "导入成功，已创建草稿",
        "Imported; drafts created",
    ),
    (
        "import_checked",
        "校验通过，可以导入",
        "The workbook is valid and can be imported",
    ),
    (
        "import_failed",
        "导入失败，未导入任何资源",
        "Import failed; nothing was imported",
    ),
    ("row", "行", "Row"),
    ("field", "字段", "Field"),
    ("message", "问题", "Problem"),
    (
        "not_found",
        "页面或资源不存在",
        "Page or resource not found",
    ),
    ("forbidden", "无权访问", "Not allowed"),
    ("back", "返回", "Back"),
    ("prev", "上一页", "Previous"),
    ("next", "下一页", "Next"),
    ("returned_reason", "退回理由", "Returned because"),
    ("withdrawn_reason", "撤销原因", "Withdrawn because"),
    ("updated_at", "更新时间", "Updated"),
    ("all", "全部", "All"),
    ("yes", "是", "yes"),
    ("no", "否", "no"),
    ("role", "角色", "Role"),
    ("parent", "上级部门", "Parent"),
    ("users", "用户", "Users"),
    ("applications", "应用", "Applications"),
    ("display_name", "姓名", "Name"),
    ("add_user", "新增用户", "Add user"),
    ("user_created", "已创建用户", "User created"),
    ("application_id", "应用标识", "Application id"),
    ("application_name", "应用名称", "Application name"),
    (
        "add_application",
        "注册应用并生成密钥",
        "Register and issue a key",
    ),
    (
        "key_once",
        "请立即保存此 API 密钥：它只显示这一次，系统只保存其 SM3 摘要。",
        "Save this API key now: it is shown only once; the hub keeps only its SM3 digest.",
    ),
    ("key_prefix", "密钥前缀", "Key prefix"),
    ("revoked", "已吊销", "Revoked"),
    ("active", "有效", "Active"),
    ("revoke", "吊销", "Revoke"),
    ("dataset", "数据集", "Dataset"),
    ("dataset_version", "数据版本", "Data version"),
    ("no_data_yet", "尚未汇聚数据", "No data loaded yet"),
    ("load_data", "汇聚数据", "Load data"),
    ("load_history", "汇聚记录", "Load history"),
    ("load_mode", "汇聚方式", "Mode"),
    ("mode_replace", "全量替换", "Full replace"),
    ("mode_append", "追加", "Append"),
    ("mode_upsert", "按主键更新", "Upsert by key"),
    ("mode_delete", "按主键删除", "Delete by key"),
    ("load_running", "汇聚中", "Running"),
    ("load_succeeded", "成功", "Succeeded"),
    ("load_failed", "失败", "Failed"),
    ("load_interrupted", "已中断", "Interrupted"),
    ("rows_read", "读取行数", "Rows read"),
    ("rows_accepted", "接收行数", "Rows accepted"),
    ("rows_rejected", "拒收行数", "Rows rejected"),
    ("source", "数据来源", "Source"),
    (
        "load_intro",
        "上传部门数据文件（CSV、Excel、JSON、NDJSON、Parquet；CSV 可为 UTF-8 或 GBK 编码）。列名可用信息项英文名或中文名；每次汇聚生成一个新的数据版本，失败时保留上一版本。",
        "Upload a department’s data file (CSV, Excel, JSON, NDJSON, Parquet; CSV in UTF-8 or GBK). Column headers may be data item names or their Chinese labels. Each load makes a new dataset version; a failed load keeps the previous one.",
    ),
    ("encoding", "文件编码", "Encoding"),
    ("encoding_auto", "自动识别", "Detect"),
    ("delimiter", "分隔符", "Delimiter"),
    ("sheet", "工作表", "Sheet"),
    ("first_sheet", "默认第一个", "first sheet"),
    ("max_rejects", "不合格行上限", "Reject limit"),
    (
        "ignore_unknown_columns",
        "忽略未知列",
        "Ignore unknown columns",
    ),
    ("upload_and_load", "上传并汇聚", "Upload and load"),
    ("column_mapping", "列映射", "Column mapping"),
    ("skipped", "（忽略）", "(skipped)"),
    ("load_report", "汇聚报告", "Load report"),
    ("rows", "行", "rows"),
    (
        "inserted_updated_deleted",
        "新增/更新/删除",
        "Inserted / updated / deleted",
    ),
    ("rejections", "不合格行", "Rejected rows"),
    ("line", "行号", "Line"),
    (
        "download_rejects",
        "下载不合格行（CSV）",
        "Download rejected rows (CSV)",
    ),
    ("source_column", "文件列", "File column"),
    ("sql", "数据查询", "SQL"),
    (
        "sql_intro",
        "对各资源数据集的当前版本执行只读 SQL（Apache DataFusion）。表名为资源代码，需加双引号；\"代码@v3\" 查询第 3 版。",
        "Read-only SQL (Apache DataFusion) over the current version of every dataset. Tables are resource codes in double quotes; \"CODE@v3\" reads version 3.",
    ),
    ("run", "执行", "Run"),
    ("truncated", "仅显示前 1000 行", "first 1000 rows only"),
    ("tables", "数据表", "Tables"),
    ("audit", "审计追溯", "Audit"),
    ("department", "部门", "Department"),
    (
        "audit_intro",
        "全市数据访问与管理操作的防篡改日志：以 SM3 构建 RFC 9162 默克尔树，SM2 签名树头；任何人可用公钥与导出的树头核验。",
        "The hub's tamper-evident log of data accesses and administrative actions: an RFC 9162 Merkle tree over SM3 with SM2-signed tree heads; anyone can check it with the public key and exported heads.",
    ),
    ("tree_size", "树大小（条目数）", "Tree size (entries)"),
    ("signed_at", "签名于", "signed at"),
    ("root_hash", "树根", "Root"),
    ("public_key", "SM2 公钥", "SM2 public key"),
    (
        "audit_empty",
        "审计日志还没有条目",
        "The audit log has no entries yet",
    ),
    ("flows", "流通监测", "Data flows"),
    ("principal", "访问者", "Principal"),
    ("audit_action", "操作", "Action"),
    ("id_number", "身份证号", "ID number"),
    ("time", "时间", "Time"),
    ("result", "结果", "Result"),
    ("purpose", "用途", "Purpose"),
    ("older", "更早", "Older"),
    ("since", "起始", "Since"),
    ("days", "天", "days"),
    (
        "unified_share",
        "经统一数据服务提供的占比",
        "Share served through the unified data service",
    ),
    ("dept_flows", "部门间数据流向", "Flows between departments"),
    ("anomalies", "异常告警", "Anomalies"),
    ("today", "今日访问", "Today"),
    ("baseline", "基线（日均）", "Baseline (per day)"),
    (
        "no_anomalies",
        "没有远超自身基线的应用",
        "No application far above its own baseline",
    ),
    ("volume_by_day", "每日访问量", "Accesses per day"),
    (
        "volume_by_resource",
        "按资源的访问量",
        "Accesses by resource",
    ),
    (
        "volume_by_app",
        "按应用/用户的访问量（近 7 天）",
        "Accesses by application or user (7 days)",
    ),
    ("accesses", "访问次数", "Accesses"),
    ("my_data", "个人数据使用记录", "Who used my data"),
    (
        "my_data_intro",
        "查看哪些部门和系统在何时、为何使用了您的个人数据。记录来自不可篡改的审计日志。",
        "See which departments and systems used your personal data, when and why. The record comes from the tamper-evident audit log.",
    ),
    (
        "simulated_login",
        "演示环境：模拟身份认证。正式部署通过省统一身份认证（OpenID Connect）登录。",
        "Demo: simulated identity check. A real deployment signs you in through the province's unified identity service (OpenID Connect).",
    ),
    ("person_name", "姓名", "Name"),
    ("sign_in", "登录", "Sign in"),
    ("signed_in_as", "当前用户", "Signed in as"),
    ("system", "系统（应用）", "System (application)"),
    (
        "no_uses",
        "没有使用您数据的记录",
        "No recorded use of your data",
    ),
    ("channel_console", "控制台", "Console"),
    ("channel_api", "接口", "API"),
    ("channel_cli", "命令行", "CLI"),
    ("channel_service", "统一数据服务", "Unified data service"),
];

pub fn t(lang: Lang, key: &str) -> String {
    match MESSAGES.iter().find(|(k, _, _)| *k == key) {
        Some((_, zh, en)) => match lang {
            Lang::Zh => zh.to_string(),
            Lang::En => en.to_string(),
        },
        None => key.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_both_languages_filled() {
        let mut seen = std::collections::HashSet::new();
        for (k, zh, en) in MESSAGES {
            assert!(seen.insert(k), "duplicate key {k}");
            assert!(!zh.is_empty() && !en.is_empty(), "{k}");
        }
    }
}
