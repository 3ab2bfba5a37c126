//! A service definition (一件事): the items of several departments a citizen or an enterprise
//! applies for once — their order (steps waiting for others run in parallel once those are
//! done; a step may apply only when the form says so), the form's fields and where each is
//! pre-filled from, the materials each item needs and how each is satisfied without paper
//! (an e-licence, a lookup in shared data with the applicant's consent, or an upload), and each
//! step's deadline in working days. Or a case opened by an event: a new row of a resource (a
//! death registration) opens a case for the person it names, nobody applying.
//!
//! The order is a directed acyclic graph of steps (`after`): BPMN's tasks, parallel gateways
//! (a step after several waits for all of them) and exclusive gateways (a step with `when`
//! is skipped, and counts as done, when its condition does not hold) map onto it one to one
//! (`bpmn.rs`).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use shuniu_types::FieldError;

/// Who a service is for, and what starts a case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Trigger {
    /// A person (ID number) or an enterprise (credit code) applies.
    Application { applicant: Applicant },
    /// Each new row of `resource` opens a case for the person its `key` item names (公民身故:
    /// the civil-affairs death registrations).
    Event { resource: String, key: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Applicant {
    Person,
    Enterprise,
}

/// A field of the application form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FormField {
    pub name: String,
    pub label: String,
    #[serde(default)]
    pub required: bool,
    /// The base-library item it is pre-filled from (`name`, `address`), for the applicant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefill: Option<String>,
    /// The values it may take, when it is a choice.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<String>,
}

/// How a material is satisfied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum MaterialSource {
    /// The applicant's e-licence of this type (免证办).
    Licence { licence_type: String },
    /// A lookup in a shared resource, with the applicant's consent (数据代替材料).
    Lookup { resource: String },
    /// Only an upload will do.
    Upload,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Material {
    pub code: String,
    pub name: String,
    #[serde(flatten)]
    pub source: MaterialSource,
}

/// One department's item in the service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub id: String,
    pub name: String,
    /// The department that handles it (organization code).
    pub department: String,
    /// Steps it waits for, all of them (done or skipped).
    #[serde(default)]
    pub after: Vec<String>,
    /// Applies only when this holds over the form (`field = 'value'`, `field != 'value'`,
    /// `field in ('a', 'b')`); skipped otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    /// Working days from the step becoming ready to its deadline.
    pub deadline_days: u32,
    /// Done by the hub itself, through the outbox (`record`, `notify`), not by an officer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automatic: Option<String>,
    /// What undoes it when a later step fails for good (a registration withdrawn).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compensation: Option<String>,
    /// The materials it needs (codes).
    #[serde(default)]
    pub materials: Vec<String>,
    /// The e-licence its approval issues (出证): the result the applicant receives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issues: Option<Issue>,
}

/// A step's result issued as an e-licence, from the issuing department's data: the licence
/// engine signs it once the department's row for the holder is in the hub.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Issue {
    /// The licence type (GB/T 36902 code).
    pub licence_type: String,
    /// Whose licence it is.
    #[serde(default)]
    pub holder: ResultHolder,
}

/// Who holds the licence a step issues.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResultHolder {
    /// The applicant (or the person an event names).
    #[default]
    Applicant,
    /// Someone the step's decision names: the enterprise a registration created (its credit
    /// code), the newborn a birth registration recorded (its ID number).
    Decision,
}

/// What applying took before the service joined the items up, for its statistics
/// (减材料、减环节、减时间、减跑动).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Before {
    pub materials: u32,
    pub visits: u32,
    pub days: u32,
    pub steps: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceDefinition {
    /// SVC-CHUSHENG
    pub code: String,
    /// 出生一件事
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub trigger: Trigger,
    #[serde(default)]
    pub fields: Vec<FormField>,
    #[serde(default)]
    pub materials: Vec<Material>,
    pub steps: Vec<Step>,
    /// The promised time for the whole case, in working days (承诺时限).
    pub deadline_days: u32,
    #[serde(default)]
    pub before: Before,
}

/// A step's condition, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum When {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
}

