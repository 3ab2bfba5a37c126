//! Why one person or enterprise does or does not qualify (资格说明): each condition with whether
//! it holds, the attribute values it read with the source and version each came from (the
//! library row's provenance), and the parameter values it used with their legal references.
//! Read with one query for one subject over the same plan the whole-library evaluation runs,
//! so the explanation and the list can never disagree.

use std::collections::BTreeMap;

use serde::Serialize;
use shuniu_store::ResourceRecord;
use shuniu_types::catalog::DataItem;
use shuniu_types::{CreditCode, FieldError, IdNumber, SemanticType};

use crate::error::{MatchingError, internal};
use crate::parameters::{DatedValue, ParamValue};
use crate::policy::{Join, Plan, PolicyInput, TargetKind};
use crate::rules::{Attribute, Compiled};

/// A subject named at the edge: an ID number for a policy for persons, a unified social credit
/// code for one for enterprises. Parsed once, then trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Person(IdNumber),
    Enterprise(CreditCode),
}

impl Subject {
    /// Parses `text` as the kind of key `target` is keyed by.
    pub fn parse(target: TargetKind, text: &str) -> Result<Subject, MatchingError> {
        let text = text.trim();
        let refused = |zh: &str, en: &str| {
            MatchingError::Fields(vec![FieldError::new("key", "POLICY_SUBJECT", zh, en)])
        };
        match target {
            TargetKind::Persons => text.parse::<IdNumber>().map(Subject::Person).map_err(|_| {
                refused(
                    "请填写有效的公民身份号码（GB 11643）",
                    "give a valid citizen ID number (GB 11643)",
                )
            }),
            TargetKind::Enterprises => CreditCode::try_from(text.to_string())
                .map(Subject::Enterprise)
                .map_err(|_| {
                    refused(
                        "请填写有效的统一社会信用代码（GB 32100）",
                        "give a valid unified social credit code (GB 32100)",
                    )
                }),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Subject::Person(p) => p.as_str(),
            Subject::Enterprise(c) => c.as_str(),
        }
    }
}

/// A value a condition or the amount read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TracedValue {
    pub label: String,
    /// The library item it comes from.
    pub item: String,
    pub value: Option<String>,
    /// Where the library took it: `{resource, version, loaded_at, authoritative}`.
    pub source: Option<serde_json::Value>,
}

/// A parameter value used, with the legal text behind it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TracedParameter {
    pub name: String,
    pub value: String,
    pub unit: String,
    /// The day this value is in force from.
    pub from: String,
    pub reference: String,
}

/// One condition as it was decided for the subject.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TracedCondition {
    pub rule: String,
    /// The article it comes from (第二条).
    pub reference: String,
    /// Whether it holds. A condition over a value the library does not hold does not hold.
    pub holds: bool,
    pub values: Vec<TracedValue>,
    pub parameters: Vec<TracedParameter>,
}

/// Why a subject does or does not qualify for a policy in a period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trace {
    pub policy: String,
    pub name: String,
    pub department: String,
    pub document: String,
    pub period: String,
    pub unit: String,
    /// The subject's key and name, masked by the catalog's rules.
    pub key: String,
    pub subject_name: Option<String>,
    /// Whether the library holds the subject at all.
    pub found: bool,
    /// Whether the policy is in force in the period.
    pub in_force: bool,
    pub eligible: bool,
    /// What the subject receives when eligible.
    pub amount: Option<f64>,
    pub conditions: Vec<TracedCondition>,
    /// What the amount read.
    pub amount_values: Vec<TracedValue>,
    pub amount_parameters: Vec<TracedParameter>,
    pub library: String,
    pub library_version: Option<i64>,
    /// The granted resources the rules read, each at the version read.
    pub joined: Vec<JoinedResource>,
}

/// A resource joined to the library for a policy, as a trace names it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JoinedResource {
    pub resource: String,
    pub name: String,
    pub provider: String,
    pub version: i64,
}

fn quoted(n: &str) -> String {
    format!("\"{}\"", n.replace('"', "\"\""))
}

/// The library's key item and the item that names its subjects.
pub(crate) fn subject_items(
    rec: &ResourceRecord,
) -> Result<(&DataItem, Option<&DataItem>), MatchingError> {
    let items = &rec.spec.data_items;
    let key = items
        .iter()
        .find(|i| i.is_key)
        .ok_or_else(|| internal(format!("library {} has no key item", rec.code)))?;
    let name = items.iter().find(|i| {
        i.semantic_type == SemanticType::PersonName
            || matches!(i.name.as_str(), "name" | "ent_name")
    });
    Ok((key, name))
}

fn parameter(p: &(String, DatedValue), policy: &PolicyInput) -> TracedParameter {
    let (name, v) = p;
    TracedParameter {
        name: name.clone(),
        value: match &v.value {
            ParamValue::Number(n) => format!("{n}"),
            ParamValue::Text(t) => t.clone(),
        },
        unit: policy
            .parameters
            .iter()
            .find(|x| &x.name == name)
            .map(|x| x.unit.clone())
            .unwrap_or_default(),
        from: v.from.to_string(),
        reference: v.reference.clone(),
    }
}

/// The query that reads one subject's decision: every condition, every attribute the plan
/// reads, the amount and the row's provenance.
pub(crate) struct TraceQuery {
    pub sql: String,
    /// The attributes read, in the query's column order (after the conditions).
    pub attributes: Vec<Attribute>,
}

