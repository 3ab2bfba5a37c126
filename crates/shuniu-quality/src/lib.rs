//! Governance and quality (数据治理): rules on every dataset, checked on Arrow batches as a load
//! streams in (and on demand over any stored version), a score per version, department and
//! city, problem tickets that reach the department that must fix them, and cross-checks of
//! every dataset against the designated authoritative source of an attribute (一数一源).
//!
//! ```text
//! aggregation ── batches ──▶ Checker (check.rs) ──results──▶ Quality::record_load_check
//!                                                              ├─ quality_runs (score)
//!                                                              └─ tickets: open / update / auto-close
//! ```
//!
//! Invariants:
//! - Every entry point asks `shuniu_policy::decide`; failing rows (personal data) are shown
//!   only to those who may read the data, and each showing is audited.
//! - A rule is compiled when saved; a rule that cannot compile is refused then, never at load.
//! - Tickets change state only through [`Quality::act_on_ticket`] or the automatic
//!   open/close of a check run, and every change is an event with who, what and why (可定责).

mod check;
mod conceal;
mod error;
pub mod rules;
mod score;
mod sources;
mod tickets;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use futures::StreamExt;
use serde::Serialize;
use shuniu_audit::{AuditLog, Entry, Kind};
use shuniu_catalog::Catalog;
use shuniu_lake::Lake;
use shuniu_policy::{Action, Target, decide};
use shuniu_store::{QualityRunRow, ResourceRecord, Store};
use shuniu_types::Actor;

pub use check::{Checker, RuleResult, SAMPLES, Sample, is_mobile};
pub use error::QualityError;
pub use rules::{
    CODE_TABLES, CompileContext, CompiledRule, Dimension, RULE_TYPES, RuleKind, RuleSpec,
};
pub use score::{DimensionScore, Score, score};
pub use sources::{Conflict, ConflictReport, SourceInput};
pub use tickets::{ObjectionInput, TicketAction, TicketView};

pub type Result<T, E = QualityError> = std::result::Result<T, E>;

/// Rows rejected while a load was parsed, which count against the dataset too.
#[derive(Debug, Clone, Default)]
pub struct LoadRejections {
    pub rows_read: u64,
    /// (rejection code, column) → rows.
    pub by_code_column: BTreeMap<(String, Option<String>), u64>,
    pub samples: Vec<Sample>,
}

/// A rule as the officer sees it: its specification, and whether it was derived or saved.
#[derive(Debug, Clone, Serialize)]
pub struct RuleView {
    #[serde(flatten)]
    pub spec: RuleSpec,
    pub dimension: Dimension,
    pub description_zh: String,
    pub description_en: String,
    /// True when the rule comes from a data item's declaration and nobody changed it.
    pub derived: bool,
}

/// The quality of one dataset version.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub resource: String,
    pub name: String,
    pub provider: String,
    pub version: i64,
    pub run_id: String,
    pub trigger: String,
    pub checked_at: String,
    pub rows: i64,
    pub score: f64,
    pub dimensions: BTreeMap<Dimension, DimensionScore>,
    pub rules: Vec<RuleResult>,
    /// Whether failing rows are included (only for those who may read the data).
    pub samples_included: bool,
    /// How many of the dataset's addresses the address library (标准地址库) holds once
    /// normalized, from the library's last build: `{library, column, addresses, parsed,
    /// matched, rate, built_at}`.
    pub address_match: Option<serde_json::Value>,
}

