//! Names where records hold codes, and the one time format. Pages show a department as
//! 青岛市民政局 (with `370200MZ` as secondary text) and every instant in Beijing time as
//! `2026-12-06 12:34:56`; templates reach both through the functions `dept`, `who` and the
//! filter `when` registered in [`super::templates`].

use chrono::{DateTime, FixedOffset, NaiveDateTime, Utc};
use shuniu_auth::accounts::Names;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::Engines;
use std::time::{Duration, Instant};

/// How long names are trusted before the next page reads them again. Renames are rare and
/// the admin pages refresh at once after their own changes.
const FRESH_FOR: Duration = Duration::from_secs(30);

/// The names pages show, read from the accounts engine and refreshed when stale.
#[derive(Clone, Default)]
pub struct NameBook {
    inner: Arc<RwLock<Book>>,
}

#[derive(Default)]
struct Book {
    names: Names,
    /// Published catalog entries: code → name (what every signed-in user may read).
    resources: HashMap<String, String>,
    read_at: Option<Instant>,
}

impl NameBook {
    /// Reads the names again if they are older than [`FRESH_FOR`] (or were invalidated). A
    /// failed read keeps the names already known: a page never fails for want of a name.
    pub async fn refresh_if_stale(&self, engines: &Engines) {
        let stale = match self.inner.read() {
            Ok(g) => g.read_at.is_none_or(|at| at.elapsed() > FRESH_FOR),
            Err(_) => true,
        };
        if !stale {
            return;
        }
        let names = match engines.accounts.names().await {
            Ok(names) => names,
            Err(e) => return tracing::warn!(error = %e, "names could not be read"),
        };
        let resources = match engines
            .catalog
            .list(shuniu_catalog::ListKind::Aggregation)
            .await
        {
            Ok(list) => list.into_iter().map(|r| (r.code, r.spec.name)).collect(),
            Err(e) => return tracing::warn!(error = %e, "resource names could not be read"),
        };
        if let Ok(mut g) = self.inner.write() {
            *g = Book {
                names,
                resources,
                read_at: Some(Instant::now()),
            };
        }
    }

    /// After a department, user or application changes: the next page reads names again.
    pub fn invalidate(&self) {
        if let Ok(mut g) = self.inner.write() {
            g.read_at = None;
        }
    }

    pub fn department(&self, code: &str) -> Option<String> {
        self.inner.read().ok()?.names.departments.get(code).cloned()
    }

    /// A published resource's name.
    pub fn resource(&self, code: &str) -> Option<String> {
        self.inner.read().ok()?.resources.get(code).cloned()
    }

    /// A principal's name: a user's display name, an application's name, or a department's
    /// name for its systems (`dept:370200MZ`).
    pub fn principal(&self, principal: &str) -> Option<String> {
        let g = self.inner.read().ok()?;
        if let Some(n) = g.names.principals.get(principal) {
            return Some(n.clone());
        }
        let code = principal.strip_prefix("dept:")?;
        g.names.departments.get(code).cloned()
    }
}

pub(crate) fn beijing() -> FixedOffset {
    // UTC+8 all year (no daylight saving since 1991).
    FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| Utc.fix())
}

use chrono::Offset;
use chrono::TimeZone as _;

/// An instant as pages show it: Beijing time, `YYYY-MM-DD HH:MM:SS`. Accepts RFC 3339 with
/// any offset (the store writes UTC), and naive `YYYY-MM-DD HH:MM[:SS]` or `YYYY-MM-DDTHH:MM[:SS]`
/// which is taken as UTC. Dates alone (`YYYY-MM-DD`) and anything else pass through unchanged.
pub fn beijing_time(text: &str) -> String {
    let t = text.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return dt
            .with_timezone(&beijing())
            .format("%Y-%m-%d %H:%M:%S")
            .to_string();
    }
    for fmt in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(t, fmt) {
            return Utc
                .from_utc_datetime(&naive)
                .with_timezone(&beijing())
                .format("%Y-%m-%d %H:%M:%S")
                .to_string();
        }
    }
    t.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stored_form_becomes_one_beijing_format() {
        assert_eq!(
            beijing_time("2026-12-06T04:46:53.123Z"),
            "2026-12-06 12:46:53"
        );
        assert_eq!(
            beijing_time("2026-12-06T12:46:53+08:00"),
            "2026-12-06 12:46:53"
        );
        assert_eq!(beijing_time("2026-12-06T20:00:00Z"), "2026-12-07 04:00:00");
        assert_eq!(beijing_time("2026-12-06 04:46:53"), "2026-12-06 12:46:53");
        assert_eq!(beijing_time("2026-12-06"), "2026-12-06");
        assert_eq!(beijing_time("—"), "—");
        assert_eq!(beijing_time(""), "");
    }
}