pub(crate) fn query(
    rec: &ResourceRecord,
    plan: &Plan,
    attributes: &[Attribute],
    subject: &Subject,
) -> Result<TraceQuery, MatchingError> {
    let (key, name) = subject_items(rec)?;
    let mut read: Vec<Attribute> = Vec::new();
    for label in plan
        .conditions
        .iter()
        .chain(std::iter::once(&plan.amount))
        .flat_map(|c| c.attributes.iter())
    {
        if read.iter().any(|a| &a.label == label) {
            continue;
        }
        if let Some(a) = attributes.iter().find(|a| &a.label == label) {
            read.push(a.clone());
        }
    }
    let mut columns = vec![
        format!("CAST({} AS VARCHAR) AS k", quoted(&key.name)),
        name.map_or("CAST(NULL AS VARCHAR) AS n".to_string(), |i| {
            format!("CAST({} AS VARCHAR) AS n", quoted(&i.name))
        }),
        format!("CAST({} AS DOUBLE) AS a", plan.amount.sql),
        if rec.spec.data_items.iter().any(|i| i.name == "provenance") {
            "CAST(\"provenance\" AS VARCHAR) AS p".to_string()
        } else {
            "CAST(NULL AS VARCHAR) AS p".to_string()
        },
    ];
    for (i, c) in plan.conditions.iter().enumerate() {
        columns.push(format!("COALESCE(({}), false) AS c{i}", c.sql));
    }
    for (i, a) in read.iter().enumerate() {
        columns.push(format!("CAST({} AS VARCHAR) AS v{i}", a.sql));
    }
    let sql = format!(
        "SELECT {} FROM {} WHERE CAST({} AS VARCHAR) = '{}' LIMIT 1",
        columns.join(", "),
        plan.from(&rec.code),
        quoted(&key.name),
        subject.as_str().replace('\'', "''"),
    );
    Ok(TraceQuery {
        sql,
        attributes: read,
    })
}

/// Builds the trace from the query's one row (`row`: its columns as text, in query order);
/// `None` when the library does not hold the subject.
pub(crate) fn assemble(
    policy: &PolicyInput,
    rec: &ResourceRecord,
    plan: Option<&Plan>,
    q: Option<&TraceQuery>,
    row: Option<&[Option<String>]>,
    joined: &[(Join, i64)],
    period: &str,
) -> Result<Trace, MatchingError> {
    let (key_item, name_item) = subject_items(rec)?;
    let mut trace = Trace {
        policy: policy.code.clone(),
        name: policy.name.clone(),
        department: policy.department.clone(),
        document: policy.document.clone(),
        period: period.to_string(),
        unit: policy.unit.clone(),
        key: String::new(),
        subject_name: None,
        found: row.is_some(),
        in_force: plan.is_some(),
        eligible: false,
        amount: None,
        conditions: Vec::new(),
        amount_values: Vec::new(),
        amount_parameters: Vec::new(),
        library: rec.code.clone(),
        library_version: None,
        joined: Vec::new(),
    };
    let (Some(plan), Some(q), Some(row)) = (plan, q, row) else {
        return Ok(trace);
    };
    let cell = |i: usize| row.get(i).cloned().flatten();
    trace.key = cell(0)
        .and_then(|k| shuniu_policy::mask::apply(key_item.masking, &k, &[]))
        .unwrap_or_default();
    trace.subject_name = name_item
        .and_then(|i| cell(1).and_then(|n| shuniu_policy::mask::apply(i.masking, &n, &[])));
    let provenance: BTreeMap<String, serde_json::Value> = cell(3)
        .and_then(|p| serde_json::from_str(&p).ok())
        .unwrap_or_default();
    let first_value = 4 + plan.conditions.len();
    let values_of = |c: &Compiled| -> Vec<TracedValue> {
        c.attributes
            .iter()
            .filter_map(|label| {
                let i = q.attributes.iter().position(|a| &a.label == label)?;
                let a = &q.attributes[i];
                // A joined resource's value comes from that resource at the version read;
                // the library's from where the library took it.
                let source = if a.source.is_empty() {
                    provenance.get(&a.item).cloned()
                } else {
                    joined
                        .iter()
                        .find(|(j, _)| j.alias == a.source)
                        .map(|(j, v)| {
                            serde_json::json!({
                                "resource": j.resource,
                                "name": j.name,
                                "provider": j.provider,
                                "version": v,
                                "granted": true,
                            })
                        })
                };
                Some(TracedValue {
                    label: a.label.clone(),
                    item: a.item.clone(),
                    value: cell(first_value + i),
                    source,
                })
            })
            .collect()
    };
    for (i, (c, def)) in plan.conditions.iter().zip(&policy.conditions).enumerate() {
        trace.conditions.push(TracedCondition {
            rule: def.rule.clone(),
            reference: def.reference.clone(),
            holds: cell(4 + i).as_deref() == Some("true"),
            values: values_of(c),
            parameters: c.parameters.iter().map(|p| parameter(p, policy)).collect(),
        });
    }
    trace.eligible = trace.conditions.iter().all(|c| c.holds);
    trace.amount_values = values_of(&plan.amount);
    trace.amount_parameters = plan
        .amount
        .parameters
        .iter()
        .map(|p| parameter(p, policy))
        .collect();
    if trace.eligible {
        trace.amount = cell(2).and_then(|a| a.parse().ok());
    }
    Ok(trace)
}
