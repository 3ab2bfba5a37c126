//! One number, one source (一数一源、多源校核): the hub designates which resource is the
//! authoritative source of an attribute (e.g. a person's registered address comes from 公安's
//! household register); every other dataset that holds the same attribute for the same key
//! is compared with it, and conflicts are reported and ticketed to that dataset's provider.

use serde::{Deserialize, Serialize};
use shuniu_audit::{Entry, Kind};
use shuniu_policy::{Action, Target, decide};
use shuniu_store::{AuthoritativeSourceRow, ResourceRecord, TicketFilter, TicketRow};
use shuniu_types::{Actor, SemanticType};

use crate::tickets::{TICKET_WORKING_DAYS, deadline};
use crate::{Quality, QualityError, Result, new_id};
use shuniu_types::states::TicketState;

/// A designation.
#[derive(Debug, Clone, Deserialize)]
pub struct SourceInput {
    /// The attribute, named as the column that holds it (e.g. `address`).
    pub attribute: String,
    #[serde(default)]
    pub label: String,
    /// The semantic type of the key that identifies the subject: `id_number` or `credit_code`.
    pub key_type: String,
    /// The authoritative resource.
    pub resource: String,
    /// Its column holding the attribute; the attribute's name by default.
    #[serde(default)]
    pub column: Option<String>,
}

/// One disagreeing record.
#[derive(Debug, Clone, Serialize)]
pub struct Conflict {
    pub key: String,
    pub value: Option<String>,
    pub authoritative: Option<String>,
}

/// What comparing one dataset with the authoritative source found.
#[derive(Debug, Clone, Serialize)]
pub struct ConflictReport {
    pub attribute: String,
    pub authoritative: String,
    pub resource: String,
    pub name: String,
    pub provider: String,
    /// Records present in both, with a value on this side.
    pub compared: u64,
    pub conflicts: u64,
    pub samples: Vec<Conflict>,
    pub ticket: Option<String>,
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

fn key_column(rec: &ResourceRecord, key_type: SemanticType) -> Option<String> {
    let items = &rec.spec.data_items;
    items
        .iter()
        .find(|i| i.semantic_type == key_type && i.is_key)
        .or_else(|| items.iter().find(|i| i.semantic_type == key_type))
        .map(|i| i.name.clone())
}

impl Quality {
    pub async fn sources(&self, actor: &Actor) -> Result<Vec<AuthoritativeSourceRow>> {
        decide(actor, Action::ReadQuality, Target::Hub).map_err(QualityError::Denied)?;
        Ok(self.store.authoritative_sources().await?)
    }

    /// Designates (or re-designates) the authoritative source of an attribute.
    pub async fn designate_source(
        &self,
        actor: &Actor,
        input: SourceInput,
    ) -> Result<AuthoritativeSourceRow> {
        decide(actor, Action::DesignateSource, Target::Hub).map_err(QualityError::Denied)?;
        let rec = self.catalog.get(actor, &input.resource).await?;
        let key_type = SemanticType::parse_field("key_type", &input.key_type)
            .ok()
            .filter(|k| matches!(k, SemanticType::IdNumber | SemanticType::CreditCode))
            .ok_or_else(|| {
                QualityError::invalid(
                    "SOURCE_KEY_TYPE",
                    "主键类型只能是 id_number（身份证号）或 credit_code（统一社会信用代码）",
                    "key_type is id_number or credit_code",
                )
            })?;
        let attribute = input.attribute.trim().to_string();
        let column = input
            .column
            .clone()
            .filter(|c| !c.trim().is_empty())
            .unwrap_or_else(|| attribute.clone());
        if !rec.spec.data_items.iter().any(|i| i.name == column) {
            return Err(QualityError::invalid(
                "SOURCE_COLUMN_UNKNOWN",
                format!("资源 {} 没有信息项 “{column}”", rec.code),
                format!("{} has no data item “{column}”", rec.code),
            ));
        }
        let key = key_column(&rec, key_type).ok_or_else(|| {
            QualityError::invalid(
                "SOURCE_KEY_MISSING",
                format!(
                    "资源 {} 没有语义类型为 {} 的信息项",
                    rec.code,
                    key_type.zh()
                ),
                format!(
                    "{} has no data item of semantic type {}",
                    rec.code,
                    key_type.en()
                ),
            )
        })?;
        let label = if input.label.trim().is_empty() {
            rec.spec
                .data_items
                .iter()
                .find(|i| i.name == column)
                .map(|i| i.label.clone())
                .unwrap_or_default()
        } else {
            input.label.trim().to_string()
        };
        let row = AuthoritativeSourceRow {
            attribute,
            label,
            key_type: key_type.code().to_string(),
            resource_code: rec.code.clone(),
            column_name: column,
            key_column: key,
            designated_by: actor.principal.clone(),
            designated_at: shuniu_store::now(),
        };
        let mut tx = self.store.begin().await?;
        tx.put_authoritative_source(&row).await?;
        tx.commit().await?;
        self.audit
            .record(
                Entry::new(Kind::Admin, "quality.source.designate", actor)
                    .resource(&rec.code, &rec.spec.provider)
                    .target(&row.attribute),
            )
            .await?;
        Ok(row)
    }

