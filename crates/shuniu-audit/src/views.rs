//! What people read from the log: the hub operator's search, a department's view of what
//! concerns it, flows between departments, volumes and anomalies, and a citizen's own record.
//! Every read asks the policy module; all of it comes from the derived index.

use std::collections::BTreeMap;

use chrono::{Duration, FixedOffset, Utc};
use serde::Serialize;
use shuniu_policy::{Action, Denied, Target, decide, require_scope, scope};
use shuniu_store::{AuditFilter, AuditFlow, AuditIndexRow, AuditVolume, Store};
use shuniu_types::{Actor, CreditCode, IdNumber, Role};

use crate::entry::{Entry, Kind};
use crate::error::AuditError;
use crate::log::AuditLog;

#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    #[error("{}", .0.message_en)]
    Denied(Denied),
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error(transparent)]
    Store(#[from] shuniu_store::StoreError),
}

impl From<Denied> for ViewError {
    fn from(d: Denied) -> Self {
        ViewError::Denied(d)
    }
}

impl shuniu_types::Classified for ViewError {
    fn problem(&self) -> shuniu_types::Problem {
        match self {
            ViewError::Denied(d) => d.problem(),
            ViewError::Audit(e) => e.problem(),
            ViewError::Store(e) => e.problem(),
        }
    }
}

type Result<T> = std::result::Result<T, ViewError>;

/// An application far above its own baseline today.
#[derive(Debug, Clone, Serialize)]
pub struct Anomaly {
    pub principal: String,
    pub today: i64,
    /// Mean accesses per day over the previous days it was active (up to 7).
    pub baseline: f64,
    pub ratio: f64,
}

/// The flow-monitoring page's figures.
#[derive(Debug, Clone, Serialize)]
pub struct FlowReport {
    pub since: String,
    pub flows: Vec<AuditFlow>,
    pub by_resource: Vec<AuditVolume>,
    pub by_principal: Vec<AuditVolume>,
    pub channels: Vec<(String, i64)>,
    /// Share of successful accesses served through the unified data service (0–1).
    pub unified_share: f64,
    pub anomalies: Vec<Anomaly>,
}

/// One use of a person's data, as the citizen page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct PersonalUse {
    pub at: String,
    pub department: String,
    pub principal: String,
    pub action: String,
    pub resource: Option<String>,
    pub purpose: Option<String>,
    pub index: i64,
}

#[derive(Clone)]
pub struct Traceability {
    log: AuditLog,
    store: Store,
}

fn beijing_days_ago(days: i64) -> String {
    let tz = FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset");
    (Utc::now().with_timezone(&tz) - Duration::days(days))
        .format("%Y-%m-%dT00:00:00")
        .to_string()
}

/// Anomalies: principals whose accesses today exceed 3× their mean over the previous active
/// days (and at least 50 more), which catches a system suddenly harvesting a resource.
pub fn anomalies(by_principal: &[AuditVolume], today: &str) -> Vec<Anomaly> {
    let mut history: BTreeMap<&str, (i64, Vec<i64>)> = BTreeMap::new();
    for v in by_principal {
        let e = history.entry(v.key.as_str()).or_default();
        if v.day == today {
            e.0 += v.accesses;
        } else {
            e.1.push(v.accesses);
        }
    }
    let mut out: Vec<Anomaly> = history
        .into_iter()
        .filter_map(|(p, (today, past))| {
            if past.is_empty() {
                return None;
            }
            let baseline = past.iter().sum::<i64>() as f64 / past.len() as f64;
            let flagged = today as f64 > 3.0 * baseline && today as f64 - baseline >= 50.0;
            flagged.then(|| Anomaly {
                principal: p.to_string(),
                today,
                baseline,
                ratio: today as f64 / baseline.max(1.0),
            })
        })
        .collect();
    out.sort_by(|a, b| b.ratio.total_cmp(&a.ratio));
    out
}

/// Who a citizen is in the log: not a hub account; the subject says which person.
fn citizen() -> Actor {
    Actor {
        principal: "citizen".into(),
        display_name: String::new(),
        role: Role::Viewer,
        department: String::new(),
    }
}

/// A legal person on its enterprise's own page.
fn enterprise_visitor() -> Actor {
    Actor {
        principal: "enterprise".into(),
        display_name: String::new(),
        role: Role::Viewer,
        department: String::new(),
    }
}

impl Traceability {
    /// Records a legal person's sign-in to its enterprise's own page (identity checked
    /// upstream).
    pub async fn enterprise_signed_in(&self, enterprise: &CreditCode, how: &str) -> Result<()> {
        let subject = self.log.subject(enterprise.as_str());
        self.log
            .record(
                Entry::new(Kind::Auth, "enterprise.login", &enterprise_visitor())
                    .subjects(vec![subject])
                    .detail(how),
            )
            .await?;
        Ok(())
    }

    /// Records a citizen's sign-in to their own record (identity checked upstream).
    pub async fn citizen_signed_in(&self, person: &IdNumber, how: &str) -> Result<()> {
        let subject = self.log.subject(&person.to_string());
        self.log
            .record(
                Entry::new(Kind::Auth, "citizen.login", &citizen())
                    .subjects(vec![subject])
                    .detail(how),
            )
            .await?;
        Ok(())
    }

    pub fn new(log: AuditLog, store: Store) -> Traceability {
        Traceability { log, store }
    }

