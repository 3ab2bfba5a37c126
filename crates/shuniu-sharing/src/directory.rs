//! What the hot path needs in memory: applications by key digest, resources, compiled
//! grants, rate limiters and today's usage. Loaded from the control plane and refreshed
//! when its sharing generation changes (checked twice a second), and invalidated at once by
//! this process's own changes, so a revocation here takes effect before the call returns.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{Quota, RateLimiter};
use parking_lot::{Mutex, RwLock};
use shuniu_policy::grant::{CompiledGrant, GrantTerms};
use shuniu_store::{GrantRow, ResourceRecord, Store, UsageRow};
use shuniu_types::Role;

use crate::error::{Result, SharingError};

/// A calling system, resolved from its API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub application: String,
    pub name: String,
    pub department: String,
    pub role: Role,
}

impl Caller {
    pub fn principal(&self) -> String {
        format!("app:{}", self.application)
    }
}

type Limiter = RateLimiter<
    governor::state::NotKeyed,
    governor::state::InMemoryState,
    DefaultClock,
    governor::middleware::NoOpMiddleware,
>;

/// Today's counters of one grant: what the store had at start plus what this process added
/// since (flushed every two seconds).
#[derive(Debug, Default)]
pub struct DayUsage {
    pub day: String,
    pub calls: AtomicU64,
    pub rows: AtomicU64,
    pub refused: AtomicU64,
    pub flushed_calls: AtomicU64,
    pub flushed_rows: AtomicU64,
    pub flushed_refused: AtomicU64,
}

pub(crate) struct GrantEntry {
    pub row: GrantRow,
    pub terms: GrantTerms,
}

#[derive(Default)]
struct Tables {
    /// API-key digest → caller (None: no such key or revoked, remembered to keep floods of
    /// bad keys off the store).
    callers: HashMap<String, Option<Caller>>,
    /// (application, resource) → grants, newest first.
    grants: HashMap<(String, String), Vec<Arc<GrantEntry>>>,
    /// grant id + resource version → compiled.
    compiled: HashMap<(String, i64), Arc<CompiledGrant>>,
    resources: HashMap<String, (Instant, Arc<ResourceRecord>)>,
    generation: String,
}

pub struct Directory {
    store: Store,
    tables: RwLock<Tables>,
    limiters: Mutex<HashMap<String, Arc<Limiter>>>,
    usage: RwLock<HashMap<String, Arc<DayUsage>>>,
    /// Yesterday's counters, kept until flushed.
    retired: Mutex<Vec<(String, Arc<DayUsage>)>>,
    /// One reload at a time: a slow reload that read the store before a revocation must not
    /// finish after the revocation's own reload and put the revoked grant back.
    reloading: tokio::sync::Mutex<()>,
}

pub fn beijing_day() -> String {
    let tz = chrono::FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| unreachable!());
    chrono::Utc::now()
        .with_timezone(&tz)
        .format("%Y-%m-%d")
        .to_string()
}

impl Directory {
    pub async fn load(store: Store) -> Result<Directory> {
        let d = Directory {
            store,
            tables: RwLock::new(Tables::default()),
            limiters: Mutex::new(HashMap::new()),
            usage: RwLock::new(HashMap::new()),
            retired: Mutex::new(Vec::new()),
            reloading: tokio::sync::Mutex::new(()),
        };
        d.reload().await?;
        let today = beijing_day();
        let mut usage = HashMap::new();
        for u in d.store.usage(&today).await? {
            if u.day == today {
                let e = DayUsage {
                    day: today.clone(),
                    ..Default::default()
                };
                e.calls.store(u.calls as u64, Ordering::Relaxed);
                e.rows.store(u.rows_out as u64, Ordering::Relaxed);
                e.refused.store(u.refused as u64, Ordering::Relaxed);
                e.flushed_calls.store(u.calls as u64, Ordering::Relaxed);
                e.flushed_rows.store(u.rows_out as u64, Ordering::Relaxed);
                e.flushed_refused.store(u.refused as u64, Ordering::Relaxed);
                usage.insert(u.grant_id.clone(), Arc::new(e));
            }
        }
        *d.usage.write() = usage;
        Ok(d)
    }

    /// Reloads grants and forgets cached callers and resources.
    pub async fn reload(&self) -> Result<()> {
        let _one_at_a_time = self.reloading.lock().await;
        let generation = self.store.sharing_generation().await?;
        let mut grants: HashMap<(String, String), Vec<Arc<GrantEntry>>> = HashMap::new();
        for row in self.store.grants().await? {
            let terms: GrantTerms = serde_json::from_value(row.terms.clone()).map_err(|e| {
                SharingError::Index(format!("grant {} has unreadable terms: {e}", row.id))
            })?;
            grants
                .entry((row.application_id.clone(), row.resource_code.clone()))
                .or_default()
                .push(Arc::new(GrantEntry { row, terms }));
        }
        let mut t = self.tables.write();
        t.grants = grants;
        t.compiled.clear();
        t.callers.clear();
        t.resources.clear();
        t.generation = generation;
        Ok(())
    }