    /// Cross-checks every dataset holding a designated attribute against its source (the hub,
    /// on demand), optionally one attribute only.
    pub async fn cross_check(
        &self,
        actor: &Actor,
        attribute: Option<&str>,
    ) -> Result<Vec<ConflictReport>> {
        decide(actor, Action::DesignateSource, Target::Hub).map_err(QualityError::Denied)?;
        self.run_cross_checks(attribute, None, &actor.principal, &actor.department)
            .await
    }

    /// After a load of `code`: the comparisons that involve it.
    pub async fn cross_check_resource(
        &self,
        code: &str,
        principal: &str,
        department: &str,
    ) -> Result<Vec<ConflictReport>> {
        self.run_cross_checks(None, Some(code), principal, department)
            .await
    }

    async fn run_cross_checks(
        &self,
        attribute: Option<&str>,
        involving: Option<&str>,
        principal: &str,
        department: &str,
    ) -> Result<Vec<ConflictReport>> {
        let sources = self.store.authoritative_sources().await?;
        // Base libraries take designated attributes from their sources by construction:
        // comparing them with those sources finds nothing a source's own check does not.
        let libraries: std::collections::BTreeSet<String> = self
            .store
            .base_libraries()
            .await?
            .into_iter()
            .map(|l| l.code)
            .collect();
        if involving.is_some_and(|c| libraries.contains(c)) {
            return Ok(Vec::new());
        }
        let with_data: Vec<String> = self
            .store
            .latest_versions()
            .await?
            .into_iter()
            .map(|(c, _, _)| c)
            .collect();
        let recs = self.store.resources_by_code(&with_data).await?;
        let mut out = Vec::new();
        for src in sources {
            if attribute.is_some_and(|a| a != src.attribute) {
                continue;
            }
            if !with_data.contains(&src.resource_code) {
                continue;
            }
            let Ok(key_type) = SemanticType::parse_field("key_type", &src.key_type) else {
                continue;
            };
            for rec in &recs {
                if rec.code == src.resource_code
                    || libraries.contains(&rec.code)
                    || rec.status != shuniu_types::ResourceStatus::Published
                    || !rec
                        .spec
                        .data_items
                        .iter()
                        .any(|i| i.name == src.column_name)
                {
                    continue;
                }
                if involving.is_some_and(|c| c != rec.code && c != src.resource_code) {
                    continue;
                }
                let Some(key) = key_column(rec, key_type) else {
                    continue;
                };
                out.push(self.compare(&src, rec, &key, principal, department).await?);
            }
        }
        Ok(out)
    }