    pub fn log(&self) -> &AuditLog {
        &self.log
    }

    /// Lets the index catch up with what is already durable before a read: an officer who
    /// searches right after an access, or a citizen who looks right after a use, sees it.
    /// A lagging index (a bulk import being indexed) delays the read by at most two seconds
    /// and then answers from what is indexed.
    async fn caught_up(&self) {
        if !self
            .log
            .index_caught_up(std::time::Duration::from_secs(2))
            .await
        {
            tracing::debug!("audit index still catching up; answering from what it holds");
        }
    }

    /// Searches the index: the hub operator everything, a department officer what concerns
    /// the department (as consumer or provider).
    pub async fn search(
        &self,
        actor: &Actor,
        mut filter: AuditFilter,
    ) -> Result<Vec<AuditIndexRow>> {
        if let Some(department) = require_scope(actor, Action::ReadAudit)?.department() {
            filter.concerning = Some(department.to_string());
        }
        self.caught_up().await;
        Ok(self.store.audit_search(&filter).await?)
    }

    /// The entry at `index`, if the actor may see it.
    pub async fn entry(&self, actor: &Actor, index: u64) -> Result<Entry> {
        let e = self.log.entry(index).await?;
        let concerned = [Some(e.department.as_str()), e.provider.as_deref()];
        if !scope(actor, Action::ReadAudit).covers(concerned.into_iter().flatten()) {
            // Another department's entry does not exist for this actor.
            return Err(Denied {
                hide: true,
                ..Denied::new("NOT_FOUND", "审计条目不存在", "no such audit entry")
            }
            .into());
        }
        Ok(e)
    }

    /// Flows, volumes, channel shares and anomalies over the last `days` days.
    pub async fn flows(&self, actor: &Actor, days: i64) -> Result<FlowReport> {
        decide(actor, Action::ReadAudit, Target::Hub)?;
        self.caught_up().await;
        let since = beijing_days_ago(days.clamp(1, 366));
        let flows = self.store.audit_flows(&since).await?;
        let by_resource = self.store.audit_volumes(&since, false).await?;
        let by_principal = self.store.audit_volumes(&beijing_days_ago(7), true).await?;
        let channels = self.store.audit_channels(&since).await?;
        let total: i64 = channels.iter().map(|c| c.1).sum();
        let unified: i64 = channels
            .iter()
            .filter(|c| c.0 == "service")
            .map(|c| c.1)
            .sum();
        let today = beijing_days_ago(0)[..10].to_string();
        Ok(FlowReport {
            since,
            anomalies: anomalies(&by_principal, &today),
            flows,
            by_resource,
            by_principal,
            unified_share: if total == 0 {
                0.0
            } else {
                unified as f64 / total as f64
            },
            channels,
        })
    }

    /// A person's own record (个人数据使用记录): which department and system used their data,
    /// when and why. The person is identified upstream (the province's identity service, or
    /// the demo's simulated login); the view itself is audited.
    pub async fn personal_record(&self, person: &IdNumber) -> Result<Vec<PersonalUse>> {
        self.own_record(&person.to_string(), citizen(), "citizen.view_own_record")
            .await
    }

    /// An enterprise's own record (企业数据使用记录): which department and system used its data,
    /// when and why — as [`Traceability::personal_record`] for a person.
    pub async fn enterprise_record(&self, enterprise: &CreditCode) -> Result<Vec<PersonalUse>> {
        self.own_record(
            enterprise.as_str(),
            enterprise_visitor(),
            "enterprise.view_own_record",
        )
        .await
    }

    async fn own_record(&self, key: &str, viewer: Actor, view: &str) -> Result<Vec<PersonalUse>> {
        let subject = self.log.subject(key);
        self.caught_up().await;
        let rows = self
            .store
            .audit_search(&AuditFilter {
                subject: Some(subject.clone()),
                limit: 500,
                ..Default::default()
            })
            .await?;
        self.log
            .record(
                Entry::new(Kind::Access, view, &viewer)
                    .channel("console")
                    .subjects(vec![subject])
                    .rows(rows.len() as u64),
            )
            .await?;
        Ok(rows
            .into_iter()
            // The subject's own sign-ins and views are logged but are not uses of its data.
            .filter(|r| r.principal != viewer.principal)
            .map(|r| PersonalUse {
                at: r.at,
                department: r.department,
                principal: r.principal,
                action: r.action,
                resource: r.resource,
                purpose: r.purpose,
                index: r.idx,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(day: &str, key: &str, n: i64) -> AuditVolume {
        AuditVolume {
            day: day.into(),
            key: key.into(),
            accesses: n,
            rows: n,
        }
    }

    #[test]
    fn an_application_far_above_its_baseline_is_flagged() {
        let vols = vec![
            v("2026-11-20", "app:ybj", 100),
            v("2026-11-21", "app:ybj", 120),
            v("2026-11-22", "app:ybj", 900),
            v("2026-11-20", "app:mz", 100),
            v("2026-11-22", "app:mz", 130),
            v("2026-11-22", "app:new", 5000),
            v("2026-11-21", "app:small", 2),
            v("2026-11-22", "app:small", 20),
        ];
        let a = anomalies(&vols, "2026-11-22");
        assert_eq!(a.len(), 1, "{a:?}");
        assert_eq!(a[0].principal, "app:ybj");
        assert!((a[0].baseline - 110.0).abs() < 1e-9);
    }
}
