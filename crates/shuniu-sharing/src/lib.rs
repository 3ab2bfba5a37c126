//! Sharing (供需对接) and the unified data service (统一数据服务).
//!
//! - `workflow.rs`: demands (需求清单) and their satisfaction rate; sharing requests by share
//!   attribute (unconditional: the hub's compliance check grants at once; conditional: the
//!   provider decides within a deadline in working days, overdue requests escalate to the
//!   hub; not shared: refused at once citing the negative-list entry's legal basis); grants
//!   and their revocation. Every step is an event and an audit entry.
//! - `service.rs`: what a consuming system calls with its API key — lookup, verify,
//!   comparison jobs, the change feed, extracts — each decided by `shuniu_policy::grant`,
//!   limited by the grant's rate and quota, shaped by `CompiledGrant::project` and audited
//!   durably before it answers.
//! - `notifications.rs`: the hub's outbound notifications (indicator alerts) delivered from
//!   the outbox like webhooks.
//! - `webhooks.rs`: change subscriptions delivered with HMAC-SM3 signatures, retries with
//!   backoff, at-least-once, and a dead-letter list.
//! - `serving.rs`: the redb serving index and change log built from each dataset version.
//! - `directory.rs`: the hot path's in-memory view of applications, grants and usage.
//! - `calendar.rs`: working days with public holidays and make-up days.
//!
//! Architecture invariant: every entry point asks `shuniu_policy` (`decide` for the workflow,
//! `decide_service` for the service); every row that leaves goes through
//! `CompiledGrant::project`; reads datasets only through shuniu-lake (streamed) and the
//! serving index derived from it.

pub mod calendar;
pub mod directory;
pub mod egress;
pub mod error;
mod notifications;
mod profiles;
mod reviews;
mod service;
pub mod serving;
pub mod webhooks;
mod workflow;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use parking_lot::{Mutex, RwLock};
use shuniu_audit::AuditLog;
use shuniu_catalog::Catalog;
use shuniu_lake::Lake;
use shuniu_store::Store;
use shuniu_types::{DataItem, SemanticType};

pub use directory::Caller;
pub use error::{Result, SharingError};
pub use profiles::{LifeEvent, Profile, ProfileSection, RecordLink, Subject};
pub use reviews::{LinkReviewView, ReviewCandidate, ReviewField};
pub use service::*;
pub use serving::{BuildStats, ChangeOp, Cursor, Layout, ServingIndex};
pub use workflow::*;

use calendar::WorkCalendar;
use directory::Directory;

/// Settings of the sharing engine.
#[derive(Debug, Clone)]
pub struct SharingSettings {
    /// The data directory: the serving index lives under `serving/`, comparison jobs under
    /// `sharing/comparisons/`, the masking and webhook keys under `sharing/`.
    pub data_dir: PathBuf,
    /// Working days a provider has to decide a conditional request (the sharing measures say
    /// 5 working days; some cities say 10).
    pub decision_days: u32,
    /// The master key the masking and webhook keys are sealed under.
    pub keys: shuniu_keys::MasterKey,
    /// The data key sensitive cells are sealed with in the serving index (the lake's).
    pub cells: shuniu_keys::CellKey,
}

struct Inner {
    store: Store,
    catalog: Catalog,
    lake: Lake,
    audit: AuditLog,
    directory: Directory,
    serving_root: PathBuf,
    comparisons_dir: PathBuf,
    indexes: Mutex<HashMap<String, Arc<ServingIndex>>>,
    /// Each department's published resources, at most a second old (profiles consult them on
    /// every call).
    own_resources: Mutex<HashMap<String, Cached<Arc<Vec<String>>>>>,
    /// One index build at a time per process: builds are I/O bound and a second one would
    /// only slow both.
    build_lock: tokio::sync::Mutex<()>,
    calendar: RwLock<WorkCalendar>,
    masking_key: [u8; 32],
    cells: shuniu_keys::CellKey,
    webhook_key: [u8; 32],
    /// Hosts webhooks may reach although they resolve inside (the operator's allow-list).
    webhook_allow_hosts: RwLock<Vec<String>>,
    decision_days: u32,
}

/// A value and when it was read.
type Cached<T> = (std::time::Instant, T);

/// The sharing engine. Cheap to clone.
#[derive(Clone)]
pub struct Sharing {
    inner: Arc<Inner>,
}

/// Which column keys a resource's rows in the serving index: its key item, else its first
/// ID-number item, else its first credit-code item.
pub fn key_item(items: &[DataItem]) -> Option<usize> {
    items
        .iter()
        .position(|i| i.is_key)
        .or_else(|| {
            items
                .iter()
                .position(|i| i.semantic_type == SemanticType::IdNumber)
        })
        .or_else(|| {
            items
                .iter()
                .position(|i| i.semantic_type == SemanticType::CreditCode)
        })
}