    /// Reloads when another process (or another engine in this one) changed grants or
    /// applications.
    pub async fn refresh_if_changed(&self) -> Result<bool> {
        let generation = self.store.sharing_generation().await?;
        if generation != self.tables.read().generation {
            self.reload().await?;
            return Ok(true);
        }
        Ok(false)
    }

    pub async fn caller(&self, key: &str) -> Result<Option<Caller>> {
        if !key.starts_with(shuniu_auth::API_KEY_PREFIX) {
            return Ok(None);
        }
        let digest = shuniu_auth::token_digest(key);
        if let Some(c) = self.tables.read().callers.get(&digest) {
            return Ok(c.clone());
        }
        let caller = self
            .store
            .application_by_key_hash(&digest)
            .await?
            .filter(|a| a.revoked_at.is_none())
            .map(|a| Caller {
                application: a.id,
                name: a.name,
                department: a.department_code,
                role: a.role,
            });
        let mut t = self.tables.write();
        if t.callers.len() > 100_000 {
            t.callers.clear();
        }
        t.callers.insert(digest, caller.clone());
        Ok(caller)
    }

    /// The resource's record, at most a second old.
    pub async fn resource(&self, code: &str) -> Result<Arc<ResourceRecord>> {
        if let Some((at, r)) = self.tables.read().resources.get(code)
            && at.elapsed() < Duration::from_secs(1)
        {
            return Ok(r.clone());
        }
        let r = Arc::new(
            self.store
                .resource(code)
                .await?
                .ok_or_else(|| SharingError::NotFound(format!("resource {code}")))?,
        );
        self.tables
            .write()
            .resources
            .insert(code.to_string(), (Instant::now(), r.clone()));
        Ok(r)
    }

    /// The grant that decides this application's calls on this resource: the newest active
    /// one, else the newest (so that a refusal can say revoked or expired).
    pub fn grant(
        &self,
        application: &str,
        resource: &ResourceRecord,
    ) -> Result<Option<Arc<CompiledGrant>>> {
        let entry = {
            let t = self.tables.read();
            let Some(list) = t
                .grants
                .get(&(application.to_string(), resource.code.clone()))
            else {
                return Ok(None);
            };
            let e = list
                .iter()
                .find(|g| g.row.state.is_active())
                .or_else(|| list.first())
                .cloned();
            match e {
                Some(e) => {
                    if let Some(c) = t.compiled.get(&(e.row.id.clone(), resource.version)) {
                        return Ok(Some(c.clone()));
                    }
                    e
                }
                None => return Ok(None),
            }
        };
        let state = entry.row.state;
        let compiled = CompiledGrant::compile(
            &entry.row.id,
            &entry.row.resource_code,
            &entry.row.provider,
            &entry.row.consumer,
            &entry.row.application_id,
            state,
            &entry.terms,
            &resource.spec.data_items,
            resource.spec.level,
        )
        // Items renamed since the grant: the grant no longer applies as approved.
        .map_err(SharingError::Denied)?;
        let compiled = Arc::new(compiled);
        self.tables
            .write()
            .compiled
            .insert((entry.row.id.clone(), resource.version), compiled.clone());
        Ok(Some(compiled))
    }

    /// Every grant row an application holds.
    pub fn grants_of(&self, application: &str) -> Vec<GrantRow> {
        let t = self.tables.read();
        t.grants
            .iter()
            .filter(|((a, _), _)| a == application)
            .flat_map(|(_, v)| v.iter().map(|g| g.row.clone()))
            .collect()
    }

    /// The (application, resource) pairs a department's applications hold active grants for.
    pub fn active_grants_of_department(&self, department: &str) -> Vec<(String, String)> {
        let t = self.tables.read();
        let mut out: Vec<(String, String)> = t
            .grants
            .iter()
            .filter(|(_, v)| {
                v.iter()
                    .any(|g| g.row.state.is_active() && g.row.consumer.eq(department))
            })
            .map(|(k, _)| k.clone())
            .collect();
        out.sort();
        out
    }