fn unquote(v: &str) -> String {
    v.trim()
        .trim_matches(|c| matches!(c, '\'' | '"' | '“' | '”'))
        .to_string()
}

impl When {
    pub fn parse(text: &str) -> Option<When> {
        let t = text.trim();
        if let Some((f, v)) = t.split_once("!=").or_else(|| t.split_once('≠')) {
            return Some(When::NotEquals(f.trim().to_string(), unquote(v)));
        }
        if let Some((f, v)) = t.split_once('=') {
            return Some(When::Equals(f.trim().to_string(), unquote(v)));
        }
        let lower = t.to_ascii_lowercase();
        let at = lower.find(" in ")?;
        let list = t[at + 4..].trim();
        let list = list.strip_prefix('(')?.strip_suffix(')')?;
        Some(When::In(
            t[..at].trim().to_string(),
            list.split([',', '，', '、']).map(unquote).collect(),
        ))
    }

    pub fn field(&self) -> &str {
        match self {
            When::Equals(f, _) | When::NotEquals(f, _) | When::In(f, _) => f,
        }
    }

    pub fn holds(&self, form: &BTreeMap<String, String>) -> bool {
        let value = form.get(self.field()).map(String::as_str).unwrap_or("");
        match self {
            When::Equals(_, v) => value == v,
            When::NotEquals(_, v) => value != v,
            When::In(_, vs) => vs.iter().any(|v| v == value),
        }
    }
}

fn code_ok(code: &str) -> bool {
    (3..=40).contains(&code.len())
        && code.starts_with(|c: char| c.is_ascii_uppercase())
        && code
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-')
}