fn layout_for(items: &[DataItem]) -> Option<Layout> {
    let key = key_item(items)?;
    let alternates = items
        .iter()
        .enumerate()
        .filter(|(i, it)| {
            *i != key
                && matches!(
                    it.semantic_type,
                    SemanticType::IdNumber
                        | SemanticType::CreditCode
                        | SemanticType::OrgCode
                        | SemanticType::RegistrationNumber
                )
        })
        .map(|(i, _)| i)
        .collect();
    Some(Layout {
        columns: items.iter().map(|i| i.name.clone()).collect(),
        key,
        alternates,
        sealed: items
            .iter()
            .enumerate()
            .filter(|(_, i)| i.sensitive)
            .map(|(n, _)| n)
            .collect(),
    })
}

impl Sharing {
    pub async fn open(
        store: Store,
        catalog: Catalog,
        lake: Lake,
        audit: AuditLog,
        settings: SharingSettings,
    ) -> Result<Sharing> {
        let sharing_dir = settings.data_dir.join("sharing");
        std::fs::create_dir_all(&sharing_dir)?;
        let secret = |name: &str| {
            settings
                .keys
                .secret_file(&sharing_dir.join(name))
                .map_err(|e| std::io::Error::other(e.to_string()))
        };
        let masking_key = secret("masking.key")?;
        let webhook_key = secret("webhook.key")?;
        let directory = Directory::load(store.clone()).await?;
        let days = store.calendar_days().await?;
        let calendar = WorkCalendar::with_overrides(
            days.iter()
                .map(|d| (d.day.as_str(), d.kind.as_str(), d.note.as_str())),
        );
        Ok(Sharing {
            inner: Arc::new(Inner {
                store,
                catalog,
                lake,
                audit,
                directory,
                serving_root: settings.data_dir.join("serving"),
                comparisons_dir: sharing_dir.join("comparisons"),
                indexes: Mutex::new(HashMap::new()),
                own_resources: Mutex::new(HashMap::new()),
                build_lock: tokio::sync::Mutex::new(()),
                calendar: RwLock::new(calendar),
                masking_key,
                webhook_key,
                cells: settings.cells,
                webhook_allow_hosts: RwLock::new(Vec::new()),
                decision_days: settings.decision_days.max(1),
            }),
        })
    }

    /// Hosts that webhooks may reach although they resolve to internal addresses (set from
    /// the configuration's `webhook_allow_hosts`).
    pub fn allow_webhook_hosts(&self, hosts: Vec<String>) {
        *self.inner.webhook_allow_hosts.write() = hosts
            .into_iter()
            .map(|h| h.trim().to_lowercase())
            .filter(|h| !h.is_empty())
            .collect();
    }

    pub(crate) fn webhook_allow_hosts(&self) -> Vec<String> {
        self.inner.webhook_allow_hosts.read().clone()
    }

    /// Starts the background work: directory refresh, usage flush, escalation of overdue
    /// requests, expiry of grants, serving-index catch-up and webhook deliveries.
    pub fn spawn_background(&self) -> tokio::task::JoinHandle<()> {
        let s = self.clone();
        tokio::spawn(async move {
            let mut tick = 0u64;
            loop {
                tokio::time::sleep(Duration::from_millis(500)).await;
                tick += 1;
                if let Err(e) = s.inner.directory.refresh_if_changed().await {
                    tracing::warn!(error = %e, "sharing directory refresh failed");
                }
                if tick.is_multiple_of(4)
                    && let Err(e) = s.inner.directory.flush_usage().await
                {
                    tracing::warn!(error = %e, "usage flush failed");
                }
                if tick.is_multiple_of(2)
                    && let Err(e) = s.run_webhooks().await
                {
                    tracing::warn!(error = %e, "webhook round failed");
                }
                if tick.is_multiple_of(2)
                    && let Err(e) = s.run_notifications().await
                {
                    tracing::warn!(error = %e, "notification round failed");
                }
                if tick % 1200 == 2
                    && let Err(e) = s.sync_all().await
                {
                    tracing::warn!(error = %e, "serving index catch-up failed");
                }
                if tick % 120 == 1
                    && let Err(e) = s.sweep().await
                {
                    tracing::warn!(error = %e, "escalation sweep failed");
                }
            }
        })
    }