    /// Takes one call (and `rows` rows) from the grant's rate limit and daily quota.
    pub fn admit(&self, g: &CompiledGrant, rows: u64) -> Result<()> {
        let limiter = {
            let mut l = self.limiters.lock();
            let key = format!("{}:{}", g.id, g.rate_per_second);
            l.entry(key)
                .or_insert_with(|| {
                    let n = NonZeroU32::new(g.rate_per_second.max(1)).unwrap_or(NonZeroU32::MIN);
                    Arc::new(RateLimiter::direct(Quota::per_second(n)))
                })
                .clone()
        };
        let usage = self.usage_of(&g.id);
        if let Err(not_until) = limiter.check() {
            usage.refused.fetch_add(1, Ordering::Relaxed);
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            return Err(SharingError::Limited {
                code: "RATE_LIMITED",
                retry_after: wait.as_secs().max(1),
                zh: format!("超过授权的调用频率（每秒 {} 次）", g.rate_per_second),
                en: format!(
                    "past the grant's rate limit of {} calls per second",
                    g.rate_per_second
                ),
            });
        }
        let calls = usage.calls.fetch_add(1, Ordering::Relaxed) + 1;
        let used_rows = usage.rows.load(Ordering::Relaxed);
        if calls > g.calls_per_day || used_rows + rows > g.rows_per_day {
            usage.calls.fetch_sub(1, Ordering::Relaxed);
            usage.refused.fetch_add(1, Ordering::Relaxed);
            return Err(SharingError::Limited {
                code: "QUOTA_EXCEEDED",
                retry_after: seconds_to_beijing_midnight(),
                zh: format!(
                    "已用完今日配额（每日 {} 次、{} 行）",
                    g.calls_per_day, g.rows_per_day
                ),
                en: format!(
                    "today's quota of {} calls and {} rows is used up",
                    g.calls_per_day, g.rows_per_day
                ),
            });
        }
        Ok(())
    }

    /// Counts rows handed out (after the call, when the number is known).
    pub fn count_rows(&self, grant: &str, rows: u64) {
        self.usage_of(grant).rows.fetch_add(rows, Ordering::Relaxed);
    }

    /// Counts a refused call (no grant, not in scope …) against the grant, if any.
    pub fn count_refusal(&self, grant: &str) {
        self.usage_of(grant).refused.fetch_add(1, Ordering::Relaxed);
    }

    fn usage_of(&self, grant: &str) -> Arc<DayUsage> {
        let today = beijing_day();
        if let Some(u) = self.usage.read().get(grant)
            && u.day == today
        {
            return u.clone();
        }
        let mut w = self.usage.write();
        let e = w.entry(grant.to_string()).or_default();
        if e.day != today {
            // A new day: yesterday's counters are flushed under their own day.
            if !e.day.is_empty() {
                self.retired.lock().push((grant.to_string(), e.clone()));
            }
            *e = Arc::new(DayUsage {
                day: today,
                ..Default::default()
            });
        }
        e.clone()
    }

    /// Today's totals per grant (calls, rows, refused).
    pub fn usage_today(&self) -> HashMap<String, (u64, u64, u64)> {
        self.usage
            .read()
            .iter()
            .map(|(g, u)| {
                (
                    g.clone(),
                    (
                        u.calls.load(Ordering::Relaxed),
                        u.rows.load(Ordering::Relaxed),
                        u.refused.load(Ordering::Relaxed),
                    ),
                )
            })
            .collect()
    }

    /// Writes what changed since the last flush to the store.
    pub async fn flush_usage(&self) -> Result<()> {
        let mut all: Vec<(String, Arc<DayUsage>)> = std::mem::take(&mut *self.retired.lock());
        all.extend(
            self.usage
                .read()
                .iter()
                .map(|(g, u)| (g.clone(), u.clone())),
        );
        for (grant, u) in all {
            let calls = u.calls.load(Ordering::Relaxed);
            let rows = u.rows.load(Ordering::Relaxed);
            let refused = u.refused.load(Ordering::Relaxed);
            let dc = calls.saturating_sub(u.flushed_calls.load(Ordering::Relaxed));
            let dr = rows.saturating_sub(u.flushed_rows.load(Ordering::Relaxed));
            let df = refused.saturating_sub(u.flushed_refused.load(Ordering::Relaxed));
            if dc == 0 && dr == 0 && df == 0 {
                continue;
            }
            self.store
                .add_usage(&UsageRow {
                    grant_id: grant,
                    day: u.day.clone(),
                    calls: dc as i64,
                    rows_out: dr as i64,
                    refused: df as i64,
                })
                .await?;
            u.flushed_calls.fetch_add(dc, Ordering::Relaxed);
            u.flushed_rows.fetch_add(dr, Ordering::Relaxed);
            u.flushed_refused.fetch_add(df, Ordering::Relaxed);
        }
        Ok(())
    }
}

fn seconds_to_beijing_midnight() -> u64 {
    let now = chrono::Utc::now().timestamp() + 8 * 3600;
    (86_400 - now.rem_euclid(86_400)).max(1) as u64
}