/// One dataset's line in the overview.
#[derive(Debug, Clone, Serialize)]
pub struct DatasetScore {
    pub resource: String,
    pub name: String,
    pub provider: String,
    pub version: i64,
    pub score: f64,
    pub checked_at: String,
    pub stale: bool,
    pub last_loaded: Option<String>,
    pub update_cycle: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct DepartmentScore {
    pub department: String,
    pub name: String,
    pub score: f64,
    pub datasets: usize,
    pub open_tickets: usize,
    pub overdue_tickets: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct WorstRule {
    pub resource: String,
    pub name: String,
    pub provider: String,
    pub rule: String,
    pub column: Option<String>,
    pub description_zh: String,
    pub description_en: String,
    pub failed: u64,
    pub checked: u64,
    pub pass_rate: f64,
}

/// The city's quality at a glance.
#[derive(Debug, Clone, Serialize)]
pub struct Overview {
    pub city_score: Option<f64>,
    pub datasets: Vec<DatasetScore>,
    pub departments: Vec<DepartmentScore>,
    pub worst_rules: Vec<WorstRule>,
    pub stale: Vec<DatasetScore>,
    /// (day, mean score of the runs that day).
    pub trend: Vec<(String, f64)>,
    pub open_tickets: usize,
    pub overdue_tickets: usize,
}

/// The quality engine.
#[derive(Clone)]
pub struct Quality {
    catalog: Catalog,
    store: Store,
    audit: AuditLog,
    lake: Lake,
}

fn new_id(prefix: &str) -> String {
    let mut b = [0u8; 4];
    let _ = getrandom::fill(&mut b);
    format!(
        "{prefix}{}-{}",
        chrono::Utc::now().format("%Y%m%d%H%M%S"),
        hex::encode(b)
    )
}

/// The synthetic rule under which rows rejected at load are reported.
pub const PARSE_RULE: &str = "load.parse";

impl Quality {
    pub fn new(store: Store, audit: AuditLog, catalog: Catalog, lake: Lake) -> Quality {
        Quality {
            store,
            audit,
            catalog,
            lake,
        }
    }

    async fn authorize(&self, actor: &Actor, code: &str, action: Action) -> Result<ResourceRecord> {
        let rec = self.catalog.get(actor, code).await?;
        decide(
            actor,
            action,
            Target::Resource {
                provider: &rec.spec.provider,
                status: rec.status,
            },
        )
        .map_err(QualityError::Denied)?;
        Ok(rec)
    }

    fn may_read_data(actor: &Actor, rec: &ResourceRecord) -> bool {
        decide(
            actor,
            Action::ReadData,
            Target::Resource {
                provider: &rec.spec.provider,
                status: rec.status,
            },
        )
        .is_ok()
    }

    async fn saved_rules(&self, code: &str) -> Result<Vec<RuleSpec>> {
        self.store
            .quality_rules(code)
            .await?
            .into_iter()
            .map(|r| {
                serde_json::from_value::<RuleSpec>(r.spec).map_err(|e| {
                    QualityError::Store(shuniu_store::StoreError::Corrupt(format!(
                        "quality rule {}: {e}",
                        r.rule_id
                    )))
                })
            })
            .collect()
    }

    async fn effective(&self, rec: &ResourceRecord) -> Result<(Vec<RuleSpec>, Vec<RuleSpec>)> {
        let derived = rules::derive_rules(
            &rec.spec.data_items,
            rec.spec.update_cycle.max_age_days().is_some(),
        );
        let saved = self.saved_rules(&rec.code).await?;
        Ok((derived.clone(), rules::effective_rules(derived, saved)))
    }

    /// The rules of a resource, derived and saved.
    pub async fn rules(&self, actor: &Actor, code: &str) -> Result<Vec<RuleView>> {
        let rec = self.authorize(actor, code, Action::ReadQuality).await?;
        let (derived, effective) = self.effective(&rec).await?;
        Ok(effective
            .into_iter()
            .map(|spec| {
                let (zh, en) = spec.kind.describe();
                RuleView {
                    derived: derived.contains(&spec),
                    dimension: spec.kind.dimension(),
                    description_zh: zh,
                    description_en: en,
                    spec,
                }
            })
            .collect())
    }

    /// What compiling needs: the reference sets of the rules that point at other datasets.
    async fn context(&self, specs: &[RuleSpec], load_sets: bool) -> Result<CompileContext> {
        let mut ctx = CompileContext::default();
        for spec in specs {
            let RuleKind::Reference { resource, column } = &spec.kind else {
                continue;
            };
            let Some(rec) = self.store.resource(resource).await? else {
                continue;
            };
            if self.lake.version(resource).await?.is_none() {
                continue;
            }
            ctx.known_resources.insert(
                resource.clone(),
                rec.spec.data_items.iter().map(|i| i.name.clone()).collect(),
            );
            if !load_sets || !rec.spec.data_items.iter().any(|i| &i.name == column) {
                continue;
            }
            let key = (resource.clone(), column.clone());
            if ctx.references.contains_key(&key) {
                continue;
            }
            let sql = format!(
                "SELECT DISTINCT CAST(\"{}\" AS VARCHAR) AS v FROM \"{}\" WHERE \"{}\" IS NOT NULL",
                column.replace('"', "\"\""),
                resource.replace('"', "\"\""),
                column.replace('"', "\"\"")
            );
            let (_, mut stream) = self.lake.sql_stream(vec![resource.clone()], &sql).await?;
            let mut set = HashSet::new();
            while let Some(b) = stream.next().await {
                let b = b?;
                if let Some(a) = b
                    .column(0)
                    .as_any()
                    .downcast_ref::<arrow::array::StringArray>()
                {
                    for v in a.iter().flatten() {
                        set.insert(v.trim().to_string());
                    }
                }
            }
            ctx.references.insert(key, Arc::new(set));
        }
        Ok(ctx)
    }

    /// Saves (adds, tunes or switches off) one rule after compiling it against the
    /// resource's data items; a rule that could not run is refused here.
    pub async fn save_rule(
        &self,
        actor: &Actor,
        code: &str,
        mut spec: RuleSpec,
    ) -> Result<RuleSpec> {
        let rec = self
            .authorize(actor, code, Action::ManageQualityRules)
            .await?;
        spec.origin = "officer".into();
        spec.id = spec.id.trim().to_string();
        let ctx = self.context(std::slice::from_ref(&spec), false).await?;
        rules::compile(&spec, &rec.spec.data_items, &ctx)?;
        let value = serde_json::to_value(&spec)
            .map_err(|e| QualityError::invalid("RULE_INVALID", e.to_string(), e.to_string()))?;
        let mut tx = self.store.begin().await?;
        tx.put_quality_rule(code, &spec.id, &value, &actor.principal)
            .await?;
        tx.commit().await?;
        self.audit
            .record(
                Entry::new(Kind::Admin, "quality.rule.save", actor)
                    .resource(code, &rec.spec.provider)
                    .target(&spec.id)
                    .detail(value.to_string()),
            )
            .await?;
        Ok(spec)
    }

    /// Removes a saved rule; a derived rule it overrode applies again.
    pub async fn delete_rule(&self, actor: &Actor, code: &str, rule_id: &str) -> Result<()> {
        let rec = self
            .authorize(actor, code, Action::ManageQualityRules)
            .await?;
        let mut tx = self.store.begin().await?;
        let gone = tx.delete_quality_rule(code, rule_id).await?;
        tx.commit().await?;
        if !gone {
            return Err(QualityError::NotFound(format!("rule {rule_id}")));
        }
        self.audit
            .record(
                Entry::new(Kind::Admin, "quality.rule.delete", actor)
                    .resource(code, &rec.spec.provider)
                    .target(rule_id),
            )
            .await?;
        Ok(())
    }

    async fn compiled(&self, rec: &ResourceRecord) -> Result<Vec<CompiledRule>> {
        let (_, effective) = self.effective(rec).await?;
        let ctx = self.context(&effective, true).await?;
        let mut out = Vec::new();
        for spec in effective.iter().filter(|s| s.enabled) {
            match rules::compile(spec, &rec.spec.data_items, &ctx) {
                Ok(c) => out.push(c),
                // The data items changed under a saved rule (an item renamed or removed).
                // The rule is skipped and said so, rather than failing the load.
                Err(e) => tracing::warn!(resource = %rec.code, rule = %spec.id, error = %e,
                    "quality rule no longer compiles; skipped"),
            }
        }
        Ok(out)
    }

    fn keys(rec: &ResourceRecord) -> Vec<String> {
        rec.spec
            .data_items
            .iter()
            .filter(|i| i.is_key)
            .map(|i| i.name.clone())
            .collect()
    }

    /// A checker for a load into `rec` (the load was authorized by its caller).
    pub async fn checker(&self, rec: &ResourceRecord) -> Result<Checker> {
        Ok(Checker::new(self.compiled(rec).await?, Self::keys(rec)))
    }

    /// Dataset-level results: freshness against the declared update cycle.
    async fn dataset_results(
        &self,
        rec: &ResourceRecord,
        rules: &[CompiledRule],
        loaded_at: Option<&str>,
    ) -> Result<Vec<RuleResult>> {
        let mut out = Vec::new();
        for r in rules
            .iter()
            .filter(|r| matches!(r.check, rules::Check::Freshness))
        {
            let mut res = RuleResult::new(r);
            res.checked = 1;
            if let Some(days) = rec.spec.update_cycle.max_age_days() {
                let at = match loaded_at {
                    Some(t) => Some(t.to_string()),
                    None => self.last_loaded(&rec.code).await?,
                };
                let age = at
                    .as_deref()
                    .and_then(|t| shuniu_store::parse_time(t).ok())
                    .map(|t| (chrono::Utc::now() - t).num_hours() as f64 / 24.0);
                if age.is_none_or(|a| a > f64::from(days)) {
                    res.failed = 1;
                    res.samples.push(Sample {
                        row: None,
                        key: None,
                        value: at,
                        reason: Some(format!(
                            "更新周期为{}，最近一次汇聚在 {:.1} 天前",
                            rec.spec.update_cycle.zh(),
                            age.unwrap_or(f64::INFINITY)
                        )),
                    });
                }
            }
            out.push(res);
        }
        Ok(out)
    }

    async fn last_loaded(&self, code: &str) -> Result<Option<String>> {
        let (_, loads) = self.store.loads(Some(code), 0, 20).await?;
        Ok(loads
            .into_iter()
            .filter(|l| l.status.committed())
            .filter_map(|l| l.finished_at)
            .max())
    }

    /// Records what a load's checker found (plus the rows its parser rejected), scores the
    /// new version and opens, updates or closes the resource's rule tickets.
    #[allow(clippy::too_many_arguments)]
    pub async fn record_load_check(
        &self,
        rec: &ResourceRecord,
        principal: &str,
        department: &str,
        load_id: &str,
        version: i64,
        rows: u64,
        mut results: Vec<RuleResult>,
        rejections: &LoadRejections,
    ) -> Result<QualityRunRow> {
        let compiled = self.compiled(rec).await?;
        // Rows rejected for a missing required value count against that item's rule.
        let mut other_rejected = 0u64;
        for ((code, column), n) in &rejections.by_code_column {
            let target = (code == "REQUIRED_MISSING")
                .then(|| {
                    results
                        .iter_mut()
                        .find(|r| r.kind == "required" && r.column.as_deref() == column.as_deref())
                })
                .flatten();
            match target {
                Some(r) => {
                    r.checked += n;
                    r.failed += n;
                }
                None => other_rejected += n,
            }
        }
        let mut parse = RuleResult {
            rule: PARSE_RULE.into(),
            column: None,
            kind: "parse".into(),
            dimension: Dimension::Validity,
            origin: "auto".into(),
            description_zh: "按信息项类型解析（汇聚时拒收的行）".into(),
            description_en: "parses as the data items' types (rows rejected at load)".into(),
            checked: rejections.rows_read,
            failed: other_rejected,
            duplicate_values: None,
            samples: rejections.samples.iter().take(SAMPLES).cloned().collect(),
        };
        if parse.checked < parse.failed {
            parse.checked = parse.failed;
        }
        results.push(parse);
        let now = shuniu_store::now();
        results.extend(self.dataset_results(rec, &compiled, Some(&now)).await?);
        self.finish_run(
            rec,
            principal,
            department,
            Some(load_id),
            "load",
            version,
            rows,
            results,
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn finish_run(
        &self,
        rec: &ResourceRecord,
        principal: &str,
        department: &str,
        load_id: Option<&str>,
        trigger: &str,
        version: i64,
        rows: u64,
        mut results: Vec<RuleResult>,
    ) -> Result<QualityRunRow> {
        conceal::results(rec, &mut results);
        let s = score(&results);
        let run = QualityRunRow {
            id: new_id("Q"),
            resource_code: rec.code.clone(),
            provider: rec.spec.provider.clone(),
            version,
            load_id: load_id.map(str::to_string),
            trigger: trigger.into(),
            principal: principal.into(),
            rows_checked: rows as i64,
            score: s.score,
            dimensions: serde_json::to_value(&s.dimensions).unwrap_or_default(),
            results: serde_json::to_value(&results).unwrap_or_default(),
            finished_at: shuniu_store::now(),
        };
        let mut tx = self.store.begin().await?;
        tx.insert_quality_run(&run).await?;
        tx.commit().await?;
        self.sync_rule_tickets(rec, &run, &results, principal, department)
            .await?;
        self.audit
            .record(
                Entry::by(Kind::Admin, "quality.check", principal, department)
                    .resource(&rec.code, &rec.spec.provider)
                    .target(format!("v{version}"))
                    .rows(rows)
                    .detail(format!(
                        "score {:.1}; {} rules, {} failing",
                        s.score,
                        results.len(),
                        results.iter().filter(|r| r.failed > 0).count()
                    )),
            )
            .await?;
        Ok(run)
    }

    /// Checks a stored version (the current one by default) on demand, streaming it.
    pub async fn check_version(
        &self,
        actor: &Actor,
        code: &str,
        version: Option<i64>,
    ) -> Result<Report> {
        let rec = self
            .authorize(actor, code, Action::ManageQualityRules)
            .await?;
        let current = self
            .lake
            .version(code)
            .await?
            .ok_or_else(|| QualityError::NotFound(format!("data of {code}")))?;
        let v = version.unwrap_or(current);
        if v < 0 || v > current {
            return Err(shuniu_lake::LakeError::NoSuchVersion {
                code: code.into(),
                version: v,
            }
            .into());
        }
        let (rows, mut results) = self.scan_version(&rec, v).await?;
        let compiled = self.compiled(&rec).await?;
        results.extend(self.dataset_results(&rec, &compiled, None).await?);
        let run = self
            .finish_run(
                &rec,
                &actor.principal,
                &actor.department,
                None,
                "on_demand",
                v,
                rows,
                results,
            )
            .await?;
        self.report_of(actor, &rec, run).await
    }

    /// Runs the resource's row rules over a stored version, streaming it batch by batch.
    /// The caller has authorized the access (an on-demand check, or the load that wrote
    /// the version when that load merged into earlier data).
    pub async fn scan_version(
        &self,
        rec: &ResourceRecord,
        version: i64,
    ) -> Result<(u64, Vec<RuleResult>)> {
        let mut checker = self.checker(rec).await?;
        let table = format!("{}@v{version}", rec.code).replace('"', "\"\"");
        let (_, mut stream) = self
            .lake
            .sql_stream(
                vec![rec.code.clone()],
                &format!("SELECT * FROM \"{table}\""),
            )
            .await?;
        while let Some(b) = stream.next().await {
            checker.check(&b?);
        }
        Ok((checker.rows(), checker.finish()))
    }

    async fn report_of(
        &self,
        actor: &Actor,
        rec: &ResourceRecord,
        run: QualityRunRow,
    ) -> Result<Report> {
        let mut results: Vec<RuleResult> =
            serde_json::from_value(run.results.clone()).unwrap_or_default();
        let current = self.lake.version(&rec.code).await?;
        // Timeliness is a property of now, not of the moment the check ran.
        if current == Some(run.version) {
            let compiled: Vec<CompiledRule> = results
                .iter()
                .filter(|r| r.kind == "freshness")
                .filter_map(|r| {
                    rules::compile(
                        &RuleSpec::auto(None, RuleKind::Freshness),
                        &[],
                        &CompileContext::default(),
                    )
                    .ok()
                    .map(|mut c| {
                        c.spec.id = r.rule.clone();
                        c
                    })
                })
                .collect();
            let fresh = self.dataset_results(rec, &compiled, None).await?;
            for f in fresh {
                if let Some(r) = results.iter_mut().find(|r| r.rule == f.rule) {
                    *r = f;
                }
            }
        }
        let s = score(&results);
        let samples_included = Self::may_read_data(actor, rec);
        if samples_included {
            let rows: u64 = results.iter().map(|r| r.samples.len() as u64).sum();
            if rows > 0 {
                self.audit
                    .record(
                        Entry::new(Kind::Access, "quality.samples", actor)
                            .resource(&rec.code, &rec.spec.provider)
                            .target(format!("v{}", run.version))
                            .rows(rows),
                    )
                    .await?;
            }
        } else {
            for r in &mut results {
                r.samples.clear();
            }
        }
        Ok(Report {
            resource: rec.code.clone(),
            name: rec.spec.name.clone(),
            provider: rec.spec.provider.clone(),
            version: run.version,
            run_id: run.id,
            trigger: run.trigger,
            checked_at: run.finished_at,
            rows: run.rows_checked,
            score: s.score,
            dimensions: s.dimensions,
            rules: results,
            samples_included,
            address_match: self.address_match(&rec.code).await?,
        })
    }

    /// The dataset's line in the address library's last build, if any.
    async fn address_match(&self, code: &str) -> Result<Option<serde_json::Value>> {
        let libraries = self.store.base_libraries().await?;
        let Some(lib) = libraries.iter().find(|l| l.kind == "address") else {
            return Ok(None);
        };
        Ok(lib.last_build["address_match"]
            .as_array()
            .and_then(|rows| rows.iter().find(|r| r["resource"] == code))
            .map(|r| {
                let mut r = r.clone();
                r["library"] = serde_json::json!(lib.code);
                r["built_at"] = serde_json::json!(lib.built_at);
                r
            }))
    }

    /// The latest check of a version (the newest version checked by default).
    pub async fn report(
        &self,
        actor: &Actor,
        code: &str,
        version: Option<i64>,
    ) -> Result<Option<Report>> {
        let rec = self.authorize(actor, code, Action::ReadQuality).await?;
        let runs = self.store.quality_runs(code, 200).await?;
        let run = match version {
            Some(v) => runs.into_iter().find(|r| r.version == v),
            None => runs
                .into_iter()
                .max_by(|a, b| (a.version, &a.finished_at).cmp(&(b.version, &b.finished_at))),
        };
        match run {
            Some(run) => Ok(Some(self.report_of(actor, &rec, run).await?)),
            None => Ok(None),
        }
    }

    /// Scores over versions, oldest first: (version, score, checked at, trigger).
    pub async fn trend(
        &self,
        actor: &Actor,
        code: &str,
    ) -> Result<Vec<(i64, f64, String, String)>> {
        self.authorize(actor, code, Action::ReadQuality).await?;
        let mut runs = self.store.quality_runs(code, 200).await?;
        runs.reverse();
        Ok(runs
            .into_iter()
            .map(|r| (r.version, r.score, r.finished_at, r.trigger))
            .collect())
    }

    /// The city's quality: datasets the actor may see, departments, worst rules, stale
    /// datasets and the trend of the last 30 days.
    pub async fn overview(&self, actor: &Actor) -> Result<Overview> {
        decide(actor, Action::ReadQuality, Target::Hub).map_err(QualityError::Denied)?;
        let runs = self.store.latest_quality_runs().await?;
        let codes: Vec<String> = runs.iter().map(|r| r.resource_code.clone()).collect();
        let recs: HashMap<String, ResourceRecord> = self
            .store
            .resources_by_code(&codes)
            .await?
            .into_iter()
            .map(|r| (r.code.clone(), r))
            .collect();
        let loaded: HashMap<String, String> = self
            .store
            .latest_versions()
            .await?
            .into_iter()
            .map(|(c, _, at)| (c, at))
            .collect();
        let mut datasets = Vec::new();
        let mut worst = Vec::new();
        for run in runs {
            let Some(rec) = recs.get(&run.resource_code) else {
                continue;
            };
            if decide(
                actor,
                Action::ReadQuality,
                Target::Resource {
                    provider: &rec.spec.provider,
                    status: rec.status,
                },
            )
            .is_err()
            {
                continue;
            }
            let mut results: Vec<RuleResult> =
                serde_json::from_value(run.results.clone()).unwrap_or_default();
            let last = loaded.get(&rec.code).cloned();
            let stale = match (rec.spec.update_cycle.max_age_days(), &last) {
                (Some(days), Some(t)) => shuniu_store::parse_time(t)
                    .map(|t| (chrono::Utc::now() - t).num_hours() as f64 / 24.0 > f64::from(days))
                    .unwrap_or(false),
                (Some(_), None) => true,
                _ => false,
            };
            for r in results.iter_mut().filter(|r| r.kind == "freshness") {
                r.failed = u64::from(stale);
            }
            let s = score(&results);
            for r in results
                .iter()
                .filter(|r| r.failed > 0 && r.kind != "freshness")
            {
                worst.push(WorstRule {
                    resource: rec.code.clone(),
                    name: rec.spec.name.clone(),
                    provider: rec.spec.provider.clone(),
                    rule: r.rule.clone(),
                    column: r.column.clone(),
                    description_zh: r.description_zh.clone(),
                    description_en: r.description_en.clone(),
                    failed: r.failed,
                    checked: r.checked,
                    pass_rate: r.pass_rate(),
                });
            }
            datasets.push(DatasetScore {
                resource: rec.code.clone(),
                name: rec.spec.name.clone(),
                provider: rec.spec.provider.clone(),
                version: run.version,
                score: s.score,
                checked_at: run.finished_at.clone(),
                stale,
                last_loaded: last,
                update_cycle: rec.spec.update_cycle.code().to_string(),
            });
        }
        worst.sort_by(|a, b| {
            a.pass_rate
                .total_cmp(&b.pass_rate)
                .then(b.failed.cmp(&a.failed))
        });
        worst.truncate(20);
        let names: HashMap<String, String> = self
            .store
            .departments()
            .await?
            .into_iter()
            .map(|d| (d.code, d.name))
            .collect();
        let open = self
            .store
            .tickets(&shuniu_store::TicketFilter {
                open_only: true,
                limit: 10_000,
                ..Default::default()
            })
            .await?;
        let now = shuniu_store::now();
        let mut by_dept: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for d in &datasets {
            by_dept.entry(d.provider.clone()).or_default().push(d.score);
        }
        let mut departments: Vec<DepartmentScore> = by_dept
            .into_iter()
            .map(|(dept, scores)| DepartmentScore {
                name: names.get(&dept).cloned().unwrap_or_else(|| dept.clone()),
                score: scores.iter().sum::<f64>() / scores.len() as f64,
                datasets: scores.len(),
                open_tickets: open.iter().filter(|t| t.provider == dept).count(),
                overdue_tickets: open
                    .iter()
                    .filter(|t| t.provider == dept && t.state.deadline_runs() && t.deadline < now)
                    .count(),
                department: dept,
            })
            .collect();
        departments.sort_by(|a, b| a.score.total_cmp(&b.score));
        let city_score = (!datasets.is_empty())
            .then(|| datasets.iter().map(|d| d.score).sum::<f64>() / datasets.len() as f64);
        let since = (chrono::Utc::now() - chrono::Duration::days(30)).to_rfc3339();
        let mut per_day: BTreeMap<String, (f64, u32)> = BTreeMap::new();
        let visible: HashSet<&str> = datasets.iter().map(|d| d.resource.as_str()).collect();
        for (code, _, at, s) in self.store.quality_scores_since(&since).await? {
            if visible.contains(code.as_str()) {
                let e = per_day.entry(at.chars().take(10).collect()).or_default();
                e.0 += s;
                e.1 += 1;
            }
        }
        let stale = datasets.iter().filter(|d| d.stale).cloned().collect();
        Ok(Overview {
            city_score,
            open_tickets: open.len(),
            overdue_tickets: open
                .iter()
                .filter(|t| t.state.deadline_runs() && t.deadline < now)
                .count(),
            datasets,
            departments,
            worst_rules: worst,
            stale,
            trend: per_day
                .into_iter()
                .map(|(d, (s, n))| (d, s / f64::from(n)))
                .collect(),
        })
    }
}