    /// Folds each version committed by `commits` into its serving index as it arrives
    /// (loads by other processes are caught by the catch-up at start and every ten minutes, or `shuniu sharing index`).
    pub fn follow_commits(
        &self,
        mut commits: tokio::sync::broadcast::Receiver<(String, i64)>,
    ) -> tokio::task::JoinHandle<()> {
        let s = self.clone();
        tokio::spawn(async move {
            loop {
                match commits.recv().await {
                    Ok((code, _)) => {
                        if let Err(e) = s.sync_index(&code).await {
                            tracing::warn!(code, error = %e, "serving index update failed");
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        let _ = s.sync_all().await;
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                }
            }
        })
    }

    /// Writes usage counters now (tests and shutdown).
    pub async fn flush_usage(&self) -> Result<()> {
        self.inner.directory.flush_usage().await
    }

    /// Forgets cached applications and grants (after a change made by another engine).
    pub async fn invalidate(&self) -> Result<()> {
        self.inner.directory.reload().await
    }

    fn index(&self, code: &str) -> Result<Arc<ServingIndex>> {
        if let Some(i) = self.inner.indexes.lock().get(code) {
            return Ok(i.clone());
        }
        let idx = ServingIndex::open(
            &self.inner.serving_root,
            code,
            Some(self.inner.cells.clone()),
        )?;
        self.inner
            .indexes
            .lock()
            .insert(code.to_string(), idx.clone());
        Ok(idx)
    }

    /// Folds the resource's current dataset version into its serving index, if it is newer
    /// than what the index serves. Streams the version; returns what changed.
    pub async fn sync_index(&self, code: &str) -> Result<Option<BuildStats>> {
        let Some(version) = self.inner.lake.version(code).await? else {
            return Ok(None);
        };
        let rec = self
            .inner
            .store
            .resource(code)
            .await?
            .ok_or_else(|| SharingError::NotFound(format!("resource {code}")))?;
        let Some(layout) = layout_for(&rec.spec.data_items) else {
            return Ok(None);
        };
        let idx = self.index(code)?;
        if idx.version()?.is_some_and(|v| v >= version as u64) {
            return Ok(None);
        }
        let _guard = self.inner.build_lock.lock().await;
        if idx.version()?.is_some_and(|v| v >= version as u64) {
            return Ok(None);
        }
        let mut stream = self
            .inner
            .lake
            .stream_columns(code, version, &layout.columns, false)
            .await?;
        let (tx, mut rx) = tokio::sync::mpsc::channel(4);
        let feeder = tokio::spawn(async move {
            while let Some(b) = stream.next().await {
                if tx.send(b.map_err(SharingError::from)).await.is_err() {
                    break;
                }
            }
        });
        let build_idx = idx.clone();
        let stats = tokio::task::spawn_blocking(move || {
            build_idx.build(
                version as u64,
                &layout,
                std::iter::from_fn(move || rx.blocking_recv()),
            )
        })
        .await
        .map_err(|e| SharingError::Index(format!("index build panicked: {e}")))??;
        let _ = feeder.await;
        tracing::info!(
            code,
            version,
            rows = stats.rows,
            inserted = stats.inserted,
            updated = stats.updated,
            deleted = stats.deleted,
            "serving index updated"
        );
        Ok(Some(stats))
    }

    /// A resource's serving index brought up to its dataset's current version, for the hub's
    /// own derivations (base libraries), which ask the policy module and audit their reads
    /// themselves. `None` when the resource has no dataset or no key to index by. With the
    /// version the control plane last recorded (`loaded`), an index already there is not
    /// checked against the lake.
    pub async fn derivation_index(
        &self,
        code: &str,
        loaded: Option<i64>,
    ) -> Result<Option<Arc<ServingIndex>>> {
        let idx = self.index(code)?;
        let current = loaded.is_some_and(|v| idx.version().ok().flatten() >= Some(v.max(0) as u64));
        if !current {
            self.sync_index(code).await?;
        }
        Ok(idx.version()?.is_some().then_some(idx))
    }

    /// Brings every resource's serving index up to its dataset's current version.
    pub async fn sync_all(&self) -> Result<usize> {
        let mut n = 0;
        for code in self.inner.lake_codes().await? {
            if self.sync_index(&code).await?.is_some() {
                n += 1;
            }
        }
        Ok(n)
    }

    /// What a resource's serving index holds: version and rows.
    pub async fn index_status(&self, code: &str) -> Result<(Option<u64>, u64)> {
        let idx = self.index(code)?;
        Ok((idx.version()?, idx.rows()?))
    }

    /// Periodic housekeeping: escalate overdue requests, expire grants past their date.
    pub async fn sweep(&self) -> Result<()> {
        self.escalate_overdue().await?;
        self.expire_grants().await?;
        Ok(())
    }
}

impl Inner {
    /// Resources that have a dataset in the lake.
    async fn lake_codes(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for r in self
            .catalog
            .visible(&shuniu_types::Actor::local_operator())
            .await?
        {
            if r.status == shuniu_types::ResourceStatus::Published
                && self.lake.version(&r.code).await?.is_some()
            {
                out.push(r.code);
            }
        }
        Ok(out)
    }
}
