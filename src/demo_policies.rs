//! The demo city's benefit policies (免申即享、惠企通): ten shaped like real ones, written in the
//! rule language over the demo's population and legal-entity libraries, each saved, submitted
//! and published through the same review as a department's. Documents are marked 示例: they
//! are examples, not the city's law.

use anyhow::Result;
use chrono::Datelike;
use serde_json::json;
use shuniu_matching::PolicyInput;
use shuniu_types::Actor;

/// The policies, as their definitions (docs/matching.md).
fn policies() -> Vec<serde_json::Value> {
    let city = "('370202','370203','370211','370212','370213','370214','370215','370281','370283','370285')";
    vec![
        json!({
            "code": "POL-GAOLING", "name": "高龄津贴", "department": "370200MZ",
            "document": "青岛市高龄津贴发放办法（示例）", "target": "persons",
            "effective_from": "2024-07-01", "unit": "元/月",
            "conditions": [
                {"rule": "年龄 ≥ 【高龄津贴起始年龄】", "reference": "第二条"},
                {"rule": format!("户籍地行政区划 属于 {city}"), "reference": "第三条"},
                // Read from the bureau's own cremation records, joined by ID number.
                {"rule": "死亡火化信息.登记日期 为空", "reference": "第九条（死亡停发）"}
            ],
            "amount": {"table": {"rows": [
                {"when": "年龄 ≥ 100", "amount": "500"},
                {"when": "年龄 ≥ 90", "amount": "200"}], "otherwise": "100"}},
            "parameters": [{"name": "高龄津贴起始年龄", "unit": "岁", "values": [
                {"from": "2020-01-01", "value": 90, "reference": "原办法 第二条"},
                {"from": "2024-07-01", "value": 80, "reference": "第二条"}]}]
        }),
        json!({
            "code": "POL-BAISUI", "name": "百岁老人长寿补贴", "department": "370200MZ",
            "document": "关于提高百岁老人长寿补贴标准的通知（示例）", "target": "persons",
            "effective_from": "2023-01-01", "unit": "元/月",
            "conditions": [{"rule": "年龄 ≥ 100", "reference": "第一条"}],
            "amount": {"formula": "【长寿补贴标准】"},
            "parameters": [{"name": "长寿补贴标准", "unit": "元/月", "values": [
                {"from": "2023-01-01", "value": 500, "reference": "第二条"},
                {"from": "2025-01-01", "value": 600, "reference": "补充通知"}]}]
        }),
        json!({
            "code": "POL-JUJIA-YANGLAO", "name": "居家养老服务补贴", "department": "370200MZ",
            "document": "居家社区养老服务补贴实施细则（示例）", "target": "persons",
            "effective_from": "2024-01-01", "unit": "元/月",
            "conditions": [
                {"rule": "年龄 ≥ 70", "reference": "第四条"},
                {"rule": "户籍地行政区划 属于 ('370202','370203','370213')", "reference": "第五条（市内三区试点）"}
            ],
            "amount": {"formula": "150"}
        }),
        json!({
            "code": "POL-DIBAO-HULI", "name": "低保家庭高龄老人护理补贴", "department": "370200MZ",
            "document": "困难老年人护理补贴实施办法（示例）", "target": "persons",
            "effective_from": "2024-01-01", "unit": "元/月",
            "conditions": [
                {"rule": "年龄 ≥ 70", "reference": "第二条"},
                {"rule": "最低生活保障家庭信息.金额 > 0", "reference": "第三条（在保低保家庭成员）"},
                {"rule": "死亡火化信息.登记日期 为空", "reference": "第八条（死亡停发）"}
            ],
            "amount": {"formula": "200"}
        }),
        // The human-resources bureau reads the civil-affairs bureau's cremation records through
        // its sharing grant (比对), not a copy: a pension is not paid to the deceased.
        json!({
            "code": "POL-JUMIN-YANGLAO", "name": "城乡居民基础养老金", "department": "370200RS",
            "document": "城乡居民基本养老保险实施办法（示例）", "target": "persons",
            "effective_from": "2024-01-01", "unit": "元/月",
            "conditions": [
                {"rule": "年龄 ≥ 【领取年龄】", "reference": "第十条"},
                {"rule": "户籍地行政区划 开头为 '3702'", "reference": "第二条"},
                {"rule": "死亡火化信息.登记日期 为空", "reference": "第十二条（死亡停发）"}
            ],
            "amount": {"formula": "【基础养老金】"},
            "parameters": [
                {"name": "领取年龄", "unit": "岁", "values": [
                    {"from": "2024-01-01", "value": 60, "reference": "第十条"}]},
                {"name": "基础养老金", "unit": "元/月", "values": [
                    {"from": "2024-01-01", "value": 300, "reference": "第五条"},
                    {"from": "2025-07-01", "value": 320, "reference": "关于调整城乡居民基础养老金标准的通知"}]}]
        }),
        json!({
            "code": "POL-YINGYOU", "name": "婴幼儿照护补贴", "department": "370200WJ",
            "document": "三岁以下婴幼儿照护服务补贴办法（示例）", "target": "persons",
            "effective_from": "2025-01-01", "unit": "元/月",
            "conditions": [
                {"rule": "年龄 < 3", "reference": "第二条"},
                {"rule": "户籍地行政区划 开头为 '3702'", "reference": "第三条"}
            ],
            "amount": {"formula": "【照护补贴标准】"},
            "parameters": [{"name": "照护补贴标准", "unit": "元/月", "values": [
                {"from": "2025-01-01", "value": 300, "reference": "第五条"}]}]
        }),
        json!({
            "code": "POL-SHAOMIN-ZHUXUE", "name": "少数民族学生助学补贴", "department": "370200JY",
            "document": "少数民族学生资助办法（示例）", "target": "persons",
            "effective_from": "2024-09-01", "unit": "元/学期",
            "conditions": [
                {"rule": "民族 ≠ '01'", "reference": "第二条（GB 3304 01 为汉族）"},
                {"rule": "年龄 介于 6 与 18", "reference": "第三条"}
            ],
            "amount": {"table": {"rows": [{"when": "年龄 ≥ 15", "amount": "1500"}], "otherwise": "1000"}}
        }),
        json!({
            "code": "POL-CHUANGYE-TIEXI", "name": "创业担保贷款贴息", "department": "370200RS",
            "document": "创业担保贷款实施办法（示例）", "target": "enterprises",
            "effective_from": "2024-01-01", "unit": "元/年",
            "conditions": [
                {"rule": "成立年限 ≤ 【初创期年限】", "reference": "第六条"},
                {"rule": "登记状态 = '01'", "reference": "第七条（存续）"}
            ],
            "amount": {"formula": "【贷款额度】 × 【贴息比例】"},
            "parameters": [
                {"name": "初创期年限", "unit": "年", "values": [
                    {"from": "2024-01-01", "value": 3, "reference": "第六条"}]},
                {"name": "贷款额度", "unit": "元", "values": [
                    {"from": "2024-01-01", "value": 300000, "reference": "第八条"}]},
                {"name": "贴息比例", "unit": "", "values": [
                    {"from": "2024-01-01", "value": 0.02, "reference": "第九条"}]}]
        }),
        json!({
            "code": "POL-WENGANG", "name": "失业保险稳岗返还", "department": "370200RS",
            "document": "关于做好失业保险稳岗返还工作的通知（示例）", "target": "enterprises",
            "effective_from": "2024-01-01", "unit": "元",
            "conditions": [
                {"rule": "登记状态 = '01'", "reference": "第一条"},
                {"rule": "成立年限 ≥ 1", "reference": "第二条（参保缴费满一年）"}
            ],
            "amount": {"formula": "5000"}
        }),
        json!({
            "code": "POL-GAOXIN", "name": "高新技术企业奖励", "department": "370200GX",
            "document": "高新技术企业培育奖励办法（示例）", "target": "enterprises",
            "effective_from": "2024-01-01", "unit": "元",
            "conditions": [
                {"rule": "行业 开头为 'I' 或 行业 开头为 'M'", "reference": "第三条（信息技术、科学研究）"},
                {"rule": "登记状态 = '01'", "reference": "第四条"}
            ],
            "amount": {"formula": "【认定奖励】"},
            "parameters": [{"name": "认定奖励", "unit": "元", "values": [
                {"from": "2024-01-01", "value": 200000, "reference": "第五条"}]}]
        }),
        json!({
            "code": "POL-LAOZIHAO", "name": "老字号企业传承扶持", "department": "370200SWU",
            "document": "老字号保护与传承扶持办法（示例）", "target": "enterprises",
            "effective_from": "2024-01-01", "unit": "元",
            "conditions": [
                {"rule": "成立年限 ≥ 25", "reference": "第二条"},
                {"rule": "登记状态 ≠ '03'", "reference": "第三条"}
            ],
            "amount": {"formula": "50000"}
        }),
        json!({
            "code": "POL-XIAOWEI-ZHUCE", "name": "小微企业首次注册补助", "department": "370200SJ",
            "document": "支持小微企业发展若干措施（示例）", "target": "enterprises",
            "effective_from": "2024-01-01", "unit": "元",
            "conditions": [
                {"rule": "成立年限 < 1", "reference": "第十条"},
                {"rule": "注册资本 ≤ 【小微企业注册资本上限】", "reference": "第十一条"}
            ],
            "amount": {"formula": "2000"},
            "parameters": [{"name": "小微企业注册资本上限", "unit": "万元", "values": [
                {"from": "2024-01-01", "value": 500, "reference": "第十一条"}]}]
        }),
    ]
}