    async fn compare(
        &self,
        src: &AuthoritativeSourceRow,
        rec: &ResourceRecord,
        key: &str,
        principal: &str,
        department: &str,
    ) -> Result<ConflictReport> {
        let tables = vec![rec.code.clone(), src.resource_code.clone()];
        // The source keyed by its key; one value per key (a register has one).
        let joined = format!(
            "FROM {o} o JOIN (SELECT {ak} AS k, MIN(CAST({ac} AS VARCHAR)) AS av FROM {a} GROUP BY {ak}) s
               ON CAST(o.{ok} AS VARCHAR) = CAST(s.k AS VARCHAR)
             WHERE o.{oc} IS NOT NULL",
            o = quote(&rec.code),
            a = quote(&src.resource_code),
            ak = quote(&src.key_column),
            ac = quote(&src.column_name),
            ok = quote(key),
            oc = quote(&src.column_name),
        );
        let differs = format!(
            "(s.av IS NULL OR trim(CAST(o.{oc} AS VARCHAR)) <> trim(s.av))",
            oc = quote(&src.column_name)
        );
        let counts = self
            .lake
            .sql(
                tables.clone(),
                &format!(
                    "SELECT CAST(count(*) AS BIGINT) AS compared,
                            CAST(COALESCE(sum(CASE WHEN {differs} THEN 1 ELSE 0 END), 0) AS BIGINT) AS conflicts
                     {joined}"
                ),
                1,
            )
            .await?;
        let row = counts.to_strings().into_iter().next().unwrap_or_default();
        let num = |i: usize| -> u64 {
            row.get(i)
                .cloned()
                .flatten()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0)
        };
        let (compared, conflicts) = (num(0), num(1));
        let samples = if conflicts > 0 {
            self.lake
                .sql(
                    tables,
                    &format!(
                        "SELECT CAST(o.{ok} AS VARCHAR), CAST(o.{oc} AS VARCHAR), s.av {joined} AND {differs}
                         ORDER BY 1 LIMIT 10",
                        ok = quote(key),
                        oc = quote(&src.column_name)
                    ),
                    10,
                )
                .await?
                .to_strings()
                .into_iter()
                .map(|r| Conflict {
                    key: r.first().cloned().flatten().unwrap_or_default(),
                    value: r.get(1).cloned().flatten(),
                    authoritative: r.get(2).cloned().flatten(),
                })
                .collect()
        } else {
            Vec::new()
        };
        self.audit
            .record(
                Entry::by(Kind::Access, "quality.cross_check", principal, department)
                    .resource(&rec.code, &rec.spec.provider)
                    .target(format!("{}@{}", src.attribute, src.resource_code))
                    .fields(vec![key.to_string(), src.column_name.clone()])
                    .rows(compared),
            )
            .await?;
        let mut samples = samples;
        let authority = self.store.resource(&src.resource_code).await?;
        crate::conceal::conflicts(
            rec,
            key,
            &src.column_name,
            authority.as_ref(),
            &src.column_name,
            &mut samples,
        );
        let ticket = self
            .sync_conflict_ticket(
                src, rec, compared, conflicts, &samples, principal, department,
            )
            .await?;
        Ok(ConflictReport {
            attribute: src.attribute.clone(),
            authoritative: src.resource_code.clone(),
            resource: rec.code.clone(),
            name: rec.spec.name.clone(),
            provider: rec.spec.provider.clone(),
            compared,
            conflicts,
            samples,
            ticket,
        })
    }

    #[allow(clippy::too_many_arguments)]
    async fn sync_conflict_ticket(
        &self,
        src: &AuthoritativeSourceRow,
        rec: &ResourceRecord,
        compared: u64,
        conflicts: u64,
        samples: &[Conflict],
        principal: &str,
        department: &str,
    ) -> Result<Option<String>> {
        let rule = format!("source:{}", src.attribute);
        let open = self
            .store
            .tickets(&TicketFilter {
                resource: Some(rec.code.clone()),
                kind: Some("conflict".into()),
                open_only: true,
                limit: 100,
                ..Default::default()
            })
            .await?
            .into_iter()
            .find(|t| t.rule_id.as_deref() == Some(rule.as_str()));
        let detail = serde_json::json!({
            "attribute": src.attribute, "label": src.label,
            "authoritative": src.resource_code, "column": src.column_name,
            "compared": compared, "samples": samples,
        });
        let mut tx = self.store.begin().await?;
        let id = match (open, conflicts) {
            (Some(t), 0) => {
                tx.update_ticket(
                    &t.id,
                    TicketState::Closed,
                    Some(0),
                    Some(&detail),
                    principal,
                    department,
                    "auto_closed",
                    "与权威数据源一致 / agrees with the authoritative source",
                )
                .await?;
                None
            }
            (None, 0) => None,
            (Some(t), n) => {
                tx.update_ticket(
                    &t.id,
                    t.state,
                    Some(n as i64),
                    Some(&detail),
                    principal,
                    department,
                    "recheck",
                    &format!("{n} conflicts"),
                )
                .await?;
                Some(t.id)
            }
            (None, n) => {
                let now = shuniu_store::now();
                let t = TicketRow {
                    id: new_id("T"),
                    kind: "conflict".into(),
                    resource_code: rec.code.clone(),
                    provider: rec.spec.provider.clone(),
                    raised_by: "system".into(),
                    rule_id: Some(rule),
                    record_key: None,
                    column_name: Some(src.column_name.clone()),
                    state: TicketState::Open,
                    failed: n as i64,
                    summary_zh: format!(
                        "{}：{} 条记录的“{}”与权威数据源 {} 不一致",
                        rec.spec.name, n, src.label, src.resource_code
                    ),
                    summary_en: format!(
                        "{}: {n} records disagree with the authoritative source {} on {}",
                        rec.code, src.resource_code, src.attribute
                    ),
                    detail,
                    deadline: deadline(TICKET_WORKING_DAYS),
                    created_at: now.clone(),
                    updated_at: now,
                    closed_at: None,
                };
                tx.insert_ticket(&t).await?;
                tx.insert_ticket_event(
                    &t.id,
                    principal,
                    department,
                    "opened",
                    TicketState::Open,
                    &format!("{n} conflicts"),
                )
                .await?;
                Some(t.id)
            }
        };
        tx.commit().await?;
        Ok(id)
    }
}