fn name_ok(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id.starts_with(|c: char| c.is_ascii_alphabetic())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl ServiceDefinition {
    /// Every problem at once, each under its field (`steps[2].after`).
    pub fn check(&self) -> Result<(), Vec<FieldError>> {
        let mut p = Vec::new();
        let mut bad = |field: String, code: &'static str, zh: String, en: String| {
            p.push(FieldError::new(field, code, zh, en));
        };
        if !code_ok(&self.code) {
            bad(
                "code".into(),
                "SERVICE_CODE",
                "编码须为 3–40 位大写字母、数字或连字符，以字母开头".into(),
                "the code is 3–40 upper-case letters, digits or hyphens, starting with a letter"
                    .into(),
            );
        }
        if self.name.trim().is_empty() {
            bad(
                "name".into(),
                "REQUIRED",
                "请填写事项名称".into(),
                "give the service a name".into(),
            );
        }
        if self.deadline_days == 0 {
            bad(
                "deadline_days".into(),
                "SERVICE_DEADLINE",
                "承诺时限至少 1 个工作日".into(),
                "the promised time is at least one working day".into(),
            );
        }
        if self.steps.is_empty() {
            bad(
                "steps".into(),
                "SERVICE_NO_STEPS",
                "至少需要一个办理环节".into(),
                "a service needs at least one step".into(),
            );
        }
        let mut fields = BTreeSet::new();
        for (i, f) in self.fields.iter().enumerate() {
            if !name_ok(&f.name) || !fields.insert(f.name.as_str()) {
                bad(
                    format!("fields[{i}].name"),
                    "SERVICE_FIELD",
                    format!("字段名“{}”无效或重复", f.name),
                    format!("the field name {:?} is not valid or repeats", f.name),
                );
            }
        }
        let materials: BTreeSet<&str> = self.materials.iter().map(|m| m.code.as_str()).collect();
        if materials.len() != self.materials.len() {
            bad(
                "materials".into(),
                "SERVICE_MATERIAL",
                "材料编码重复".into(),
                "a material code repeats".into(),
            );
        }
        let ids: BTreeSet<&str> = self.steps.iter().map(|s| s.id.as_str()).collect();
        if ids.len() != self.steps.len() {
            bad(
                "steps".into(),
                "SERVICE_STEP_ID",
                "环节编号重复".into(),
                "a step id repeats".into(),
            );
        }
        for (i, s) in self.steps.iter().enumerate() {
            if !name_ok(&s.id) {
                bad(
                    format!("steps[{i}].id"),
                    "SERVICE_STEP_ID",
                    format!("环节编号“{}”无效", s.id),
                    format!("the step id {:?} is not valid", s.id),
                );
            }
            if s.department.trim().is_empty() {
                bad(
                    format!("steps[{i}].department"),
                    "REQUIRED",
                    "请指定办理部门".into(),
                    "name the department that handles the step".into(),
                );
            }
            if s.deadline_days == 0 {
                bad(
                    format!("steps[{i}].deadline_days"),
                    "SERVICE_DEADLINE",
                    "办理时限至少 1 个工作日".into(),
                    "a step's deadline is at least one working day".into(),
                );
            }
            for a in &s.after {
                if !ids.contains(a.as_str()) || a == &s.id {
                    bad(
                        format!("steps[{i}].after"),
                        "SERVICE_STEP_UNKNOWN",
                        format!("前置环节“{a}”不存在"),
                        format!("the step it waits for, {a:?}, does not exist"),
                    );
                }
            }
            if let Some(w) = &s.when {
                match When::parse(w) {
                    Some(w) if fields.contains(w.field()) => {}
                    _ => bad(
                        format!("steps[{i}].when"),
                        "SERVICE_CONDITION",
                        format!(
                            "条件“{w}”无法识别，应为 字段 = '值'、字段 != '值' 或 字段 in ('值', …)"
                        ),
                        format!(
                            "cannot read the condition {w:?}: use field = 'v', field != 'v' or field in ('a', 'b') over a form field"
                        ),
                    ),
                }
            }
            for m in &s.materials {
                if !materials.contains(m.as_str()) {
                    bad(
                        format!("steps[{i}].materials"),
                        "SERVICE_MATERIAL",
                        format!("材料“{m}”未定义"),
                        format!("the material {m:?} is not defined"),
                    );
                }
            }
            if let Some(issue) = &s.issues {
                if issue.licence_type.trim().is_empty() {
                    bad(
                        format!("steps[{i}].issues.licence_type"),
                        "REQUIRED",
                        "请指定出证的证照类型".into(),
                        "name the licence type the step issues".into(),
                    );
                }
                if s.automatic.is_some() {
                    bad(
                        format!("steps[{i}].issues"),
                        "SERVICE_ISSUE_AUTOMATIC",
                        "出证须由部门审批环节完成，自动环节不能出证".into(),
                        "a licence is issued by a department's decision, not by an automatic step"
                            .into(),
                    );
                }
            }
            if let Some(h) = s
                .automatic
                .iter()
                .chain(&s.compensation)
                .find(|h| crate::engine::handler_of(h).is_none())
            {
                bad(
                    format!("steps[{i}].automatic"),
                    "SERVICE_HANDLER",
                    format!("自动处理“{h}”无法识别，应为 record 或 push 地址"),
                    format!("cannot read the handler {h:?}: use record, or push with an address"),
                );
            }
        }
        if p.is_empty() && self.order().is_none() {
            p.push(FieldError::new(
                "steps",
                "SERVICE_CYCLE",
                "环节之间存在循环等待",
                "the steps wait for each other in a cycle",
            ));
        }
        if p.is_empty() { Ok(()) } else { Err(p) }
    }

    /// The form's values with their fields' labels, in the form's order.
    pub fn labelled(&self, form: &BTreeMap<String, String>) -> Vec<(String, String)> {
        self.fields
            .iter()
            .filter_map(|f| form.get(&f.name).map(|v| (f.label.clone(), v.clone())))
            .collect()
    }

    /// The steps in an order where each comes after those it waits for (`None`: a cycle).
    pub fn order(&self) -> Option<Vec<&Step>> {
        let mut done: BTreeSet<&str> = BTreeSet::new();
        let mut out = Vec::new();
        while out.len() < self.steps.len() {
            let next: Vec<&Step> = self
                .steps
                .iter()
                .filter(|s| !done.contains(s.id.as_str()))
                .filter(|s| s.after.iter().all(|a| done.contains(a.as_str())))
                .collect();
            if next.is_empty() {
                return None;
            }
            for s in next {
                done.insert(&s.id);
                out.push(s);
            }
        }
        Some(out)
    }

    /// How far each step is from the start: the longest chain of steps before it.
    pub fn depths(&self) -> BTreeMap<&str, usize> {
        let mut depth: BTreeMap<&str, usize> = BTreeMap::new();
        for s in self.order().unwrap_or_default() {
            let d = s
                .after
                .iter()
                .filter_map(|a| depth.get(a.as_str()))
                .map(|d| d + 1)
                .max()
                .unwrap_or(0);
            depth.insert(&s.id, d);
        }
        depth
    }

    pub fn step(&self, id: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.id == id)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn birth() -> ServiceDefinition {
        serde_json::from_value(serde_json::json!({
            "code": "SVC-CHUSHENG", "name": "出生一件事", "deadline_days": 10,
            "trigger": {"kind": "application", "applicant": "person"},
            "fields": [
                {"name": "child_name", "label": "新生儿姓名", "required": true},
                {"name": "insured", "label": "是否参加医保", "choices": ["是", "否"]}
            ],
            "materials": [
                {"code": "birth_cert", "name": "出生医学证明", "by": "lookup", "resource": "出生医学证明信息"},
                {"code": "parent_id", "name": "父母居民身份证", "by": "licence", "licence_type": "ID-CARD"}
            ],
            "steps": [
                {"id": "certificate", "name": "出生医学证明", "department": "370200WJ", "deadline_days": 2, "materials": ["birth_cert"]},
                {"id": "hukou", "name": "户口登记", "department": "370200GA", "deadline_days": 3, "after": ["certificate"], "materials": ["parent_id"]},
                {"id": "insurance", "name": "医保参保登记", "department": "370200YB", "deadline_days": 3, "after": ["hukou"], "when": "insured = '是'"},
                {"id": "card", "name": "社保卡申领", "department": "370200RS", "deadline_days": 5, "after": ["hukou", "insurance"]}
            ]
        }))
        .expect("definition")
    }

    #[test]
    fn a_definition_is_checked_whole() {
        assert_eq!(birth().check(), Ok(()));
        let mut d = birth();
        d.steps[1].after = vec!["nowhere".into()];
        d.steps[2].when = Some("unknown_field = 'x'".into());
        d.steps[3].deadline_days = 0;
        d.steps[0].materials = vec!["nothing".into()];
        let codes: Vec<(String, String)> = d
            .check()
            .unwrap_err()
            .into_iter()
            .map(|f| (f.field, f.code.to_string()))
            .collect();
        assert_eq!(
            codes,
            [
                ("steps[0].materials", "SERVICE_MATERIAL"),
                ("steps[1].after", "SERVICE_STEP_UNKNOWN"),
                ("steps[2].when", "SERVICE_CONDITION"),
                ("steps[3].deadline_days", "SERVICE_DEADLINE"),
            ]
            .map(|(a, b)| (a.to_string(), b.to_string()))
        );
    }

    #[test]
    fn a_cycle_is_refused_and_order_respects_waiting() {
        let d = birth();
        let order: Vec<&str> = d
            .order()
            .expect("order")
            .iter()
            .map(|s| s.id.as_str())
            .collect();
        assert_eq!(order, ["certificate", "hukou", "insurance", "card"]);
        assert_eq!(d.depths()["card"], 3);
        let mut c = birth();
        c.steps[0].after = vec!["card".into()];
        assert_eq!(c.check().unwrap_err()[0].code, "SERVICE_CYCLE");
    }

    #[test]
    fn conditions_read_as_officers_write_them() {
        let form: BTreeMap<String, String> = [("insured".to_string(), "是".to_string())].into();
        assert!(When::parse("insured = '是'").expect("w").holds(&form));
        assert!(!When::parse("insured != “是”").expect("w").holds(&form));
        assert!(
            When::parse("insured in ('否', '是')")
                .expect("w")
                .holds(&form)
        );
        assert!(When::parse("insured").is_none());
    }
}