/// Defines and publishes the demo's policies (publishing computes this month's lists); computes
/// last month's lists too, and has the civil-affairs bureau's data officer confirm its two
/// last-month lists, export them for payment and record the payer's outcomes (a few accounts
/// closed). Returns how many policies and, for this month, how many people and enterprises
/// qualify in all.
pub async fn policies_demo(engines: &shuniu_server::Engines) -> Result<(usize, u64)> {
    let root = Actor::local_operator();
    let m = &engines.matching;
    let now = chrono::Utc::now() + chrono::Duration::hours(8);
    let period = now.format("%Y-%m").to_string();
    let last = (now.date_naive().with_day(1).and_then(|d| d.pred_opt()))
        .map(|d| d.format("%Y-%m").to_string())
        .unwrap_or_else(|| period.clone());
    let mut eligible = 0;
    let all = policies();
    let fail = |code: &str, e: shuniu_matching::MatchingError| {
        use shuniu_types::Classified;
        let p = e.problem();
        anyhow::anyhow!("{code}: {} {:?} [{}]", p.message_en, p.fields, p.code)
    };
    for p in &all {
        let policy: PolicyInput = serde_json::from_value(p.clone())?;
        let code = policy.code.as_str();
        m.save(&root, &policy).await.map_err(|e| fail(code, e))?;
        m.submit(&root, code).await.map_err(|e| fail(code, e))?;
        m.review(&root, code, true, "示例政策 / demo policy")
            .await
            .map_err(|e| fail(code, e))?;
        eligible += m
            .lists(&root, code)
            .await
            .map_err(|e| fail(code, e))?
            .iter()
            .find(|l| l.list.period == period)
            .map_or(0, |l| l.list.eligible as u64);
        m.compute_list(&root, code, &last)
            .await
            .map_err(|e| fail(code, e))?;
    }
    let officer = Actor {
        principal: "mz.officer".into(),
        display_name: "民政局数据管理员".into(),
        role: shuniu_types::Role::DataOfficer,
        department: "370200MZ".into(),
    };
    for code in ["POL-GAOLING", "POL-BAISUI"] {
        m.confirm_list(&officer, code, &last)
            .await
            .map_err(|e| fail(code, e))?;
        let (_, lines) = m
            .payment_file(&officer, code, &last)
            .await
            .map_err(|e| fail(code, e))?;
        let outcomes: Vec<_> = lines
            .iter()
            .enumerate()
            .map(|(i, l)| shuniu_matching::lists::PaymentOutcome {
                subject: l.subject.clone(),
                // One in forty accounts turns out closed.
                state: if i % 40 == 7 { "failed" } else { "paid" }.into(),
                reference: format!("{code}-{last}-{:05}", i + 1),
                note: if i % 40 == 7 {
                    "账户已销户 / account closed".into()
                } else {
                    String::new()
                },
            })
            .collect();
        m.record_payments(&officer, code, &last, &outcomes)
            .await
            .map_err(|e| fail(code, e))?;
    }
    Ok((all.len(), eligible))
}
